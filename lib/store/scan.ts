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
import type { StoreState } from "./state.ts";
import { Cursor, type ScanVisitor } from "./types.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { LINKED, META } = chunk;

/** {@link Store.scan} over state `s`. */
export function scan(
  s: StoreState,
  cursor: number,
  budget: number,
  visit: ScanVisitor,
): number {
  if (cursor < 0) return Cursor.Done;
  const pool = s.pool;
  const cb = s.cb;
  const now = s.clock.now();
  let p = cursor === Cursor.Start ? 1 : cursor >>> cb;
  let i = cursor === Cursor.Start ? 0 : cursor & s.cm;
  let looked = 0;
  for (; p < pool.u32.length; p++, i = 0) {
    const u = pool.u32[p];
    const cw = pool.cw[p];
    const n = pool.carved[p];
    for (; i < n; i++) {
      if (looked >= budget) return (p << cb) | i;
      looked++;
      const w = i * cw;
      if ((u[w + META] & LINKED) !== 0 && !dead(s, u, w, now)) {
        if (visit((p << cb) | i) === false) return (p << cb) | i;
      }
    }
  }
  return Cursor.Done;
}
