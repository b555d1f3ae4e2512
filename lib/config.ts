/**
 * Server configuration: one plain object built from defaults, CLI flags or
 * the in-process API (`mod.ts`).
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import type { TlsConfig } from "./tls.ts";

/** Everything the server needs to know to start. */
export interface Config {
  /** TCP port; 0 picks a free one. -1 disables TCP (unix socket only). */
  port: number;
  /** Interface to bind (`-l`). */
  listen: string;
  /** Memory limit for items, in MiB (`-m`). */
  memoryLimitMb: number;
  /** Maximum simultaneous connections (`-c`). */
  maxConnections: number;
  /** Largest item in bytes (`-I`). */
  maxItemSize: number;
  /** Slab growth factor (`-f`). */
  growthFactor: number;
  /** 0 quiet, 1 connections (`-v`), 2 commands (`-vv`). */
  verbose: number;
  /** Serve one connection, then exit (`--single`). */
  single: boolean;
  /** Close connections idle this many seconds; 0 = never (`-o idle_timeout`). */
  idleTimeout: number;
  /** Unix socket path (`-s`); when set, TCP is off unless a port was given. */
  unixSocket: string | null;
  /** Permission mask of the unix socket (`-a`, octal). */
  unixMask: number;
  /** Allow the `shutdown` command (`-A`). */
  enableShutdown: boolean;
  /** Refuse `flush_all` (`-F`). */
  disableFlush: boolean;
  /**
   * Connection buffer budget in MiB (`--conn-memory`, `-o conn_memory`):
   * input being read, replies queued and TLS buffers of all connections;
   * 0 = the default of lib/budget.ts (10% of `-m`, with a floor).
   */
  connMemoryMb: number;
  /** Refuse `stats cachedump` (`-X`, memcached's --disable-dumping). */
  disableDumping?: boolean;
  /** Stop reading from a client whose unsent replies exceed this many bytes. */
  maxOutputBytes: number;
  /**
   * Transport for plain TCP and the unix socket (`--io`): "auto" (epoll
   * where it can run, i.e. Linux with `--allow-ffi`, else portable),
   * "portable" (Deno sockets) or "epoll" (FFI, refused where it cannot run).
   */
  io: "auto" | "portable" | "epoll";
  /** Time source (tests inject a manual clock). */
  clock: Clock;
  /** TLS (`-Z`, `-o ssl_chain_cert=,ssl_key=`); null = plain TCP only. */
  tls: TlsConfig | null;
  /**
   * ASCII auth (`-Y`): checks `user`/`password` in constant time; null =
   * authentication off.
   */
  auth: ((user: Uint8Array, pass: Uint8Array) => boolean) | null;
  /**
   * Protocols served (`-B`): `auto` picks per connection by its first byte
   * (0x80 = binary), as memcached's default.
   */
  protocol: "auto" | "ascii" | "binary";
  /**
   * SASL PLAIN over the binary protocol (`-S`): checks `user`/`password` in
   * constant time; null = SASL off.
   */
  sasl: ((user: Uint8Array, pass: Uint8Array) => boolean) | null;
  /** HTTP metrics listener (`--metrics=HOST:PORT`); null = off. */
  metrics: MetricsAddress | null;
  /**
   * Event loops (`-t`): 1 serves everything from the main thread; N > 1
   * runs the main thread's loop and N − 1 Workers over one shared store
   * (lib/server/cluster.ts).
   */
  threads: number;
  /**
   * `threads` is the command line's default ({@link defaultThreads}), not
   * the user's: where several loops cannot run, one serves without a note.
   */
  threadsAuto: boolean;
}

/** Where the metrics listener binds. */
export interface MetricsAddress {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Simultaneous HTTP connections; past it a client gets 503 and is closed. */
  maxConnections: number;
}

/** memcached's defaults, with our own for what memcached does not have. */
export function defaultConfig(): Config {
  return {
    port: 11211,
    listen: "127.0.0.1",
    memoryLimitMb: 64,
    maxConnections: 1024,
    maxItemSize: 1024 * 1024,
    growthFactor: 1.25,
    verbose: 0,
    single: false,
    idleTimeout: 0,
    unixSocket: null,
    unixMask: 0o700,
    enableShutdown: false,
    disableFlush: false,
    connMemoryMb: 0,
    maxOutputBytes: 4 * 1024 * 1024,
    io: "auto",
    clock: systemClock,
    tls: null,
    auth: null,
    protocol: "auto",
    sasl: null,
    metrics: null,
    threads: 1,
    threadsAuto: false,
  };
}

/**
 * The command line's `-t` when none is given: memcached's 4, capped at the
 * CPUs this process may run on (its affinity and cgroup quota, as Deno's
 * `navigator.hardwareConcurrency` reports them).
 */
export function defaultThreads(): number {
  const cpus = Math.floor(globalThis.navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(4, cpus));
}
