/**
 * The store settles back to `-m` and gives memory back at once: a size
 * class's first page past the limit is paid for by a page of another class
 * (`fitTask`, lib/protocol/admin.ts), and a released page's bytes are freed
 * when it is released, not at some later garbage collection.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { fitTask } from "../lib/protocol/admin.ts";
import { createStore } from "../lib/store/store.ts";
import { Mode, Status, type Store } from "../lib/store/types.ts";

const MiB = 1024 * 1024;
const enc = new TextEncoder();

function put(st: Store, key: string, size: number): Status {
  const k = enc.encode(key);
  const v = new Uint8Array(size).fill(97);
  return st.store(Mode.Set, k, 0, k.length, 0, 0, v, 0, size, 0);
}

Deno.test("fitTask: a new class's page past -m is given back by another class", () => {
  const st = createStore({
    limitBytes: 8 * MiB,
    maxItemSize: MiB,
    clock: manualClock(),
  });
  for (let i = 0; i < 40_000; i++) put(st, `small${i}`, 400);
  assert.equal(st.stats.totalMalloced, 8 * MiB);
  // A class with no page gets one even at the limit, as in memcached...
  for (const size of [5000, 9000, 20000, 60000]) {
    assert.equal(put(st, `big${size}`, size), Status.Stored);
  }
  assert.ok(st.stats.totalMalloced > 8 * MiB);
  // ...and the fit drains pages of other classes until the store is back.
  const step = fitTask(st);
  let steps = 0;
  while (step()) steps++;
  assert.ok(steps < 10_000);
  assert.equal(st.stats.totalMalloced, 8 * MiB);
  const k = enc.encode("big60000");
  assert.ok(st.find(k, 0, k.length) >= 0, "the new class kept its item");
  assert.equal(fitTask(st)(), false, "nothing to do under the limit");
});

Deno.test("released pages free their memory at once", () => {
  const st = createStore({
    limitBytes: 48 * MiB,
    maxItemSize: MiB,
    clock: manualClock(),
  });
  for (let i = 0; i < 90_000; i++) put(st, `k${i}`, 500);
  const before = Deno.memoryUsage().external;
  st.setLimit(8 * MiB);
  assert.equal(st.stats.totalMalloced, 8 * MiB);
  // No GC ran in between: the 40 pages' bytes went back when released.
  const freed = before - Deno.memoryUsage().external;
  assert.ok(freed >= 35 * MiB, `external memory fell by ${freed >> 20} MiB`);
});
