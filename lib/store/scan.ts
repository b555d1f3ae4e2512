/**
 * The resumable walk over live items behind {@link Store.scan}.
 *
 * The cursor is the handle of the next chunk to look at,
 * `(page << chunkBits) | index`. Page slot 0 is never used, so 0 is free to
 * mean "start" ({@link Cursor.Start}); -1 means done. Walking in page/chunk
 * order needs no other state, so a cursor survives any writes between slices
 * (see the interface for what a slice may then miss).
 * @module
 */

import * as chunk from "./chunk.ts";
import { dead } from "./liveness.ts";
import { hashOf } from "./hash_index.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";
import { enterKey, releaseKey, syncViews } from "./sync.ts";
import { Cursor, type ScanVisitor } from "./types.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { LINKED, META } = chunk;

/**
 * Takes the stripe of item `h` (shared stores), then checks that it is
 * still linked, live and the same key (it was met unlocked).
 */
function holdItem(s: StoreState, h: number): boolean {
  const hv = hashOf(s, h);
  enterKey(s, hv);
  const u = u32Of(s, h);
  const w = wordOf(s, h);
  return (u[w + META] & LINKED) !== 0 && !dead(s, u, w, s.clock.now()) &&
    hashOf(s, h) === hv;
}

/**
 * {@link Store.scan} over state `s`. In a shared store each item is
 * visited holding its key's stripe, so it is whole and stays put during
 * the visit; the stripe is let go when the call returns.
 */
export function scan(
  s: StoreState,
  cursor: number,
  budget: number,
  visit: ScanVisitor,
): number {
  if (cursor < 0) return Cursor.Done;
  if (s.shared) syncViews(s); // pages other loops added since
  const pool = s.pool;
  const cb = s.cb;
  const now = s.clock.now();
  let p = cursor === Cursor.Start ? 1 : cursor >>> cb;
  let i = cursor === Cursor.Start ? 0 : cursor & s.cm;
  let looked = 0;
  try {
    for (; p < pool.u32.length; p++, i = 0) {
      const u = pool.u32[p];
      for (; i < pool.carved[p]; i++) {
        if (looked >= budget) return (p << cb) | i;
        looked++;
        const w = i * pool.cw[p];
        if ((u[w + META] & LINKED) === 0 || dead(s, u, w, now)) continue;
        const h = (p << cb) | i;
        if (s.shared && !holdItem(s, h)) continue;
        if (visit(h) === false) return h;
      }
    }
    return Cursor.Done;
  } finally {
    releaseKey(s);
  }
}
