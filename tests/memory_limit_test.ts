/**
 * Memory limit under pressure: with `-m 64`, writing hundreds of MB keeps the
 * server's RSS near the limit plus a fixed allowance for the runtime,
 * evictions are counted, and the most recently written keys are readable.
 * @module
 */

import assert from "node:assert/strict";
import { settle, skip } from "./_helpers.ts";
import {
  haveProc,
  rssMb,
  rssSampler,
  spawnServer,
  stats,
  within,
} from "./_robust_helpers.ts";

const LIMIT_MB = 64;
const ALLOWANCE_MB = 150;
const WRITERS = 4;
/** Bytes each writer stores: 4 × 80 MB = 320 MB through a 64 MB cache. */
const PER_WRITER = 80 * 1024 * 1024;
const BATCH = 2 * 1024 * 1024;
const enc = new TextEncoder();

/** Value length of key `i`: 500 B .. ~40 KB, spread over many slab classes. */
const lenOf = (i: number) => 500 + ((i * 7919) % 40_000);
/** Fill byte of key `i`'s value. */
const fillOf = (i: number) => 97 + (i % 26);

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await conn.read(out.subarray(got));
    if (k === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += k;
  }
  return out;
}

/** Writes keys `w:<i>` until PER_WRITER bytes are stored; returns the count. */
async function writer(port: number, w: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let i = 0;
    let total = 0;
    while (total < PER_WRITER) {
      const parts: Uint8Array[] = [];
      let size = 0;
      let n = 0;
      while (size < BATCH) {
        const len = lenOf(i);
        const head = enc.encode(`set ${w}:${i} ${i} 0 ${len}\r\n`);
        const body = new Uint8Array(len + 2).fill(fillOf(i));
        body[len] = 13;
        body[len + 1] = 10;
        parts.push(head, body);
        size += head.length + body.length;
        total += len;
        i++;
        n++;
      }
      const batch = new Uint8Array(size);
      let off = 0;
      for (const p of parts) {
        batch.set(p, off);
        off += p.length;
      }
      const [, replies] = await Promise.all([
        (async () => {
          for (let o = 0; o < batch.length;) {
            o += await conn.write(batch.subarray(o));
          }
        })(),
        readExactly(conn, n * 8),
      ]);
      const text = new TextDecoder().decode(replies);
      if (text !== "STORED\r\n".repeat(n)) {
        throw new Error(`writer ${w}: ${text.slice(0, 80)}`);
      }
    }
    return i;
  } finally {
    conn.close();
  }
}

/**
 * Fetches `keys` one by one on one connection; returns how many came back
 * whole (right length and fill), never waiting on a miss.
 */
async function readable(
  port: number,
  keys: { key: string; i: number }[],
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let good = 0;
  try {
    for (const { key, i } of keys) {
      await conn.write(enc.encode(`get ${key}\r\n`));
      const len = lenOf(i);
      const head = `VALUE ${key} ${i} ${len}\r\n`;
      const first = new TextDecoder().decode(await readExactly(conn, 5));
      if (first === "END\r\n") continue; // evicted
      const rest = await readExactly(conn, head.length - 5 + len + 7);
      const got = new Uint8Array(5 + rest.length);
      got.set(enc.encode(first));
      got.set(rest, 5);
      if (new TextDecoder().decode(got.subarray(0, head.length)) !== head) {
        continue;
      }
      const f = fillOf(i);
      if (got.subarray(head.length, head.length + len).every((b) => b === f)) {
        good++;
      }
    }
  } finally {
    conn.close();
  }
  return good;
}

/** Stores `recent:<i>` for i < n, one at a time, after the flood. */
async function writeRecent(port: number, n: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (let i = 0; i < n; i++) {
      const len = lenOf(i);
      const body = new Uint8Array(len + 2).fill(fillOf(i));
      body.set([13, 10], len);
      const head = enc.encode(`set recent:${i} ${i} 0 ${len}\r\n`);
      const msg = new Uint8Array(head.length + body.length);
      msg.set(head);
      msg.set(body, head.length);
      for (let o = 0; o < msg.length;) o += await conn.write(msg.subarray(o));
      const r = new TextDecoder().decode(await readExactly(conn, 8));
      if (r !== "STORED\r\n") throw new Error(`recent ${i}: ${r}`);
    }
  } finally {
    conn.close();
  }
}

Deno.test("memory limit: 320 MB through -m 64 keeps RSS bounded, evicts, keeps recent keys", async () => {
  if (!haveProc()) return void skip("no /proc to read RSS from");
  const srv = await spawnServer(["-m", String(LIMIT_MB)]);
  if (!srv) return void skip("cannot start server");
  try {
    const start = rssMb(srv.pid);
    const peak = rssSampler(srv.pid, 50);
    const counts = await within(
      Promise.all(
        Array.from({ length: WRITERS }, (_, w) => writer(srv.port, w)),
      ),
      45_000,
      "writers",
    );
    await settle(300);
    const peakMb = peak.stop();
    const after = rssMb(srv.pid);
    const st = await stats(srv.port);
    const evictions = Number(st.get("evictions"));
    const bytes = Number(st.get("bytes"));
    console.log(
      `memory limit: wrote ${
        (WRITERS * PER_WRITER / 1048576).toFixed(0)
      } MB in ${counts.reduce((a, b) => a + b)} items; RSS start ${
        start.toFixed(1)
      } MB, peak ${peakMb.toFixed(1)} MB, after ${after.toFixed(1)} MB (bound ${
        LIMIT_MB + ALLOWANCE_MB
      } MB); evictions ${evictions}, bytes ${
        (bytes / 1048576).toFixed(1)
      } MB, curr_items ${st.get("curr_items")}`,
    );
    assert.ok(
      peakMb < LIMIT_MB + ALLOWANCE_MB,
      `RSS peaked at ${peakMb.toFixed(1)} MB`,
    );
    assert.ok(evictions > 0, "no evictions counted");
    assert.equal(Number(st.get("limit_maxbytes")), LIMIT_MB * 1024 * 1024);
    assert.ok(bytes <= LIMIT_MB * 1024 * 1024, `bytes ${bytes} over the limit`);
    // The most recent writes are all there (each size class keeps at least
    // a page, so 100 fresh keys of mixed sizes fit whatever the history).
    await within(writeRecent(srv.port, 100), 20_000, "recent writes");
    const recent = Array.from(
      { length: 100 },
      (_, i) => ({ key: `recent:${i}`, i }),
    );
    assert.equal(
      await within(readable(srv.port, recent), 20_000, "reading recent"),
      100,
    );
    // The flood's own tails: per-class LRUs may have cycled some of them
    // while other writers went on, so report rather than require.
    const tails: number[] = [];
    for (let w = 0; w < WRITERS; w++) {
      const keys = Array.from({ length: 20 }, (_, k) => counts[w] - 20 + k).map(
        (i) => ({ key: `${w}:${i}`, i }),
      );
      tails.push(
        await within(readable(srv.port, keys), 20_000, "reading tails"),
      );
    }
    console.log(
      `memory limit: last 20 keys of each writer still readable: ${
        tails.join(", ")
      }`,
    );
  } finally {
    await srv.stop();
  }
});
