/**
 * Micro-benchmark of the item store: find/store ops per second with 16-byte
 * keys and 32-byte values, and memory per item for 1,000,000 items of
 * 16-byte key + 100-byte value.
 *
 * Run: `deno run --v8-flags=--expose-gc bench/store_bench.ts [--no-mem]`
 * @module
 */

import type { Clock } from "../lib/clock.ts";
import { createStore } from "../lib/store/store.ts";
import { Mode } from "../lib/store/types.ts";

const MiB = 1 << 20;

/** A clock the loop advances by hand, like the server's cached clock. */
const clock: Clock = { now: () => 1_700_000_000 };

/** Writes key number `i` as 16 ASCII bytes ("key:" + 12 digits) into `buf`. */
function writeKey(buf: Uint8Array, off: number, i: number): void {
  buf[off] = 107;
  buf[off + 1] = 101;
  buf[off + 2] = 121;
  buf[off + 3] = 58;
  for (let j = 15; j >= 4; j--) {
    buf[off + j] = 48 + (i % 10);
    i = Math.floor(i / 10);
  }
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

function opsBench(): void {
  const n = 100_000;
  const s = createStore({ limitBytes: 256 * MiB, maxItemSize: MiB, clock });
  const keys = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) writeKey(keys, i * 16, i * 7919);
  const val = new Uint8Array(32).fill(120);
  const rounds = 20;
  // warm up
  for (let i = 0; i < n; i++) {
    s.store(Mode.Set, keys, i * 16, 16, 0, 0, val, 0, 32, 0);
  }
  let t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      s.store(Mode.Set, keys, i * 16, 16, r, 0, val, 0, 32, 0);
    }
  }
  let dt = performance.now() - t;
  console.log(`store: ${(n * rounds / dt * 1000 / 1e6).toFixed(2)} M ops/s`);
  let hits = 0;
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) if (s.find(keys, i * 16, 16) >= 0) hits++;
  }
  dt = performance.now() - t;
  console.log(
    `find:  ${
      (n * rounds / dt * 1000 / 1e6).toFixed(2)
    } M ops/s (hits ${hits})`,
  );
  // misses
  for (let i = 0; i < n; i++) keys[i * 16 + 3] = 59;
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) if (s.find(keys, i * 16, 16) >= 0) hits++;
  }
  dt = performance.now() - t;
  console.log(`miss:  ${(n * rounds / dt * 1000 / 1e6).toFixed(2)} M ops/s`);
}

function memBench(): void {
  const n = 1_000_000;
  const key = new Uint8Array(16);
  const val = new Uint8Array(100).fill(118);
  gc();
  const rss0 = Deno.memoryUsage().rss;
  const s = createStore({ limitBytes: 1024 * MiB, maxItemSize: MiB, clock });
  for (let i = 0; i < n; i++) {
    writeKey(key, 0, i);
    s.store(Mode.Set, key, 0, 16, 0, 0, val, 0, 100, 0);
  }
  gc();
  const rss1 = Deno.memoryUsage().rss;
  const buckets = 4 * 2 ** Math.ceil(Math.log2(n / 1.5));
  console.log(
    `items ${s.stats.currItems}, pages ${s.stats.totalMalloced / MiB} MiB, ` +
      `pages+index ${
        ((s.stats.totalMalloced + buckets) / n).toFixed(1)
      } B/item, ` +
      `rss growth ${((rss1 - rss0) / n).toFixed(1)} B/item`,
  );
}

opsBench();
if (!Deno.args.includes("--no-mem")) memBench();
