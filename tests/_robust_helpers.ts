/**
 * Fixtures for the robustness tests: denocached as a subprocess (so its RSS
 * is its own), RSS readings from /proc, a seeded PRNG, a tiny pipelining
 * client and deadlines. Everything stays on loopback and is bounded.
 * @module
 */

import {
  type External,
  freePort,
  type Io,
  ioFlags,
  type Raw,
  raw,
  settle,
  spawnListening,
  which,
} from "./_helpers.ts";

/** Absolute path of the CLI entry point. */
export const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

/** A denocached child process. */
export interface Child extends External {
  pid: number;
}

/**
 * Starts `deno run main.ts -p PORT -l 127.0.0.1 ...args` on a free port.
 * With `nofile`, runs it under `prlimit --nofile=N:N` (null if prlimit is
 * missing, so the caller can skip). `io` picks the transport (`--io`).
 */
export async function spawnServer(
  args: string[],
  opts: { nofile?: number; io?: Io } = {},
): Promise<Child | null> {
  const port = freePort();
  // A -t N worker loads its module: it needs read access (docs/multicore.md).
  const ffi = opts.io === "epoll"
    ? ["--allow-ffi"]
    : opts.io === "threads"
    ? ["--allow-ffi", "--allow-read"]
    : [];
  const deno = [Deno.execPath(), "run", "--allow-net", ...ffi, MAIN_TS];
  const io = ioFlags(opts.io);
  const own = ["-p", String(port), "-l", "127.0.0.1", ...io, ...args];
  let cmd = deno[0];
  let argv = [...deno.slice(1), ...own];
  if (opts.nofile !== undefined) {
    const prlimit = which("prlimit");
    if (!prlimit) return null;
    cmd = prlimit;
    argv = [`--nofile=${opts.nofile}:${opts.nofile}`, ...deno, ...own];
  }
  const ext = await spawnListening(cmd, argv, port);
  // prlimit execs the command, so the pid is deno's own.
  return { ...ext, pid: ext.child.pid };
}

/**
 * Reads a /proc file through `cat`: Deno grants direct reads of /proc only
 * with --allow-all, and the test task runs with narrower permissions.
 */
export function readProc(path: string): string | null {
  try {
    const out = new Deno.Command("cat", {
      args: [path],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** Whether /proc is there to read RSS from. */
export function haveProc(): boolean {
  return readProc("/proc/self/status") !== null;
}

/** Resident set size of `pid` in MiB (VmRSS from /proc), or NaN if gone. */
export function rssMb(pid: number): number {
  const s = readProc(`/proc/${pid}/status`);
  const m = s === null ? null : /^VmRSS:\s+(\d+) kB/m.exec(s);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** User + system CPU time of `pid` in ms (from /proc/PID/stat), or NaN. */
export function cpuMs(pid: number): number {
  const s = readProc(`/proc/${pid}/stat`);
  if (s === null) return NaN;
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
}

/** Samples RSS every `ms` until stopped; reports the peak. */
export function rssSampler(pid: number, ms = 100): { stop(): number } {
  let peak = rssMb(pid);
  const id = setInterval(() => {
    const r = rssMb(pid);
    if (r > peak) peak = r;
  }, ms);
  return {
    stop() {
      clearInterval(id);
      const r = rssMb(pid);
      return r > peak ? r : peak;
    },
  };
}

/** A seeded PRNG (mulberry32), so a failing run can be replayed. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T;
}

/** Creates an {@link Rng} from a 32-bit seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    bytes(n) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    pick: (xs) => xs[int(xs.length)],
  };
}

/** Rejects with `what` if `p` has not settled within `ms` (timer always cleared). */
export async function within<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        id = setTimeout(
          () => rej(new Error(`${what}: not done within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(id);
  }
}

/** Deterministic value of key `i` of the guarded set (varied lengths, binary-safe). */
export function guardValue(i: number): string {
  const len = 1 + (i * 37) % 1500;
  let s = "";
  for (let j = 0; j < len; j++) {
    s += String.fromCharCode(33 + ((i + j * 7) % 90));
  }
  return s;
}

/** Stores `n` guarded keys `guard:<i>` on one pipelined connection. */
export async function writeGuarded(port: number, n: number): Promise<void> {
  const c = await raw(port);
  try {
    let script = "";
    for (let i = 0; i < n; i++) {
      const v = guardValue(i);
      script += `set guard:${i} ${i} 0 ${v.length}\r\n${v}\r\n`;
    }
    await c.send(script + "version\r\n");
    const out = await c.until("VERSION 1.6.18\r\n", 20_000);
    const stored = out.split("STORED\r\n").length - 1;
    if (stored !== n) throw new Error(`stored ${stored} of ${n} guarded keys`);
  } finally {
    c.close();
    await settle();
  }
}

/** Reads every guarded key back; returns the indexes that are missing or wrong. */
export async function checkGuarded(port: number, n: number): Promise<number[]> {
  const c = await raw(port);
  const bad: number[] = [];
  try {
    for (let base = 0; base < n; base += 100) {
      const keys: string[] = [];
      for (let i = base; i < Math.min(n, base + 100); i++) {
        keys.push(`guard:${i}`);
      }
      await c.send(`get ${keys.join(" ")}\r\n`);
      const out = await c.until("END\r\n", 10_000);
      for (let i = base; i < Math.min(n, base + 100); i++) {
        const v = guardValue(i);
        if (!out.includes(`VALUE guard:${i} ${i} ${v.length}\r\n${v}\r\n`)) {
          bad.push(i);
        }
      }
    }
  } finally {
    c.close();
    await settle();
  }
  return bad;
}

/** `stats` as a name → value map. */
export async function stats(
  port: number,
  arg = "",
): Promise<Map<string, string>> {
  const c = await raw(port);
  try {
    await c.send(`stats${arg ? " " + arg : ""}\r\n`);
    const out = await c.until("END\r\n", 10_000);
    const m = new Map<string, string>();
    for (const line of out.split("\r\n")) {
      const p = line.split(" ");
      if (p[0] === "STAT") m.set(p[1], p.slice(2).join(" "));
    }
    return m;
  } finally {
    c.close();
    await settle();
  }
}

/** Asks for `version` on a fresh connection; true if answered in time. */
export async function answers(
  port: number,
  timeoutMs = 5000,
): Promise<boolean> {
  let c: Raw | null = null;
  try {
    c = await within(raw(port), timeoutMs, "connect");
    await c.send("version\r\n");
    return (await c.until("VERSION 1.6.18\r\n", timeoutMs)).endsWith(
      "VERSION 1.6.18\r\n",
    );
  } catch {
    return false;
  } finally {
    c?.close();
    await settle();
  }
}

/**
 * A well-behaved client's round: set/get/delete `n` keys on one connection,
 * checking every reply. Throws on the first wrong answer.
 */
export async function politeRound(
  port: number,
  tag: string,
  n = 50,
): Promise<void> {
  const c = await raw(port);
  try {
    for (let i = 0; i < n; i++) {
      const v = `${tag}-${i}-${"x".repeat(i * 13)}`;
      await c.send(`set polite:${tag}:${i} 7 0 ${v.length}\r\n${v}\r\n`);
      const st = await c.until("\r\n", 10_000);
      if (st !== "STORED\r\n") {
        throw new Error(`polite set ${i}: ${JSON.stringify(st)}`);
      }
      await c.send(`get polite:${tag}:${i}\r\n`);
      const want = `VALUE polite:${tag}:${i} 7 ${v.length}\r\n${v}\r\nEND\r\n`;
      const got = await c.until("END\r\n", 10_000);
      if (got !== want) {
        throw new Error(
          `polite get ${i}: ${JSON.stringify(got.slice(0, 200))}`,
        );
      }
    }
    await c.send(`delete polite:${tag}:0\r\n`);
    const d = await c.until("\r\n", 10_000);
    if (d !== "DELETED\r\n") {
      throw new Error(`polite delete: ${JSON.stringify(d)}`);
    }
  } finally {
    c.close();
    await settle();
  }
}
