/**
 * The workloads and the two load generators that can drive them:
 * `memcaslap` (Debian's libmemcached-tools) and `mcload` (our own epoll
 * generator, `bench/mcload.c`, built with gcc into a temp dir).
 *
 * Both run pinned to the client CPU with `taskset -c` (unless pinning is
 * off) and are killed on timeout or Ctrl-C.
 * @module
 */

import { runCapture, shQuote } from "./procs.ts";

/** Concurrent connections in every throughput workload. */
export const CONNECTIONS = 50;
/** Size of the key space (keys are 16 bytes). */
export const KEYS = 10_000;
/** Fraction of requests that are gets (the rest are sets). */
export const GET_RATIO = 0.9;

/**
 * Builds the native load generator (`bench/mcload.c`) at `bin` with gcc;
 * null on success, else gcc's error output.
 */
export async function buildMcload(bin: string): Promise<string | null> {
  const src = new URL("./mcload.c", import.meta.url).pathname;
  const r = await runCapture("gcc", ["-O2", "-o", bin, src], 120_000);
  return r.code === 0 ? null : r.stderr;
}

/**
 * mcload's arguments for a measured window of `secs` seconds against keys
 * already loaded (no preload, no warm-up of its own).
 */
export function mcloadWindowArgs(
  w: Workload,
  port: number,
  secs: number,
  connections: number,
  pid: number | null,
): string[] {
  return [
    "-p",
    String(port),
    "-n",
    "-w",
    "0",
    "-t",
    String(secs),
    ...mcloadWorkload(w, connections, pid),
  ];
}

/**
 * The part of an mcload command line that says what load to send:
 * `connections`, workload `w`'s depth, mix, keys, value size and multi-get,
 * and the server pid whose CPU mcload reports (null = none).
 */
export function mcloadWorkload(
  w: Workload,
  connections: number,
  pid: number | null,
): string[] {
  const a = [
    "-c",
    String(connections),
    "-d",
    String(w.depth),
    "-r",
    String(GET_RATIO),
    "-k",
    String(KEYS),
    "-v",
    String(w.valueSize),
  ];
  if (w.mget > 1) a.push("-m", String(w.mget));
  if (pid !== null) a.push("-P", String(pid));
  return a;
}

/** One throughput workload (W1–W4). */
export interface Workload {
  /** "W1" … "W4". */
  id: string;
  /** One-line description for the table footnotes. */
  title: string;
  /** Value size in bytes. */
  valueSize: number;
  /** Requests in flight per connection (1 = no pipelining). */
  depth: number;
  /** Keys per get (1 = single-key get). */
  mget: number;
  /** Target for the denocached/memcached ops/s ratio (at least this). */
  target: number;
}

/** The throughput workloads, by id. */
export const WORKLOADS: Record<string, Workload> = {
  W1: {
    id: "W1",
    title: "32 B values, no pipelining",
    valueSize: 32,
    depth: 1,
    mget: 1,
    target: 0.8,
  },
  W2: {
    id: "W2",
    title: "32 B values, 16 in flight per connection",
    valueSize: 32,
    depth: 16,
    mget: 1,
    target: 2.5,
  },
  W3: {
    id: "W3",
    title: "4 KiB values, no pipelining",
    valueSize: 4096,
    depth: 1,
    mget: 1,
    target: 0.8,
  },
  W4: {
    id: "W4",
    title: "32 B values, every get a 10-key multi-get",
    valueSize: 32,
    depth: 1,
    mget: 10,
    target: 0.8,
  },
};

/** The memory workload M1. */
export const M1 = {
  /** Items loaded. */
  keys: 1_000_000,
  /** Value size in bytes. */
  valueSize: 100,
  /** Memory limit given to both servers (`-m`). */
  memMb: 1024,
  /** denocached's bytes/item may be at most this multiple of memcached's. */
  maxRatio: 1.25,
} as const;

/** Outcome of one timed run. */
export interface MeasureResult {
  /** Commands per second (a multi-get counts once). */
  opsPerSec: number;
  /** 99th percentile latency in microseconds. */
  p99Us: number;
  /** True when p99 is interpolated from a coarse (log2) histogram. */
  p99Estimated: boolean;
  /** Extra numbers worth keeping (hit rate, errors, CPU use, ...). */
  details: Record<string, string>;
}

/** Outcome of loading keys (M1). */
export interface LoadResult {
  /** Wall-clock seconds the load took. */
  seconds: number;
  /** Extra numbers worth keeping. */
  details: Record<string, string>;
}

/** Options shared by the timed runs. */
export interface RunOptions {
  /** Measured seconds. */
  duration: number;
  /** Warm-up seconds before measuring. */
  warmup: number;
}

/** A load generator. */
export interface Generator {
  /** "memcaslap" or "mcload". */
  readonly name: string;
  /** Why `w` cannot be run with this generator, or null if it can. */
  unsupported(w: Workload): string | null;
  /** The command lines a run of `w` uses (for --dry-run). */
  describe(w: Workload, port: number, opts: RunOptions): string[];
  /** The command line that loads the M1 keys (for --dry-run). */
  describeLoad(port: number): string;
  /** Runs `w` against 127.0.0.1:`port`; throws on failure. */
  measure(
    w: Workload,
    port: number,
    serverPid: number | null,
    opts: RunOptions,
  ): Promise<MeasureResult>;
  /** Loads `keys` keys with `valueSize`-byte values; throws on failure. */
  load(port: number, keys: number, valueSize: number): Promise<LoadResult>;
}

/** How a generator process is started. */
export interface GeneratorEnv {
  /** Path of the generator binary. */
  bin: string;
  /** CPU list for `taskset -c`, or null for no pinning. */
  cpu: string | null;
  /** Scratch directory (config files). */
  tmpDir: string;
}

function pinned(env: GeneratorEnv, args: string[]): [string, string[]] {
  return env.cpu === null
    ? [env.bin, args]
    : ["taskset", ["-c", env.cpu, env.bin, ...args]];
}

/** The shell-quoted command line of a generator run (for --dry-run). */
export function cmdLine(env: GeneratorEnv, args: string[]): string {
  const [cmd, rest] = pinned(env, args);
  return [cmd, ...rest].map(shQuote).join(" ");
}

/** Runs the generator with `args` (pinned per `env`); throws on a timeout or a non-zero exit. */
export async function invoke(
  env: GeneratorEnv,
  args: string[],
  timeoutMs: number,
): Promise<string> {
  const [cmd, rest] = pinned(env, args);
  const r = await runCapture(cmd, rest, timeoutMs);
  if (r.timedOut || r.code !== 0) {
    const why = r.timedOut
      ? `timed out after ${Math.round(timeoutMs / 1000)} s`
      : `exit code ${r.code}`;
    const out = (r.stderr + r.stdout).trim().split("\n").slice(-8).join("\n");
    throw new Error(
      `${env.bin.split("/").pop()} ${why}${out ? `:\n${out}` : ""}`,
    );
  }
  return r.stdout;
}

/** Parses mcload's `key=value ...` result line (the last line that has `ops_s=`). */
export function parseMcload(out: string): Record<string, string> {
  const line = out.trim().split("\n").reverse().find((l) =>
    /(^|\s)(ops_s|sets_s)=/.test(l)
  );
  const kv: Record<string, string> = {};
  if (line === undefined) return kv;
  for (const m of line.matchAll(/(\w+)=(\S+)/g)) kv[m[1]] = m[2];
  return kv;
}

/** mcload: pipelining, multi-get, exact p99 from a 1 µs histogram. */
export class McloadGenerator implements Generator {
  readonly name = "mcload";
  #env: GeneratorEnv;
  #loadDepth: number;

  /** `loadDepth` is the pipeline depth of the preload / M1 load phase. */
  constructor(env: GeneratorEnv, loadDepth: number) {
    this.#env = env;
    this.#loadDepth = loadDepth;
  }

  unsupported(_w: Workload): string | null {
    return null;
  }

  #args(
    w: Workload,
    port: number,
    opts: RunOptions,
    pid: number | null,
  ): string[] {
    return [
      "-p",
      String(port),
      "-l",
      String(this.#loadDepth),
      "-t",
      String(opts.duration),
      "-w",
      String(opts.warmup),
      ...mcloadWorkload(w, CONNECTIONS, pid),
    ];
  }

  describe(w: Workload, port: number, opts: RunOptions): string[] {
    return [cmdLine(this.#env, this.#args(w, port, opts, null))];
  }

  describeLoad(port: number): string {
    return cmdLine(this.#env, this.#loadArgs(port, M1.keys, M1.valueSize));
  }

  async measure(
    w: Workload,
    port: number,
    pid: number | null,
    opts: RunOptions,
  ): Promise<MeasureResult> {
    const timeout = (opts.duration + opts.warmup + 120) * 1000;
    const out = await invoke(
      this.#env,
      this.#args(w, port, opts, pid),
      timeout,
    );
    const kv = parseMcload(out);
    const ops = Number(kv.ops_s);
    const p99 = Number(kv.p99_us);
    if (!Number.isFinite(ops) || !Number.isFinite(p99)) {
      throw new Error(`mcload: no result in: ${out.trim()}`);
    }
    const details: Record<string, string> = {};
    for (
      const k of [
        "keys_s",
        "p50_us",
        "p999_us",
        "hit_pct",
        "errors",
        "server_cpu_pct",
        "client_cpu_pct",
        "other_cpu_pct",
      ]
    ) {
      if (kv[k] !== undefined) details[k] = kv[k];
    }
    return { opsPerSec: ops, p99Us: p99, p99Estimated: false, details };
  }

  #loadArgs(port: number, keys: number, valueSize: number): string[] {
    return [
      "-p",
      String(port),
      "-L",
      "-l",
      String(this.#loadDepth),
      "-k",
      String(keys),
      "-v",
      String(valueSize),
    ];
  }

  async load(
    port: number,
    keys: number,
    valueSize: number,
  ): Promise<LoadResult> {
    const t0 = performance.now();
    const out = await invoke(
      this.#env,
      this.#loadArgs(port, keys, valueSize),
      600_000,
    );
    const kv = parseMcload(out);
    return {
      seconds: (performance.now() - t0) / 1000,
      details: kv.sets_s ? { sets_s: kv.sets_s } : {},
    };
  }
}

/** What {@link parseMemcaslap} extracts from memcaslap's final report. */
export interface MemcaslapReport {
  /** Responses counted in "Total Statistics". */
  events: number;
  /** Seconds from "Run time: Ns". */
  runTime: number;
  /** "TPS:" from the last line (counts each key of a multi-get). */
  tps: number;
  /** Total latency histogram: index i counts latencies in (2^(i-1), 2^i] µs. */
  dist: number[];
  /** Min / max latency in µs. */
  minUs: number;
  /** Max latency in µs. */
  maxUs: number;
  /** Counters such as cmd_get, cmd_set, get_misses. */
  counters: Record<string, number>;
}

/** Parses memcaslap output (run with `-S` so the latency report is printed); null if absent. */
export function parseMemcaslap(out: string): MemcaslapReport | null {
  const lines = out.split("\n");
  const start = lines.findIndex((l) =>
    /^Total Statistics \(\d+ events\)/.test(l)
  );
  const run = out.match(/Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)/);
  if (start < 0 || !run) return null;
  const events = Number(lines[start].match(/\((\d+) events\)/)![1]);
  let minUs = 0, maxUs = 0;
  const dist: number[] = [];
  let inDist = false;
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") {
      if (inDist) break;
      continue;
    }
    let m = line.match(/^\s*Min:\s+(\d+)/);
    if (m) minUs = Number(m[1]);
    m = line.match(/^\s*Max:\s+(\d+)/);
    if (m) maxUs = Number(m[1]);
    if (/Log2 Dist:/.test(line)) {
      inDist = true;
      continue;
    }
    m = line.match(/^\s*(\d+):((?:\s+\d+)+)\s*$/);
    if (inDist && m) {
      const base = Number(m[1]);
      m[2].trim().split(/\s+/).forEach((v, i) => dist[base + i] = Number(v));
    }
  }
  for (let i = 0; i < dist.length; i++) dist[i] ??= 0;
  const counters: Record<string, number> = {};
  for (
    const m of out.matchAll(
      /^(cmd_get|cmd_set|get_misses|verify_failed|udp_timeout): (\d+)$/gm,
    )
  ) {
    counters[m[1]] = Number(m[2]);
  }
  return {
    events,
    runTime: Number(run[1]),
    tps: Number(run[3]),
    dist,
    minUs,
    maxUs,
    counters,
  };
}

/**
 * Percentile `p` (0–1) of a log2 histogram whose bucket i holds values in
 * (2^(i-1), 2^i], interpolated geometrically inside the bucket and clamped
 * to [min, max].
 */
export function log2Percentile(
  dist: number[],
  p: number,
  min: number,
  max: number,
): number {
  const total = dist.reduce((a, b) => a + b, 0);
  if (total === 0) return NaN;
  const want = p * total;
  let before = 0;
  for (let i = 0; i < dist.length; i++) {
    const n = dist[i];
    if (n > 0 && before + n >= want) {
      const hi = 2 ** i;
      const lo = i === 0 ? 0 : hi / 2;
      const frac = Math.min(1, Math.max(0, (want - before) / n));
      const est = lo === 0 ? hi * frac : lo * (hi / lo) ** frac;
      return Math.min(max, Math.max(min, est));
    }
    before += n;
  }
  return max;
}

/**
 * memcaslap (a.k.a. memaslap). Its model differs from mcload's in ways the
 * report mentions: each connection has its own window of keys (1k minimum,
 * so 50 × 1,024 keys), it only gets keys it has set before (all gets hit),
 * its sets write fresh keys once the window is full, and its p99 comes from
 * a log2 histogram. It cannot pipeline, so W2 is not available.
 */
export class MemcaslapGenerator implements Generator {
  readonly name = "memcaslap";
  #env: GeneratorEnv;

  /** `env.tmpDir` receives the `-F` config files. */
  constructor(env: GeneratorEnv) {
    this.#env = env;
  }

  unsupported(w: Workload): string | null {
    return w.depth > 1 ? "n/a (needs mcload)" : null;
  }

  #config(valueSize: number, getRatio: number): string {
    const path = `${this.#env.tmpDir}/memcaslap-v${valueSize}-g${getRatio}.cnf`;
    // cmd lines must come set (0) first, then get (1): memcaslap indexes them by position
    const text = `key\n16 16 1\nvalue\n${valueSize} ${valueSize} 1\ncmd\n0 ${
      (1 - getRatio).toFixed(3)
    }\n1 ${getRatio.toFixed(3)}\n`;
    Deno.writeTextFileSync(path, text);
    return path;
  }

  #args(w: Workload, port: number, secs: number): string[] {
    const a = [
      "-s",
      `127.0.0.1:${port}`,
      "-F",
      this.#config(w.valueSize, GET_RATIO),
      "-t",
      `${secs}s`,
      "-T",
      "1",
      "-c",
      String(CONNECTIONS),
      "-w",
      "1k",
      "-S",
      `${secs + 3600}s`, // one final latency report only
    ];
    if (w.mget > 1) a.push("-d", String(w.mget));
    return a;
  }

  describe(w: Workload, port: number, opts: RunOptions): string[] {
    const cmds = [];
    if (opts.warmup > 0) {
      cmds.push(
        cmdLine(this.#env, this.#args(w, port, opts.warmup)) + "   # warm-up",
      );
    }
    cmds.push(cmdLine(this.#env, this.#args(w, port, opts.duration)));
    return cmds;
  }

  async measure(
    w: Workload,
    port: number,
    _pid: number | null,
    opts: RunOptions,
  ): Promise<MeasureResult> {
    if (opts.warmup > 0) {
      await invoke(
        this.#env,
        this.#args(w, port, opts.warmup),
        (opts.warmup + 120) * 1000,
      );
    }
    const out = await invoke(
      this.#env,
      this.#args(w, port, opts.duration),
      (opts.duration + 120) * 1000,
    );
    const r = parseMemcaslap(out);
    if (r === null || r.runTime <= 0) {
      throw new Error(
        `memcaslap: no report in:\n${
          out.trim().split("\n").slice(-8).join("\n")
        }`,
      );
    }
    const details: Record<string, string> = {
      keys_s: String(Math.round(r.tps)),
      p50_us: String(Math.round(log2Percentile(r.dist, 0.5, r.minUs, r.maxUs))),
      max_us: String(r.maxUs),
    };
    for (const [k, v] of Object.entries(r.counters)) details[k] = String(v);
    return {
      opsPerSec: Math.round(r.events / r.runTime),
      p99Us: Math.round(log2Percentile(r.dist, 0.99, r.minUs, r.maxUs)),
      p99Estimated: true,
      details,
    };
  }

  #loadArgs(port: number, keys: number, valueSize: number): string[] {
    // set-only: every set writes a new key, so N sets store N distinct items
    return [
      "-s",
      `127.0.0.1:${port}`,
      "-F",
      this.#config(valueSize, 0),
      "-x",
      String(keys),
      "-T",
      "1",
      "-c",
      String(CONNECTIONS),
      "-w",
      "1k",
    ];
  }

  describeLoad(port: number): string {
    return cmdLine(this.#env, this.#loadArgs(port, M1.keys, M1.valueSize));
  }

  async load(
    port: number,
    keys: number,
    valueSize: number,
  ): Promise<LoadResult> {
    const t0 = performance.now();
    const out = await invoke(
      this.#env,
      this.#loadArgs(port, keys, valueSize),
      600_000,
    );
    const set = out.match(/^cmd_set: (\d+)$/m);
    return {
      seconds: (performance.now() - t0) / 1000,
      details: set ? { cmd_set: set[1] } : {},
    };
  }
}
