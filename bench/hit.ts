/**
 * Hit-ratio and memory workloads — `deno task bench --hit [options]`.
 *
 * A cache-aside driver over one connection: each batch is one multi-get of
 * keys drawn from a seeded Zipf distribution, then a set of every key that
 * missed. Every key has a fixed size and fixed bytes (derived from its id),
 * and every hit is checked byte for byte; the first `--warmup` batches fill
 * the cache and are not counted. For each case it starts memcached
 * and denocached fresh at the same `-m` (one after the other, the server
 * pinned with `taskset` as `bench.ts` does) and reports the miss ratio, the
 * idle RSS (VmRSS once listening) and the peak RSS (VmHWM at the end).
 *
 * Cases: `zipf` (plain), `scan` (a batch of never-repeated keys every 20th
 * batch, not counted), `shift` (small values, then a fresh key space of 4–16
 * KB values, then the small keys again), `ttl` (half the keys with a 2 s TTL,
 * batches paced at one per 4 ms so both servers see the same timeline)
 * and `conns` (zipf while 50 connections each hold a half-sent 500 KB value).
 * @module
 */

import { parseArgs } from "node:util";
import {
  freePort,
  installSignalHandlers,
  ServerProcess,
  serverStats,
  shQuote,
  which,
} from "./procs.ts";
import { markdownTable } from "./table.ts";
import { startCommand } from "./start_cmd.ts";
import { V8_FLAGS as DEFAULT_V8_FLAGS } from "../scripts/compile.ts";

const REPO_DIR = new URL("..", import.meta.url).pathname;
const enc = new TextEncoder();
const CRLF = enc.encode("\r\n");

/** Usage text printed by `--hit --help`. */
export const HIT_USAGE = `Usage: deno task bench --hit [options]
  --cases LIST     comma-separated subset of zipf,scan,shift,ttl,conns (default: all)
  --alpha LIST     Zipf exponents (default 0.8,0.99,1.2; non-zipf cases use 0.99)
  --mem LIST       -m values in MB (default 64,256)
  --keys N         key space (default 200000)
  --batches N      batches per case (default 9000, 100 keys each)
  --warmup N       first batches not counted (default a third): with them the
                   miss ratio is mostly first-time misses, the same for any policy
  --server-cpu C   CPU for the servers (default 1)
  --io MODE        denocached as deno task start runs it, with -t 1 ("start",
                   the default: epoll), or deno run main.ts --io=portable|epoll
  --v8-flags LIST  V8 flags for denocached (default: those of deno task start;
                   "" for none)`;

/** xorshift32, seeded: the same keys every run. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Zipf(α) over ranks 0..n-1 by inverse CDF. */
function zipf(n: number, alpha: number, seed: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, alpha);
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  const r = rng(seed);
  return () => {
    const u = r();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (cdf[m] < u) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
}

/** Fixed size of key `id`: log-uniform in [lo, hi], from a hash of the id. */
function sizeOf(id: number, lo: number, hi: number): number {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  const u = ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  return Math.round(lo * Math.pow(hi / lo, u));
}

/** Value byte `i` of key `id`. */
function valueByte(id: number, i: number): number {
  return 97 + ((id * 7 + i) % 26);
}

/** One connection with a read buffer, for the text protocol. */
class Conn {
  buf = new Uint8Array(1 << 20);
  len = 0;
  constructor(readonly c: Deno.TcpConn) {}
  static async open(port: number): Promise<Conn> {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.setNoDelay(true);
    return new Conn(c);
  }
  async write(b: Uint8Array): Promise<void> {
    let o = 0;
    while (o < b.length) o += await this.c.write(b.subarray(o));
  }
  async fill(): Promise<void> {
    if (this.len === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    const n = await this.c.read(this.buf.subarray(this.len));
    if (n === null) throw new Error("server closed the connection");
    this.len += n;
  }
  /** Index of the first "\r\n" at or after `from`, reading more as needed. */
  async lineEnd(from: number): Promise<number> {
    for (;;) {
      for (let i = from; i + 1 < this.len; i++) {
        if (this.buf[i] === 13 && this.buf[i + 1] === 10) return i;
      }
      await this.fill();
    }
  }
  consume(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }
  close(): void {
    try {
      this.c.close();
    } catch {
      // gone already
    }
  }
}

/** Key space of a case: key text, size and TTL of id `id`. */
interface Space {
  prefix: string;
  lo: number;
  hi: number;
  ttl: (id: number) => number;
}

const dec = new TextDecoder();

/**
 * One cache-aside batch: get `ids`, verify hits, set misses. Returns the
 * number of misses.
 */
async function batch(conn: Conn, sp: Space, ids: number[]): Promise<number> {
  const keys = ids.map((id) => sp.prefix + id);
  await conn.write(enc.encode(`get ${keys.join(" ")}\r\n`));
  const hit = new Set<string>();
  for (;;) {
    const e = await conn.lineEnd(0);
    const line = dec.decode(conn.buf.subarray(0, e));
    if (line === "END") {
      conn.consume(e + 2);
      break;
    }
    const m = /^VALUE (\S+) \d+ (\d+)$/.exec(line);
    if (!m) throw new Error(`bad reply line: ${line}`);
    const vlen = Number(m[2]);
    while (conn.len < e + 2 + vlen + 2) await conn.fill();
    const id = Number(m[1].slice(sp.prefix.length));
    const want = sizeOf(id, sp.lo, sp.hi);
    if (vlen !== want) throw new Error(`${m[1]}: ${vlen} bytes, want ${want}`);
    const o = e + 2;
    for (let i = 0; i < vlen; i++) {
      if (conn.buf[o + i] !== valueByte(id, i)) {
        throw new Error(`${m[1]}: wrong byte at ${i}`);
      }
    }
    hit.add(m[1]);
    conn.consume(o + vlen + 2);
  }
  let misses = 0;
  const sent = new Set<string>();
  const parts: Uint8Array[] = [];
  for (let k = 0; k < ids.length; k++) {
    if (hit.has(keys[k])) continue;
    misses++;
    if (sent.has(keys[k])) continue;
    sent.add(keys[k]);
    const id = ids[k];
    const n = sizeOf(id, sp.lo, sp.hi);
    const v = new Uint8Array(n);
    for (let i = 0; i < n; i++) v[i] = valueByte(id, i);
    parts.push(enc.encode(`set ${keys[k]} 0 ${sp.ttl(id)} ${n}\r\n`), v, CRLF);
  }
  if (sent.size > 0) {
    let total = 0;
    for (const p of parts) total += p.length;
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    await conn.write(out);
    for (let i = 0; i < sent.size; i++) {
      const e = await conn.lineEnd(0);
      const line = dec.decode(conn.buf.subarray(0, e));
      conn.consume(e + 2);
      // SERVER_ERROR out of memory is a miss that stays a miss: allowed.
      if (line !== "STORED" && !line.startsWith("SERVER_ERROR")) {
        throw new Error(`set: ${line}`);
      }
    }
  }
  return misses;
}

/** What a case run measured on one server. */
interface CaseResult {
  missRatio: number;
  idleKiB: number;
  peakKiB: number;
  evictions: number;
}

const BATCH = 100;
/** Milliseconds per batch in the TTL case (1500 batches: 6 s). */
const TTL_PACE_MS = 4;

/** One case against the server on `port`; returns its miss ratio. */
export async function runCase(
  kind: string,
  alpha: number,
  port: number,
  keys: number,
  batches: number,
  warmup = 0,
): Promise<number> {
  const conn = await Conn.open(port);
  const holders: Conn[] = [];
  try {
    const draw = zipf(keys, alpha, 12345);
    const small: Space = { prefix: "k", lo: 100, hi: 4096, ttl: () => 0 };
    const big: Space = { prefix: "b", lo: 4096, hi: 16384, ttl: () => 0 };
    const ttl: Space = {
      prefix: "t",
      lo: 100,
      hi: 4096,
      ttl: (id) => (id & 1) === 1 ? 2 : 0,
    };
    const once: Space = { prefix: "once", lo: 100, hi: 4096, ttl: () => 0 };
    if (kind === "conns") {
      const head = enc.encode("set hold 0 0 512000\r\n");
      const half = new Uint8Array(256000).fill(120);
      for (let i = 0; i < 50; i++) {
        const h = await Conn.open(port);
        await h.write(head);
        await h.write(half);
        holders.push(h);
      }
    }
    let misses = 0;
    let counted = 0;
    let onceId = 0;
    const started = Date.now();
    for (let b = 0; b < batches; b++) {
      if (kind === "scan" && b % 20 === 19) {
        const ids = [];
        for (let i = 0; i < BATCH; i++) ids.push(onceId++);
        await batch(conn, once, ids);
        continue;
      }
      let sp = kind === "ttl" ? ttl : small;
      if (kind === "shift") {
        const third = Math.floor(batches / 3);
        if (b >= third && b < 2 * third) sp = big;
      }
      const ids = [];
      for (let i = 0; i < BATCH; i++) ids.push(draw());
      const missed = await batch(conn, sp, ids);
      if (b >= warmup) {
        misses += missed;
        counted += BATCH;
      }
      // The TTL case is paced (one batch per TTL_PACE_MS) so both servers
      // see the same timeline: expiry is wall-clock, and a faster server
      // would otherwise serve more hits per TTL and show fewer misses.
      if (kind === "ttl") {
        const due = started + (b + 1) * TTL_PACE_MS;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    return counted === 0 ? 0 : misses / counted;
  } finally {
    conn.close();
    for (const h of holders) h.close();
  }
}

function opt(v: string | undefined, def: string): string[] {
  return (v ?? def).split(",").map((x) => x.trim()).filter((x) => x !== "");
}

/** Runs the hit-ratio workloads; returns the exit code. */
export async function hitMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      hit: { type: "boolean" },
      cases: { type: "string" },
      alpha: { type: "string" },
      mem: { type: "string" },
      keys: { type: "string" },
      batches: { type: "string" },
      warmup: { type: "string" },
      "server-cpu": { type: "string" },
      io: { type: "string" },
      "v8-flags": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HIT_USAGE);
    return 0;
  }
  installSignalHandlers();
  if (!which("memcached") || !which("setsid")) {
    console.log("skipped: needs memcached and setsid");
    return 0;
  }
  const pin = which("taskset") ? values["server-cpu"] ?? "1" : null;
  const cases = opt(values.cases, "zipf,scan,shift,ttl,conns");
  const alphas = opt(values.alpha, "0.8,0.99,1.2").map(Number);
  const mems = opt(values.mem, "64,256").map(Number);
  const keys = Number(values.keys ?? 200000);
  const batches = Number(values.batches ?? 9000);
  const warmup = Number(values.warmup ?? Math.floor(batches / 3));
  const io = values.io ?? "start";
  if (io !== "start" && io !== "portable" && io !== "epoll") {
    console.error(`--io: expected start, portable or epoll, got '${io}'`);
    return 2;
  }
  const epoll = io === "epoll";
  // The same V8 flags as `deno task start` unless told otherwise, so the
  // figures are those of the shipped form.
  const v8 = values["v8-flags"] ?? DEFAULT_V8_FLAGS;
  const deno = io === "start"
    ? `${startCommand()} -t 1`
    : `${shQuote(Deno.execPath())} run --allow-net${
      epoll ? " --allow-ffi" : ""
    }${v8 ? ` --v8-flags=${shQuote(v8)}` : ""} ${
      shQuote(REPO_DIR + "main.ts")
    } --io=${io}`;
  const cmds: Record<string, (port: number, mb: number) => string> = {
    memcached: (p, mb) =>
      `memcached -t 1 -p ${p} -U 0 -l 127.0.0.1 -m ${mb}${
        Deno.uid() === 0 ? " -u nobody" : ""
      }`,
    denocached: (p, mb) => `${deno} -p ${p} -l 127.0.0.1 -m ${mb}`,
  };
  const rows: string[][] = [];
  for (const mb of mems) {
    for (const kind of cases) {
      for (const alpha of kind === "zipf" ? alphas : [0.99]) {
        const res: Record<string, CaseResult> = {};
        for (const name of ["memcached", "denocached"]) {
          const port = freePort();
          const srv = await ServerProcess.start({
            label: name,
            command: cmds[name](port, mb),
            port,
            cpu: pin,
            logPath: await Deno.makeTempFile({ prefix: "hit-" }),
          });
          try {
            // Idle once startup is over (denocached hands back the startup
            // pages of its binary once serving), then the peak of the case
            // alone, not of startup.
            await new Promise((r) => setTimeout(r, 1000));
            const idle = (await srv.statusKiB("VmRSS")) ?? 0;
            await srv.resetPeak();
            const missRatio = await runCase(
              kind,
              alpha,
              port,
              keys,
              batches,
              warmup,
            );
            const peak = (await srv.statusKiB("VmHWM")) ?? 0;
            const st = await serverStats(port);
            res[name] = {
              missRatio,
              idleKiB: idle,
              peakKiB: peak,
              evictions: st.get("evictions") ?? 0,
            };
          } finally {
            await srv.stop();
          }
        }
        const m = res.memcached;
        const d = res.denocached;
        const mib = (k: number) => (k / 1024).toFixed(1);
        const budget = d.idleKiB / 1024 + 1.05 * mb + 8;
        const row = [
          String(mb),
          kind === "zipf" ? `zipf α ${alpha}` : kind,
          m.missRatio.toFixed(4),
          d.missRatio.toFixed(4),
          (d.missRatio / Math.max(m.missRatio, 1e-9)).toFixed(3),
          `${mib(m.idleKiB)} / ${mib(m.peakKiB)}`,
          `${mib(d.idleKiB)} / ${mib(d.peakKiB)}`,
          d.peakKiB / 1024 <= budget ? "yes" : "no",
        ];
        console.log(row.join("  "));
        rows.push(row);
      }
    }
  }
  console.log();
  console.log(markdownTable(
    [
      "-m MB",
      "workload",
      "memcached miss",
      "denocached miss",
      "ratio",
      "memcached RSS idle / peak MiB",
      "denocached RSS idle / peak MiB",
      "peak ≤ idle + 1.05·m + 8",
    ],
    rows,
  ));
  return 0;
}

if (import.meta.main) Deno.exit(await hitMain(Deno.args));
