/**
 * Memory attacks on a running server (ours or memcached, same script):
 * clients that never read their replies, many readers of one huge value,
 * half-sent huge sets and half-closed sockets. Each run samples the
 * server's RSS (VmRSS through `cat /proc/PID/status`) before, at its peak
 * and after, while a victim client sets and reads its own keys and times
 * each round trip. Seeded; every count is a parameter so a slow machine
 * can scale it down and keep the shape.
 * @module
 */

import { settle } from "./_helpers.ts";
import { rng, rssMb, rssSampler } from "./_robust_helpers.ts";

const enc = new TextEncoder();

/** What one attack run measured. */
export interface Figures {
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /** Victim's slowest round trip while the attack held, ms. */
  victimMaxMs: number;
  /** Victim's round trips completed. */
  victimOps: number;
  /** Victim keys read back wrong or missing at the end. */
  victimBad: number;
  /** Attack-specific notes (bytes read, replies seen). */
  note: string;
}

/** A seeded value of `n` bytes whose byte `i` is checkable alone. */
export function patterned(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  const r = rng(seed);
  const k = 1 + r.int(200);
  for (let i = 0; i < n; i++) b[i] = 97 + ((i * k + (i >> 16)) % 26);
  return b;
}

async function writeAll(c: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await c.write(b.subarray(off));
}

async function connect(port: number): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

/** Reads until `suffix` ends what arrived (small replies only). */
async function readUntil(
  c: Deno.Conn,
  suffix: string,
  timeoutMs: number,
): Promise<string> {
  const buf = new Uint8Array(64 * 1024);
  let got = "";
  const deadline = Date.now() + timeoutMs;
  while (!got.endsWith(suffix)) {
    const left = deadline - Date.now();
    let t: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      c.read(buf),
      new Promise<never>((_, no) =>
        t = setTimeout(() => no(new Error(`stalled waiting ${suffix}`)), left)
      ),
    ]).finally(() => clearTimeout(t));
    if (n === null) throw new Error(`closed; got ${got.slice(0, 80)}`);
    got += new TextDecoder().decode(buf.subarray(0, n));
  }
  return got;
}

/** Stores `value` under `key` on a fresh connection. */
export async function put(
  port: number,
  key: string,
  value: Uint8Array,
): Promise<void> {
  const c = await connect(port);
  try {
    await writeAll(c, enc.encode(`set ${key} 0 0 ${value.length}\r\n`));
    await writeAll(c, value);
    await writeAll(c, enc.encode("\r\n"));
    const r = await readUntil(c, "\r\n", 60_000);
    if (r !== "STORED\r\n") throw new Error(`set ${key}: ${r}`);
  } finally {
    c.close();
  }
}

/**
 * The victim: sets and reads back its own keys in a loop until `stop()`,
 * timing each round trip; `finish()` checks every key it stored.
 */
function victim(port: number, seed: number) {
  let stopping = false;
  let maxMs = 0;
  let ops = 0;
  const r = rng(seed);
  const keys = new Map<string, string>();
  const run = (async () => {
    const c = await connect(port);
    try {
      for (let i = 0; !stopping; i++) {
        const k = `victim:${seed}:${i % 200}`;
        // Few size classes: with `-I 128m` a slab page is 128 MB here, and
        // a spread of classes would make the store move pages (evicting).
        const v = `${i}-${"v".repeat(40 + r.int(40))}`;
        const t0 = performance.now();
        await writeAll(
          c,
          enc.encode(`set ${k} 0 0 ${v.length}\r\n${v}\r\nget ${k}\r\n`),
        );
        const got = await readUntil(c, "END\r\n", 30_000);
        const ms = performance.now() - t0;
        if (ms > maxMs) maxMs = ms;
        ops++;
        keys.set(k, v);
        if (got !== `STORED\r\nVALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`) {
          throw new Error(`victim: ${got.slice(0, 100)}`);
        }
        await settle(5);
      }
    } finally {
      c.close();
    }
  })();
  return {
    async stop(): Promise<void> {
      stopping = true;
      await run;
    },
    async finish(): Promise<number> {
      const c = await connect(port);
      let bad = 0;
      try {
        for (const [k, v] of keys) {
          await writeAll(c, enc.encode(`get ${k}\r\n`));
          const got = await readUntil(c, "END\r\n", 30_000);
          if (got !== `VALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`) {
            if (bad++ === 0) {
              console.log(
                `victim ${k}: want ${v.length} bytes, got ${
                  JSON.stringify(got.slice(0, 60))
                }`,
              );
            }
          }
        }
      } finally {
        c.close();
      }
      return bad;
    },
    get maxMs() {
      return maxMs;
    },
    get ops() {
      return ops;
    },
  };
}

/** An attack under way. */
interface Attack {
  /** Resolves when the attack has done its part (default: after `hold` ms). */
  phase?: Promise<void>;
  /** Ends it (closes its connections); returns a note. */
  release(): Promise<string>;
}

/** Runs `attack` with RSS sampling and a victim; `hold` = ms to keep it up. */
async function measured(
  port: number,
  pid: number,
  seed: number,
  attack: () => Attack | Promise<Attack>,
  hold: number,
): Promise<Figures> {
  const rssBeforeMb = rssMb(pid);
  const sampler = rssSampler(pid, 100);
  const v = victim(port, seed);
  let note = "";
  try {
    const a = await attack();
    await (a.phase ?? settle(hold));
    await v.stop();
    note = await a.release();
  } finally {
    await v.stop().catch(() => {});
  }
  const rssPeakMb = sampler.stop();
  const victimBad = await v.finish();
  await settle(1000);
  return {
    rssBeforeMb,
    rssPeakMb,
    rssAfterMb: rssMb(pid),
    victimMaxMs: v.maxMs,
    victimOps: v.ops,
    victimBad,
    note,
  };
}

/**
 * `conns` connections each pipeline `gets` gets of one `size`-byte value
 * and never read; `halfClose` also shuts their write side (half-closed).
 */
export async function nonReaders(
  port: number,
  pid: number,
  o: { conns: number; gets: number; size: number; halfClose?: boolean },
): Promise<Figures> {
  await put(port, "nr:big", patterned(1, o.size));
  const line = enc.encode("get nr:big\r\n".repeat(o.gets));
  return await measured(port, pid, 11, async () => {
    const cs: Deno.TcpConn[] = [];
    for (let i = 0; i < o.conns; i++) {
      const c = await connect(port);
      cs.push(c);
      await writeAll(c, line);
      if (o.halfClose) await c.closeWrite();
    }
    return {
      release() {
        for (const c of cs) c.close();
        return Promise.resolve(`${o.conns} conns`);
      },
    };
  }, 2000);
}

/** `conns` clients each read one `size`-byte value at full speed. */
export async function bigReaders(
  port: number,
  pid: number,
  o: { conns: number; size: number },
): Promise<Figures> {
  const value = patterned(2, o.size);
  await put(port, "br:big", value);
  const header = `VALUE br:big 0 ${o.size}\r\n`.length;
  const want = header + o.size + 7;
  return await measured(port, pid, 12, () => {
    let wrong = 0;
    const readers = [];
    for (let i = 0; i < o.conns; i++) {
      readers.push((async () => {
        const c = await connect(port);
        try {
          await writeAll(c, enc.encode("get br:big\r\n"));
          const buf = new Uint8Array(1 << 20);
          let got = 0;
          while (got < want) {
            const n = await c.read(buf);
            if (n === null) break;
            // Spot-check one byte per read against the pattern.
            const j = got + n - 1 - header;
            if (j >= 0 && j < o.size && buf[n - 1] !== value[j]) wrong++;
            got += n;
          }
          if (got !== want) wrong++;
        } finally {
          c.close();
        }
      })());
    }
    const all = Promise.all(readers);
    return {
      phase: all.then(() => {}),
      async release() {
        await all;
        return `${o.conns} readers, ${wrong} wrong`;
      },
    };
  }, 0);
}

/** `conns` clients each send half of a `size`-byte set and stop there. */
export async function halfSets(
  port: number,
  pid: number,
  o: { conns: number; size: number },
): Promise<Figures> {
  const half = patterned(3, o.size >> 1);
  return await measured(port, pid, 13, async () => {
    const cs: Deno.TcpConn[] = [];
    const replies: Promise<void>[] = [];
    let oom = 0;
    for (let i = 0; i < o.conns; i++) {
      const c = await connect(port);
      cs.push(c);
      await writeAll(c, enc.encode(`set hs:${i} 0 0 ${o.size}\r\n`));
      // A refusal (out of memory) arrives at once; count them.
      replies.push(
        c.read(new Uint8Array(256)).then((n) => {
          if (n !== null) oom++;
        }, () => {}),
      );
      await writeAll(c, half);
    }
    return {
      async release() {
        for (const c of cs) c.close();
        await Promise.all(replies);
        return `${o.conns} half-sent, ${oom} answered`;
      },
    };
  }, 2000);
}
