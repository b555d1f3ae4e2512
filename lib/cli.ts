/**
 * Command-line flags, memcached-compatible: the same short flags, long
 * forms, and the same meaning, so existing memcached command lines run.
 * Flags that make no sense here are accepted with a note on stderr.
 * @module
 */

import { parseArgs } from "node:util";
import { type Config, defaultConfig, defaultThreads } from "./config.ts";
import { unsupportedReason as epollUnsupported } from "./server/ffi/libc.ts";
import { parseMetricsAddress } from "./metrics/address.ts";
import { type ListenAddr, type ListenProto, parseListen } from "./listen.ts";

/** denocached's own version (`-V` also prints the protocol version). */
export const DENOCACHED_VERSION = "0.1.0";

/** Exit code for bad usage (sysexits EX_USAGE, as memcached). */
export const EX_USAGE = 64;

/** What the command line asks for. */
export interface CliResult {
  action: "run" | "help" | "version" | "probe" | "license";
  /** `--probe HOST:PORT`: the address to check. */
  probe?: string;
  config: Config;
  /** One-line notes for flags accepted without effect. */
  notes: string[];
  /** Extra options for features layered on top (`-o`, TLS, auth, snapshot). */
  extra: CliExtra;
}

/** Options consumed by optional features. */
export interface CliExtra {
  /** `-Y` file of `user:password` lines. */
  authFile: string | null;
  /** `-Z`: serve TLS. */
  tls: boolean;
  /** `-o ssl_chain_cert=` */
  sslChainCert: string | null;
  /** `-o ssl_key=` */
  sslKey: string | null;
  /** `-o ssl_port=` (ours): TLS on this port, plain TCP stays on `-p`. */
  sslPort: number | null;
  /** `--snapshot FILE` */
  snapshot: string | null;
  /** `--snapshot-interval SECONDS` (0 = only at exit) */
  snapshotInterval: number;
  /** `-S`: SASL authentication over the binary protocol. */
  sasl: boolean;
  /** `--sasl-pwdb FILE` or MEMCACHED_SASL_PWDB: `user:password` lines. */
  saslPwdb: string | null;
  /** `-P FILE`: write the pid there (removed on a graceful exit). */
  pidFile: string | null;
  /** `-d`: run in the background. */
  daemon: boolean;
  /** Internal: this process is the background server `-d` started. */
  daemonized: boolean;
  /** `-u USER`: drop root to USER once the listeners are bound. */
  user: string | null;
}

/** The `-i` text. */
export const LICENSE = `denocached ${DENOCACHED_VERSION}: MIT License.
It speaks the protocol of memcached, which is BSD-licensed
(Copyright (c) 2003, Danga Interactive, Inc.); no memcached code is included.
`;

/** A usage error: print the message and exit with {@link EX_USAGE}. */
export class UsageError extends Error {}

/** The `-h` text. */
export const HELP = `denocached — a memcached-compatible server for Deno

Usage: denocached [options]

  -p, --port=<num>             TCP port to listen on (default: 11211, 0 = any)
  -l, --listen=<addr>          interfaces to listen on, comma separated, each
                               [notls:][proto[P]:][tag[T]:]HOST[:PORT]
                               (IPv6 as [::1]:PORT; notls: plain TCP there
                               with -Z; P = ascii, binary or negotiating
                               there instead of -B; default: 127.0.0.1;
                               use 0.0.0.0 in containers)
  -s, --unix-socket=<file>     UNIX socket to listen on (disables TCP)
  -a, --unix-mask=<mask>       access mask for the UNIX socket, octal (default: 0700)
  -m, --memory-limit=<num>     item memory in megabytes (default: 64)
  -c, --conn-limit=<num>       max simultaneous connections (default: 1024)
  -I, --max-item-size=<num>    max item size, e.g. 1m, 512k (default: 1m)
  -f, --slab-growth-factor=<n> chunk size growth factor (default: 1.25)
  -A, --enable-shutdown        enable the "shutdown" command
  -X, --disable-dumping        disable "stats cachedump"
  -F, --disable-flush-all      disable the "flush_all" command
  -Y, --auth-file=<file>       require ASCII authentication (user:password lines)
  -Z, --enable-ssl             serve TLS (with -o ssl_chain_cert=,ssl_key=)
  -S, --enable-sasl            require SASL PLAIN authentication (binary
                               protocol); users from --sasl-pwdb or the file
                               named by MEMCACHED_SASL_PWDB
      --sasl-pwdb=<file>       SASL users, one user:password per line
  -B, --protocol=<name>        auto (default), ascii or binary
  -o, --extended=<opts>        comma separated: idle_timeout=<secs>,
                               ssl_chain_cert=<file>, ssl_key=<file>,
                               ssl_port=<num> (TLS there, plain on -p),
                               conn_memory=<MB> (as --conn-memory)
      --conn-memory=<MB>       memory for connection buffers (input being
                               read, replies queued, TLS), beside -m
                               (default: 10% of -m, at least 64)
      --metrics=<[host:]port>  serve /metrics (Prometheus), a status page,
                               /healthz and /stats.json over HTTP there
                               (host default 127.0.0.1; memcached_exporter
                               uses 9150); also -o metrics=, metrics_max_conns=
      --snapshot=<file>        save items on exit, load them at start
      --snapshot-interval=<s>  also save every <s> seconds
  -d, --daemon                 run in the background (--allow-run or --allow-ffi)
  -P, --pidfile=<file>         write the pid there; removed on a clean exit
  -u, --user=<user>            when started as root, become <user> once the
                               listeners are bound (needs --allow-ffi)
      --probe=<host:port|path> send "version" to a running server; exit 0
                               if it answers, 1 if not (health checks)
      --single                 serve one connection, then exit (profiling)
      --io=<auto|portable|epoll>  transport (default: auto = epoll on
                               Linux x86_64/aarch64 with --allow-ffi, else
                               portable); TLS is always served portably
  -t, --threads=<num>          event loops over one shared store (default:
                               4, at most the CPUs usable; more than 1 needs
                               --allow-read and the epoll transport)
  -v, --verbose                print connection events (-vv: also commands)
  -V, --version                print version and exit
  -i, --license                print the license and exit
  -h, --help                   print this help and exit

Accepted for compatibility, without effect (a note on stderr):
-U 0, -k, -r, -R <num>, -C, -b <num>, -L, -M, -n <size>, -D <char>, -W,
-e <file> (use --snapshot), -N <num>.
`;

function parseSize(v: string, flag: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v);
  if (!m) throw new UsageError(`${flag}: invalid size '${v}'`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    m[2].toLowerCase() as "" | "k" | "m" | "g"
  ];
  return Number(m[1]) * mult;
}

function parseIntFlag(
  v: string,
  flag: string,
  min: number,
  max: number,
): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${flag}: not a number: '${v}'`);
  const n = Number(v);
  if (n < min || n > max) {
    throw new UsageError(`${flag}: must be between ${min} and ${max}`);
  }
  return n;
}

/** Every flag, as `node:util` parseArgs takes them. */
const OPTIONS = {
  port: { type: "string", short: "p" },
  listen: { type: "string", short: "l" },
  "unix-socket": { type: "string", short: "s" },
  "unix-mask": { type: "string", short: "a" },
  "memory-limit": { type: "string", short: "m" },
  "conn-limit": { type: "string", short: "c" },
  "max-item-size": { type: "string", short: "I" },
  "slab-growth-factor": { type: "string", short: "f" },
  "enable-shutdown": { type: "boolean", short: "A" },
  "disable-flush-all": { type: "boolean", short: "F" },
  "auth-file": { type: "string", short: "Y" },
  "enable-ssl": { type: "boolean", short: "Z" },
  "enable-sasl": { type: "boolean", short: "S" },
  "sasl-pwdb": { type: "string" },
  extended: { type: "string", short: "o", multiple: true },
  snapshot: { type: "string" },
  metrics: { type: "string" },
  "snapshot-interval": { type: "string" },
  "conn-memory": { type: "string" },
  single: { type: "boolean" },
  io: { type: "string" },
  verbose: { type: "boolean", short: "v", multiple: true },
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
  daemon: { type: "boolean", short: "d" },
  user: { type: "string", short: "u" },
  threads: { type: "string", short: "t" },
  "udp-port": { type: "string", short: "U" },
  pidfile: { type: "string", short: "P" },
  "lock-memory": { type: "boolean", short: "k" },
  "enable-coredumps": { type: "boolean", short: "r" },
  "max-reqs-per-event": { type: "string", short: "R" },
  "disable-cas": { type: "boolean", short: "C" },
  "listen-backlog": { type: "string", short: "b" },
  protocol: { type: "string", short: "B" },
  "enable-largepages": { type: "boolean", short: "L" },
  "disable-evictions": { type: "boolean", short: "M" },
  daemonized: { type: "boolean" },
  probe: { type: "string" },
  license: { type: "boolean", short: "i" },
  "slab-min-size": { type: "string", short: "n" },
  "stat-prefix": { type: "string", short: "D" },
  "disable-dumping": { type: "boolean", short: "X" },
  "disable-watch": { type: "boolean", short: "W" },
  "memory-file": { type: "string", short: "e" },
  "napi-ids": { type: "string", short: "N" },
} as const;

/** Short flags that take a value (e.g. `p` for `-p 11211`). */
export const SHORT_WITH_VALUE: ReadonlySet<string> = new Set(
  Object.values(OPTIONS).flatMap((o) =>
    o.type === "string" && "short" in o ? [o.short] : []
  ),
);

/** Parses `args` into a configuration; throws {@link UsageError}. */
export function parseCli(args: string[]): CliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: OPTIONS,
    });
  } catch (e) {
    // node's parseArgs explains some errors over several lines (e.g.
    // `-m -5`); the first line says what is wrong, and one line is clearer.
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  const v = parsed.values;
  const config = defaultConfig();
  const notes: string[] = [];
  const extra: CliExtra = {
    authFile: null,
    tls: false,
    sslChainCert: null,
    sslKey: null,
    sslPort: null,
    snapshot: null,
    snapshotInterval: 0,
    sasl: false,
    saslPwdb: null,
    pidFile: v.pidfile ?? null,
    daemon: v.daemon ?? false,
    daemonized: v.daemonized ?? false,
    user: v.user ?? null,
  };
  if (v.help) return { action: "help", config, notes, extra };
  if (v.version) return { action: "version", config, notes, extra };
  if (v.license) return { action: "license", config, notes, extra };
  if (v.probe !== undefined) {
    return { action: "probe", probe: v.probe, config, notes, extra };
  }
  if (v.port !== undefined) config.port = parseIntFlag(v.port, "-p", 0, 65535);
  if (v["unix-socket"] !== undefined) {
    config.unixSocket = v["unix-socket"];
    if (v.port === undefined) config.port = -1;
  }
  if (v["unix-mask"] !== undefined) {
    if (!/^[0-7]{1,4}$/.test(v["unix-mask"])) {
      throw new UsageError(`-a: invalid octal mask '${v["unix-mask"]}'`);
    }
    config.unixMask = parseInt(v["unix-mask"], 8);
  }
  if (v["memory-limit"] !== undefined) {
    config.memoryLimitMb = parseIntFlag(v["memory-limit"], "-m", 1, 1 << 20);
  }
  if (v["conn-limit"] !== undefined) {
    config.maxConnections = parseIntFlag(v["conn-limit"], "-c", 1, 1 << 20);
  }
  if (v["max-item-size"] !== undefined) {
    const n = parseSize(v["max-item-size"], "-I");
    if (n < 1024) throw new UsageError("-I: item size must be at least 1k");
    if (n > 1024 ** 3) throw new UsageError("-I: item size cannot exceed 1g");
    config.maxItemSize = n;
  }
  if (config.maxItemSize > config.memoryLimitMb * 1024 * 1024 / 2) {
    throw new UsageError(
      "-I: cannot set item size limit higher than 1/2 of memory max",
    );
  }
  if (v["slab-growth-factor"] !== undefined) {
    const f = Number(v["slab-growth-factor"]);
    if (!(f > 1 && f <= 4)) {
      throw new UsageError("-f: factor must be greater than 1 and at most 4");
    }
    config.growthFactor = f;
  }
  config.enableShutdown = v["enable-shutdown"] ?? false;
  config.disableFlush = v["disable-flush-all"] ?? false;
  config.single = v.single ?? false;
  if (v.io !== undefined) {
    if (v.io !== "portable" && v.io !== "epoll" && v.io !== "auto") {
      throw new UsageError(
        `--io: expected auto, portable or epoll, got '${v.io}'`,
      );
    }
    const why = v.io === "epoll" ? epollUnsupported() : null;
    if (why) notes.push(`--io=epoll ${why}; using --io=portable`);
    else config.io = v.io;
  }
  config.verbose = Math.min(2, v.verbose?.length ?? 0);
  const metrics = (val: string, flag: string) => {
    const a = parseMetricsAddress(val);
    if (typeof a === "string") throw new UsageError(`${flag}: ${a}`);
    config.metrics = a;
  };
  if (v.metrics !== undefined) metrics(v.metrics, "--metrics");
  let metricsConns = 0;
  if (v["auth-file"] !== undefined) extra.authFile = v["auth-file"];
  extra.tls = v["enable-ssl"] ?? false;
  let listens: ListenAddr[] = [];
  if (v.listen !== undefined) {
    const list = parseListen(v.listen, 0);
    if (typeof list === "string") throw new UsageError(list);
    if (!extra.tls && list.some((a) => a.notls)) {
      throw new UsageError("'notls' option is valid only when SSL is enabled");
    }
    config.listen = v.listen;
    listens = list;
  }
  extra.sasl = v["enable-sasl"] ?? false;
  extra.saslPwdb = v["sasl-pwdb"] ?? (extra.sasl ? pwdbFromEnv() : null);
  for (const group of v.extended ?? []) {
    for (const opt of group.split(",")) {
      if (opt === "") continue;
      const eq = opt.indexOf("=");
      const key = eq < 0 ? opt : opt.slice(0, eq);
      const val = eq < 0 ? "" : opt.slice(eq + 1);
      if (key === "idle_timeout") {
        config.idleTimeout = parseIntFlag(val, "-o idle_timeout", 0, 1 << 30);
      } else if (key === "ssl_chain_cert") extra.sslChainCert = val;
      else if (key === "ssl_key") extra.sslKey = val;
      else if (key === "ssl_port") {
        extra.sslPort = parseIntFlag(val, "-o ssl_port", 0, 65535);
      } else if (key === "metrics") metrics(val, "-o metrics");
      else if (key === "conn_memory" || key === "read_buf_mem_limit") {
        config.connMemoryMb = parseIntFlag(val, `-o ${key}`, 1, 1 << 20);
      } else if (key === "metrics_max_conns") {
        metricsConns = parseIntFlag(val, "-o metrics_max_conns", 1, 1 << 16);
      } else notes.push(`-o ${key}: not supported, ignored`);
    }
  }
  if (metricsConns > 0) {
    if (config.metrics === null) {
      notes.push("-o metrics_max_conns: ignored without --metrics");
    } else config.metrics.maxConnections = metricsConns;
  }
  if (v["conn-memory"] !== undefined) {
    config.connMemoryMb = parseIntFlag(
      v["conn-memory"],
      "--conn-memory",
      1,
      1 << 20,
    );
  }
  if (v.snapshot !== undefined) extra.snapshot = v.snapshot;
  if (v["snapshot-interval"] !== undefined) {
    extra.snapshotInterval = parseIntFlag(
      v["snapshot-interval"],
      "--snapshot-interval",
      0,
      1 << 30,
    );
  }
  if (v.threads !== undefined) {
    config.threads = parseIntFlag(v.threads, "-t", 1, 1024);
  } else {
    config.threads = defaultThreads();
    config.threadsAuto = true;
  }
  if (v["udp-port"] !== undefined && v["udp-port"] !== "0") {
    notes.push("-U: UDP is not offered; ignored");
  }
  for (
    const f of [
      "lock-memory",
      "enable-coredumps",
      "max-reqs-per-event",
      "disable-cas",
      "listen-backlog",
      "enable-largepages",
      "disable-evictions",
    ] as const
  ) {
    if (v[f] !== undefined) notes.push(`--${f}: accepted, no effect`);
  }
  if (v["slab-min-size"] !== undefined) {
    parseIntFlag(v["slab-min-size"], "-n", 1, 1 << 20);
    notes.push(
      "-n: accepted; chunk sizes start at 48 bytes (memcached's default)",
    );
  }
  if (v["stat-prefix"] !== undefined) {
    notes.push("-D: accepted; per-prefix stats (stats detail) are not kept");
  }
  config.disableDumping = v["disable-dumping"] ?? false;
  if (v["disable-watch"]) notes.push("-W: accepted; there is no watch command");
  if (v["memory-file"] !== undefined) {
    notes.push(
      "-e: no shared-memory restart; use --snapshot FILE for warm restarts",
    );
  }
  if (v["napi-ids"] !== undefined) {
    notes.push("-N: accepted, no effect (no NAPI ids on one event loop)");
  }
  bindProtocol(v.protocol, extra, config);
  authProtocols(listens, extra);
  return { action: "run", config, notes, extra };
}

/**
 * `-B`, `-S` and `-Y` together, as memcached settles them: SASL needs the
 * binary protocol and ASCII auth the text one, so each picks its protocol
 * unless `-B` names one, and refuses a `-B` that contradicts it.
 */
function bindProtocol(
  b: string | undefined,
  extra: CliExtra,
  config: Config,
): void {
  if (b !== undefined && b !== "auto" && b !== "ascii" && b !== "binary") {
    throw new UsageError(
      `Invalid value for binding protocol: ${b} -- should be one of auto, binary, or ascii`,
    );
  }
  if (extra.sasl && extra.authFile !== null) {
    throw new UsageError(
      "-S and -Y cannot be combined: SASL needs the binary protocol, ASCII auth the text one",
    );
  }
  if (extra.sasl) {
    if (b !== undefined && b !== "binary") {
      throw new UsageError(
        "You cannot allow the ASCII protocol while using SASL.",
      );
    }
    config.protocol = "binary";
  } else if (extra.authFile !== null) {
    if (b !== undefined && b !== "ascii") {
      throw new UsageError(
        "You cannot allow the BINARY protocol while using ascii authentication tokens.",
      );
    }
    config.protocol = "ascii";
  } else if (b !== undefined) config.protocol = b;
}

/**
 * A `proto[...]` listener may not serve what `-S`/`-Y` rule out. memcached
 * lets it, and its clients there skip authentication; we refuse to start,
 * as for a contradicting `-B`.
 */
function authProtocols(list: ListenAddr[], extra: CliExtra): void {
  const pinned = (p: ListenProto) => list.some((a) => a.proto === p);
  if (extra.sasl && (pinned("ascii") || pinned("auto"))) {
    throw new UsageError(
      "You cannot allow the ASCII protocol while using SASL.",
    );
  }
  if (extra.authFile !== null && (pinned("binary") || pinned("auto"))) {
    throw new UsageError(
      "You cannot allow the BINARY protocol while using ascii authentication tokens.",
    );
  }
}

/** MEMCACHED_SASL_PWDB, when the environment may be read and names a file. */
function pwdbFromEnv(): string | null {
  const variable = "MEMCACHED_SASL_PWDB";
  try {
    if (
      Deno.permissions.querySync({ name: "env", variable }).state !== "granted"
    ) {
      return null;
    }
    return Deno.env.get(variable) ?? null;
  } catch {
    return null;
  }
}
