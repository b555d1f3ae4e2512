/**
 * Per size class free lists: carved chunks that hold no item.
 *
 * A free chunk is in no hash chain, so the list threads through its
 * {@link chunk.HNEXT} word (singly linked, handle 0 ends it) and leaves the
 * words the eviction policy owns (`policy.ts`) alone.
 * @module
 */

import * as chunk from "./chunk.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { HNEXT } = chunk;

/**
 * Adds the now empty chunk `h` to class `c`'s free list, unless its page is
 * being drained (the page is leaving the class; see `evict.ts`).
 */
export function freePush(s: StoreState, h: number, c: number): void {
  if (h >>> s.cb === s.drainPage) return;
  u32Of(s, h)[wordOf(s, h) + HNEXT] = s.freeHead[c];
  s.freeHead[c] = h;
  s.freeCount[c]++;
}

/** Takes a chunk off class `c`'s free list; 0 if it is empty. */
export function freePop(s: StoreState, c: number): number {
  const h = s.freeHead[c];
  if (h === 0) return 0;
  s.freeHead[c] = u32Of(s, h)[wordOf(s, h) + HNEXT];
  s.freeCount[c]--;
  return h;
}

/**
 * Takes every chunk of page `p` off class `c`'s free list (the page is
 * leaving the class). One walk of the list: this runs only on page moves.
 */
export function freeDropPage(s: StoreState, c: number, p: number): void {
  const cb = s.cb;
  let prev = 0;
  let h = s.freeHead[c];
  while (h !== 0) {
    const next = u32Of(s, h)[wordOf(s, h) + HNEXT];
    if (h >>> cb === p) {
      if (prev === 0) s.freeHead[c] = next;
      else u32Of(s, prev)[wordOf(s, prev) + HNEXT] = next;
      s.freeCount[c]--;
    } else {
      prev = h;
    }
    h = next;
  }
}
