/**
 * Liveness of an item: expired, flushed (see the flush watermarks in
 * `expiry.ts`) or live. Pure reads of a chunk header and the state's
 * watermarks, with no imports beyond layout and state, so both the expiry
 * code and the eviction policy can ask.
 * @module
 */

import * as chunk from "./chunk.ts";
import type { StoreState } from "./state.ts";
import { Miss } from "./types.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { ATIME, CASHI, CASLO, EXP, TWO32 } = chunk;

/**
 * Why the item at word `w` of page view `u` is dead at `now`: flushed or
 * expired (checked in memcached's order: flushed first), else
 * {@link Miss.None}.
 */
export function deadReason(
  s: StoreState,
  u: Uint32Array,
  w: number,
  now: number,
): Miss {
  const fa = s.flushAt;
  if (fa !== 0 && now >= fa) {
    const t = u[w + ATIME];
    if (
      t < fa ||
      (t === fa && u[w + CASHI] * TWO32 + u[w + CASLO] <= s.flushCas)
    ) return Miss.Flushed;
  }
  const pa = s.pastFlushAt;
  if (pa !== 0) {
    const t = u[w + ATIME];
    if (
      t < pa ||
      (t === pa && u[w + CASHI] * TWO32 + u[w + CASLO] <= s.pastFlushCas)
    ) return Miss.Flushed;
  }
  const exp = u[w + EXP];
  return exp !== 0 && exp <= now ? Miss.Expired : Miss.None;
}

/** Whether the item at word `w` of page view `u` is expired or flushed at `now`. */
export function dead(
  s: StoreState,
  u: Uint32Array,
  w: number,
  now: number,
): boolean {
  return deadReason(s, u, w, now) !== Miss.None;
}
