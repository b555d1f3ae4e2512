/**
 * denocached as a library: start a real memcached-compatible server inside
 * your own Deno process, e.g. as a test fixture.
 *
 * ```ts
 * import { startServer } from "./mod.ts";
 * const server = await startServer({ port: 0, memoryLimitMb: 16 });
 * // connect any memcached client to 127.0.0.1:server.port
 * await server.close();
 * ```
 * @module
 */

import { type Clock, clockBuffer } from "./lib/clock.ts";
import { type Config, defaultConfig } from "./lib/config.ts";
import { createAuthStore, type Credential } from "./lib/authfile.ts";
import {
  type ServerHooks,
  startServers as start,
} from "./lib/server/server.ts";
import { attachMetrics } from "./lib/metrics/hooks.ts";
import { DEFAULT_METRICS_CONNECTIONS } from "./lib/metrics/limits.ts";
import type { Context } from "./lib/protocol/context.ts";
import { totalCounters } from "./lib/protocol/shared_counters.ts";

export type { Clock, ManualClock } from "./lib/clock.ts";
export { manualClock } from "./lib/clock.ts";

/** Options of {@link startServer}; every field is optional. */
export interface ServerOptions {
  /** TCP port; 0 (the default here) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  hostname?: string;
  /** Item memory in MiB; default 64. */
  memoryLimitMb?: number;
  /** Largest item in bytes; default 1 MiB. */
  maxItemSize?: number;
  /** Maximum simultaneous connections; default 1024. */
  maxConnections?: number;
  /** Unix socket path to serve instead of TCP. */
  unixSocket?: string;
  /** Close connections idle this many seconds (0 = never). */
  idleTimeout?: number;
  /** Allow the `shutdown` command. */
  enableShutdown?: boolean;
  /** Time source; inject a manual clock to test expiry without sleeping. */
  clock?: Clock;
  /**
   * memcached's ASCII authentication (`-Y`): user → password. Clients must
   * authenticate before any other command.
   */
  users?: Record<string, string>;
  /** Serve TLS on the port with this PEM certificate chain and key (`-Z`). */
  tls?: { cert: string; key: string };
  /**
   * Protocols served (`-B`): `auto` (default) decides per connection by its
   * first byte, `ascii` is text and meta only, `binary` the binary protocol
   * only. `users` implies `ascii` and `sasl` implies `binary`.
   */
  protocol?: "auto" | "ascii" | "binary";
  /**
   * SASL PLAIN authentication over the binary protocol (`-S`): user →
   * password. Binary clients must authenticate first; text is refused.
   */
  sasl?: Record<string, string>;
  /**
   * Transport for plain TCP and the unix socket: "portable" (default here,
   * `Deno.listen`) or "epoll" (Linux, needs `--allow-ffi`; TLS is still
   * served by the portable transport beside it).
   */
  io?: "portable" | "epoll";
  /**
   * Also serve `/metrics`, `/`, `/healthz` and `/stats.json` over HTTP
   * (`--metrics`): port 0 (the default here) picks a free one, hostname
   * defaults to 127.0.0.1.
   */
  metrics?: { port?: number; hostname?: string; maxConnections?: number };
  /**
   * Event loops (`-t`): 1 (the default) serves from this thread; N > 1
   * starts N Workers over one shared store. They need the epoll transport
   * (`io` defaults to "epoll" then), `--allow-read`, and the system clock
   * or a {@link manualClock} (its time is shared with the loops); where they
   * cannot run, one line on stderr says so and one loop serves.
   */
  threads?: number;
}

function entries(users: Record<string, string>): Credential[] {
  const enc = new TextEncoder();
  return Object.entries(users).map(([user, password]) => ({
    user: enc.encode(user),
    pass: enc.encode(password),
  }));
}

function credentials(users: Record<string, string>) {
  return createAuthStore(entries(users)).check;
}

/** A server running in this process. */
export interface RunningServer {
  /** The TCP port it listens on. */
  readonly port: number;
  /** The address it is bound to. */
  readonly hostname: string;
  /**
   * Internal state (store, counters), for assertions in tests; not a
   * stable API, hence left out of the documentation.
   * @ignore
   */
  readonly ctx: Context;
  /** Port of the metrics listener; 0 when `metrics` was not asked for. */
  readonly metricsPort: number;
  /** Stops the server; resolves when every connection is closed. */
  close(): Promise<void>;
  /** `await using server = await startServer()` closes it at scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** An option of {@link startServer} is out of range (as the CLI would refuse it). */
export class InvalidOptionError extends RangeError {}

function checkInt(
  name: string,
  v: number | undefined,
  min: number,
  max: number,
) {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InvalidOptionError(
      `${name}: must be an integer between ${min} and ${max}, got ${v}`,
    );
  }
}

/**
 * Starts a denocached server in this process. Rejects (never throws) when
 * it cannot listen, e.g. the port is taken or a permission is missing.
 */
export async function startServer(
  opts: ServerOptions = {},
): Promise<RunningServer> {
  const config = configFrom(opts);
  const users = opts.users && entries(opts.users);
  const sasl = opts.sasl && entries(opts.sasl);
  const hooks: ServerHooks = {};
  const metrics = config.metrics !== null
    ? attachMetrics(config.metrics, hooks)
    : null;
  let s;
  try {
    s = await start(config, hooks, {
      workerUrl: new URL("./lib/server/loop_worker.ts", import.meta.url).href,
      auth: users,
      sasl: sasl,
    });
  } catch (e) {
    await metrics?.close(); // opened before the cache port failed to bind
    throw e;
  }
  return {
    port: s.port,
    hostname: s.hostname,
    ctx: config.threads > 1 ? summed(s.ctx) : s.ctx,
    metricsPort: metrics?.server()?.port ?? 0,
    close: () => s.close(),
    [Symbol.asyncDispose]: () => s.close(),
  };
}

/**
 * With several loops: the main thread's context whose `counters` reads the
 * sum over every loop (each loop counts only its own clients).
 */
function summed(ctx: Context): Context {
  return Object.create(ctx, {
    counters: { get: () => totalCounters(ctx.counters) },
  });
}

function configFrom(opts: ServerOptions): Config {
  checkInt("port", opts.port, 0, 65535);
  checkInt("memoryLimitMb", opts.memoryLimitMb, 1, 1 << 20);
  checkInt("maxConnections", opts.maxConnections, 1, 1 << 20);
  checkInt("maxItemSize", opts.maxItemSize, 1024, 1024 ** 3);
  checkInt("idleTimeout", opts.idleTimeout, 0, 1 << 30);
  checkInt("threads", opts.threads, 1, 1024);
  if (
    (opts.threads ?? 1) > 1 && opts.clock !== undefined &&
    clockBuffer(opts.clock) === null
  ) {
    throw new InvalidOptionError("clock: with threads, use manualClock()");
  }
  if (
    (opts.maxItemSize ?? 1024 * 1024) >
      (opts.memoryLimitMb ?? 64) * 1024 * 1024 / 2
  ) {
    throw new InvalidOptionError(
      "maxItemSize: cannot be higher than 1/2 of memoryLimitMb",
    );
  }
  const config = defaultConfig();
  config.port = opts.port ?? 0;
  if (opts.hostname !== undefined) config.listen = opts.hostname;
  if (opts.memoryLimitMb !== undefined) {
    config.memoryLimitMb = opts.memoryLimitMb;
  }
  if (opts.maxItemSize !== undefined) config.maxItemSize = opts.maxItemSize;
  if (opts.maxConnections !== undefined) {
    config.maxConnections = opts.maxConnections;
  }
  if (opts.unixSocket !== undefined) {
    config.unixSocket = opts.unixSocket;
    if (opts.port === undefined) config.port = -1;
  }
  if (opts.idleTimeout !== undefined) config.idleTimeout = opts.idleTimeout;
  if (opts.enableShutdown !== undefined) {
    config.enableShutdown = opts.enableShutdown;
  }
  if (opts.clock !== undefined) config.clock = opts.clock;
  const protocol = opts.protocol ?? "auto";
  if (opts.users !== undefined && opts.sasl !== undefined) {
    throw new TypeError("users (ASCII auth) and sasl cannot be combined");
  }
  if (opts.users !== undefined) {
    if (protocol === "binary") {
      throw new TypeError("users (ASCII auth) needs the ascii protocol");
    }
    config.auth = credentials(opts.users);
    config.protocol = "ascii";
  } else if (opts.sasl !== undefined) {
    if (opts.protocol !== undefined && protocol !== "binary") {
      throw new TypeError("sasl needs the binary protocol");
    }
    config.sasl = credentials(opts.sasl);
    config.protocol = "binary";
  } else config.protocol = protocol;
  if (opts.tls !== undefined) {
    config.tls = { cert: opts.tls.cert, key: opts.tls.key, port: null };
  }
  config.threads = opts.threads ?? 1;
  config.io = opts.io ?? (config.threads > 1 ? "epoll" : "portable");
  if (opts.metrics !== undefined) {
    config.metrics = {
      hostname: opts.metrics.hostname ?? "127.0.0.1",
      port: opts.metrics.port ?? 0,
      maxConnections: opts.metrics.maxConnections ??
        DEFAULT_METRICS_CONNECTIONS,
    };
  }
  return config;
}
