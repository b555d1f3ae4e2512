/**
 * Reader holds (lib/store/holds.ts): a held item's bytes survive a rewrite,
 * a delete and eviction pressure until the last hold ends, then its chunk
 * is reused; a held page is never moved to another class.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { createStore } from "../lib/store/store.ts";
import { Mode, newResult, Status, type Store } from "../lib/store/types.ts";

const enc = new TextEncoder();

function put(st: Store, k: string, v: Uint8Array): number {
  const kb = enc.encode(k);
  const r = newResult();
  assert.equal(
    st.store(Mode.Set, kb, 0, kb.length, 0, 0, v, 0, v.length, 0, r),
    Status.Stored,
  );
  return r.handle;
}

function bytesOf(st: Store, h: number): Uint8Array {
  const o = st.valueStart(h);
  return st.valueBytes(h).subarray(o, o + st.valueLen(h));
}

Deno.test("holds: a held value outlives its rewrite and delete, then its chunk is reused", () => {
  const st = createStore({
    limitBytes: 4 << 20,
    maxItemSize: 1 << 20,
    clock: manualClock(),
  });
  const a = new Uint8Array(100_000).fill(97);
  const h = put(st, "k", a);
  st.hold(h);
  const view = bytesOf(st, h);
  // Same class: without the hold this would be written in place.
  const h2 = put(st, "k", new Uint8Array(100_000).fill(98));
  assert.notEqual(h2, h);
  assert.ok(view.every((b) => b === 97), "held bytes changed");
  const kb = enc.encode("k");
  assert.equal(st.remove(kb, 0, 1), Status.Deleted);
  // Fill the memory: evictions never take the held (zombie) chunk.
  for (let i = 0; i < 200; i++) {
    put(st, `f${i}`, new Uint8Array(100_000).fill(99));
  }
  assert.ok(view.every((b) => b === 97), "held bytes reused");
  st.unhold(h);
  // Freed now: the next allocations of the class may take it.
  let reused = false;
  for (let i = 0; i < 200 && !reused; i++) {
    reused = put(st, `g${i}`, new Uint8Array(100_000).fill(100)) === h;
  }
  assert.ok(reused, "the chunk never came back after the last hold");
});

Deno.test("holds: a page with a held item is not moved to another class", () => {
  const st = createStore({
    limitBytes: 2 << 20,
    maxItemSize: 1 << 20,
    clock: manualClock(),
  });
  const h = put(st, "big", new Uint8Array(200_000).fill(7));
  st.hold(h);
  // Small items of another class: past the limit they may only take pages
  // by moving them; the held page must stay.
  for (let i = 0; i < 40_000; i++) put(st, `s${i}`, new Uint8Array(40).fill(1));
  assert.ok(bytesOf(st, h).every((b) => b === 7));
  assert.equal(st.classOf(h) !== 0, true);
  st.unhold(h);
});
