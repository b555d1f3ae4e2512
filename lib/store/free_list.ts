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

/**
 * Takes a chunk off class `c`'s free list; 0 if it is empty. Chunks of the
 * page being drained still on the list are dropped on the way.
 */
export function freePop(s: StoreState, c: number): number {
  let h = s.freeHead[c];
  while (h !== 0) {
    const next = u32Of(s, h)[wordOf(s, h) + HNEXT];
    s.freeHead[c] = next;
    s.freeCount[c]--;
    // The drop walk's place left the list: it restarts at the head, where
    // only chunks pushed since (none of the drained page) precede it.
    if (h === s.dropPrev) s.dropPrev = 0;
    if (h >>> s.cb !== s.drainPage) return h;
    h = next;
  }
  return 0;
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
      if (h === s.dropPrev) s.dropPrev = prev;
    } else {
      prev = h;
    }
    h = next;
  }
}

/**
 * One bounded piece of taking `s.drainPage`'s chunks off class `c`'s free
 * list: walks up to `budget` entries from where the last piece stopped
 * (`s.dropPrev`) and clears `s.dropping` at the end of the list. Returns
 * how many entries it walked.
 */
export function freeDropStep(s: StoreState, c: number, budget: number): number {
  const cb = s.cb;
  const p = s.drainPage;
  let prev = s.dropPrev;
  let h = prev === 0 ? s.freeHead[c] : u32Of(s, prev)[wordOf(s, prev) + HNEXT];
  let n = 0;
  for (; h !== 0 && n < budget; n++) {
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
  s.dropPrev = prev;
  if (h === 0) s.dropping = false;
  return n;
}
