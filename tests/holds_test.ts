/**
 * Reader holds (lib/store/holds.ts): a held item's bytes survive a rewrite,
 * a delete and eviction pressure until the last hold ends, then its chunk
 * is reused; a held page is never moved to another class. Each runs on a
 * one-loop store and on a shared one (`-t N`), where one loop holds and
 * another writes.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { attachStore, createSharedStore } from "../lib/store/shared.ts";
import { createStore } from "../lib/store/store.ts";
import {
  Mode,
  newResult,
  Status,
  type Store,
  type StoreOptions,
} from "../lib/store/types.ts";

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

/** A reader and a writer store: one store, or two loops of a shared one. */
function pair(shared: boolean, opts: StoreOptions): [Store, Store] {
  if (!shared) {
    const st = createStore(opts);
    return [st, st];
  }
  const { store, handle } = createSharedStore(opts, 1);
  return [store, attachStore(handle, 1, opts.clock)];
}

/** Runs `st`'s op, then lets go of the key lock (one thread plays two loops). */
function done<T>(st: Store, v: T): T {
  st.release();
  return v;
}

function bytesOf(st: Store, h: number): Uint8Array {
  const o = st.valueStart(h);
  return st.valueBytes(h).subarray(o, o + st.valueLen(h));
}

for (const shared of [false, true]) {
  const tag = shared ? "[shared]" : "[one loop]";

  Deno.test(`holds: a held value outlives its rewrite and delete, then its chunk is reused ${tag}`, () => {
    const [rd, wr] = pair(shared, {
      limitBytes: 4 << 20,
      maxItemSize: 1 << 20,
      clock: manualClock(),
    });
    const a = new Uint8Array(100_000).fill(97);
    const h = put(rd, "k", a);
    assert.equal(rd.hold(h), true);
    const view = bytesOf(rd, h);
    rd.release();
    // Same class: without the hold this would be written in place.
    const h2 = done(wr, put(wr, "k", new Uint8Array(100_000).fill(98)));
    assert.notEqual(h2, h);
    assert.ok(view.every((b) => b === 97), "held bytes changed");
    const kb = enc.encode("k");
    assert.equal(done(wr, wr.remove(kb, 0, 1)), Status.Deleted);
    // Fill the memory: evictions never take the held (zombie) chunk.
    for (let i = 0; i < 200; i++) {
      done(wr, put(wr, `f${i}`, new Uint8Array(100_000).fill(99)));
    }
    assert.ok(view.every((b) => b === 97), "held bytes reused");
    // The last hold ends in the loop that did not unlink it.
    rd.unhold(h);
    // Freed now: the next allocations of the class may take it.
    let reused = false;
    for (let i = 0; i < 200 && !reused; i++) {
      reused =
        done(wr, put(wr, `g${i}`, new Uint8Array(100_000).fill(100))) === h;
    }
    assert.ok(reused, "the chunk never came back after the last hold");
  });

  Deno.test(`holds: a held page is not moved to another class ${tag}`, () => {
    const [rd, wr] = pair(shared, {
      limitBytes: 2 << 20,
      maxItemSize: 1 << 20,
      clock: manualClock(),
    });
    const h = put(rd, "big", new Uint8Array(200_000).fill(7));
    assert.equal(rd.hold(h), true);
    rd.release();
    // Small items of another class: past the limit they may only take pages
    // by moving them; the held page must stay.
    for (let i = 0; i < 40_000; i++) {
      done(wr, put(wr, `s${i}`, new Uint8Array(40).fill(1)));
    }
    assert.ok(bytesOf(rd, h).every((b) => b === 7));
    assert.equal(rd.classOf(h) !== 0, true);
    rd.unhold(h);
  });

  Deno.test(`holds: many holds in one loop free the chunk with the last ${tag}`, () => {
    const [rd, wr] = pair(shared, {
      limitBytes: 4 << 20,
      maxItemSize: 1 << 20,
      clock: manualClock(),
    });
    const h = put(rd, "k", new Uint8Array(70_000).fill(1));
    // 500 replies queued for one value, as non-reading clients make.
    for (let i = 0; i < 500; i++) assert.equal(rd.hold(h), true);
    rd.release();
    done(wr, wr.remove(enc.encode("k"), 0, 1));
    const reusedBy = (tries: number, v: number) => {
      for (let i = 0; i < tries; i++) {
        const g = done(
          wr,
          put(wr, `g${v}:${i}`, new Uint8Array(70_000).fill(v)),
        );
        if (g === h) return true;
      }
      return false;
    };
    for (let i = 0; i < 499; i++) rd.unhold(h);
    assert.equal(reusedBy(100, 2), false, "freed while still held");
    rd.unhold(h);
    // Another unhold of a freed chunk changes nothing.
    rd.unhold(h);
    assert.ok(
      reusedBy(100, 3),
      "the chunk never came back after the last hold",
    );
  });
}
