/**
 * Reservations (lib/store/reserve.ts): an item allocated when a set's line
 * arrives, filled as its value comes, checked and linked at the end.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { createStore } from "../lib/store/store.ts";
import { Mode, newResult, Status, type Store } from "../lib/store/types.ts";

const MiB = 1024 * 1024;
const enc = new TextEncoder();

function mk(limit = 64 * MiB): Store {
  return createStore({
    limitBytes: limit,
    maxItemSize: MiB,
    clock: manualClock(),
  });
}

function value(st: Store, key: string): string | null {
  const k = enc.encode(key);
  const h = st.find(k, 0, k.length);
  if (h < 0) return null;
  const b = st.valueBytes(h);
  const s = st.valueStart(h);
  return new TextDecoder().decode(b.subarray(s, s + st.valueLen(h)));
}

/** Reserves `key`, fills it with `v` in two pieces, commits under `mode`. */
function upload(
  st: Store,
  mode: Mode,
  key: string,
  v: string,
  cas = 0,
): Status {
  const k = enc.encode(key);
  const b = enc.encode(v);
  const h = st.reserve(k, 0, k.length, 7, 0, b.length);
  assert.ok(h >= 0);
  const half = b.length >> 1;
  st.fillReserved(h, 0, b, 0, half);
  st.fillReserved(h, half, b, half, b.length - half);
  const r = newResult();
  const got = st.commitReserved(mode, h, cas, r);
  if (got === Status.Stored) {
    assert.equal(r.handle, h);
    assert.equal(st.flagsOf(h), 7);
  } else st.dropReserved(h);
  return got;
}

Deno.test("reserve: invisible until committed, then the item; the old one goes", () => {
  const st = mk();
  const k = enc.encode("k");
  const v = enc.encode("old");
  assert.equal(st.store(Mode.Set, k, 0, 1, 0, 0, v, 0, 3, 0), Status.Stored);
  const h = st.reserve(k, 0, 1, 1, 0, 5);
  st.fillReserved(h, 0, enc.encode("fresh"), 0, 5);
  // Still the old value, and one item, while the new one arrives.
  assert.equal(value(st, "k"), "old");
  assert.equal(st.stats.currItems, 1);
  assert.equal(st.commitReserved(Mode.Set, h, 0), Status.Stored);
  assert.equal(value(st, "k"), "fresh");
  assert.equal(st.stats.currItems, 1);
});

Deno.test("reserve: add, replace and cas are checked when the value is complete", () => {
  const st = mk();
  assert.equal(upload(st, Mode.Replace, "a", "x"), Status.NotStored);
  assert.equal(upload(st, Mode.Add, "a", "first"), Status.Stored);
  assert.equal(upload(st, Mode.Add, "a", "second"), Status.NotStored);
  assert.equal(value(st, "a"), "first");
  assert.equal(upload(st, Mode.Replace, "a", "third"), Status.Stored);
  assert.equal(upload(st, Mode.Cas, "b", "x", 1), Status.NotFound);
  const ka = enc.encode("a");
  const cas = st.casOf(st.find(ka, 0, 1));
  assert.equal(upload(st, Mode.Cas, "a", "no", cas + 1), Status.Exists);
  assert.equal(upload(st, Mode.Cas, "a", "yes", cas), Status.Stored);
  assert.equal(value(st, "a"), "yes");
  assert.ok(st.casOf(st.find(ka, 0, 1)) > cas);
});

Deno.test("reserve: dropped reservations free their chunks; a full cache evicts for them", () => {
  // Two pages' worth of -m: reservations of 300 KB come out of it.
  const st = mk(2 * MiB);
  const big = "v".repeat(300 * 1024);
  for (let i = 0; i < 50; i++) {
    const k = enc.encode(`drop${i}`);
    const h = st.reserve(k, 0, k.length, 0, 0, big.length);
    assert.ok(h >= 0, `reservation ${i}`);
    st.dropReserved(h);
  }
  assert.equal(st.stats.currItems, 0);
  for (let i = 0; i < 20; i++) {
    assert.equal(upload(st, Mode.Set, `key${i}`, big), Status.Stored);
  }
  assert.ok(st.stats.evictions > 0);
  assert.equal(value(st, "key19"), big);
  // Reserved chunks are never evicted: hold all a class can have.
  const held: number[] = [];
  for (let i = 0; i < 20; i++) {
    const k = enc.encode(`held${i}`);
    const h = st.reserve(k, 0, k.length, 0, 0, big.length);
    if (h < 0) break;
    st.fillReserved(h, 0, enc.encode(big), 0, big.length);
    held.push(h);
  }
  assert.ok(held.length >= 1);
  const r = newResult();
  for (const h of held) {
    assert.equal(st.commitReserved(Mode.Set, h, 0, r), Status.Stored);
    assert.equal(
      new TextDecoder().decode(
        st.valueBytes(h).subarray(st.valueStart(h), st.valueStart(h) + 5),
      ),
      "vvvvv",
    );
  }
});
