/**
 * Per size class doubly linked lists over chunk headers: the LRU of linked
 * items (head = most recent, tail = next to evict) and the free list of
 * carved chunks that hold no item.
 *
 * Both lists thread through the same PREV/NEXT header words (a chunk is on
 * exactly one of them), with handle 0 as the end marker. List heads and
 * tails live in the per class arrays of {@link StoreState}.
 * @module
 */

import * as chunk from "./chunk.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { NEXT, PREV } = chunk;

// The LRU functions run on every hit, so they resolve handles inline rather
// than through u32Of/wordOf.

/** Puts item `h` at the head (most recent end) of class `c`'s LRU. */
export function lruLinkHead(s: StoreState, h: number, c: number): void {
  const pool = s.pool;
  const cb = s.cb;
  const cm = s.cm;
  const p = h >>> cb;
  const u = pool.u32[p];
  const w = (h & cm) * pool.cw[p];
  const head = s.lruHead[c];
  u[w + PREV] = 0;
  u[w + NEXT] = head;
  if (head !== 0) {
    const hp = head >>> cb;
    pool.u32[hp][(head & cm) * pool.cw[hp] + PREV] = h;
  } else {
    s.lruTail[c] = h;
  }
  s.lruHead[c] = h;
}

/** Takes item `h` out of class `c`'s LRU. */
export function lruUnlink(s: StoreState, h: number, c: number): void {
  const pool = s.pool;
  const cb = s.cb;
  const cm = s.cm;
  const p = h >>> cb;
  const u = pool.u32[p];
  const w = (h & cm) * pool.cw[p];
  const prev = u[w + PREV];
  const next = u[w + NEXT];
  if (prev !== 0) {
    const pp = prev >>> cb;
    pool.u32[pp][(prev & cm) * pool.cw[pp] + NEXT] = next;
  } else {
    s.lruHead[c] = next;
  }
  if (next !== 0) {
    const np = next >>> cb;
    pool.u32[np][(next & cm) * pool.cw[np] + PREV] = prev;
  } else {
    s.lruTail[c] = prev;
  }
}

/** Moves item `h` to the head of class `c`'s LRU (on access). */
export function lruBump(s: StoreState, h: number, c: number): void {
  if (s.lruHead[c] === h) return;
  lruUnlink(s, h, c);
  lruLinkHead(s, h, c);
}

/** Sets the PREV word of chunk `h`. */
function setPrev(s: StoreState, h: number, v: number): void {
  u32Of(s, h)[wordOf(s, h) + PREV] = v;
}

/** Sets the NEXT word of chunk `h`. */
function setNext(s: StoreState, h: number, v: number): void {
  u32Of(s, h)[wordOf(s, h) + NEXT] = v;
}

/** Adds the now empty chunk `h` to class `c`'s free list. */
export function freePush(s: StoreState, h: number, c: number): void {
  const u = u32Of(s, h);
  const w = wordOf(s, h);
  const head = s.freeHead[c];
  u[w + PREV] = 0;
  u[w + NEXT] = head;
  if (head !== 0) setPrev(s, head, h);
  s.freeHead[c] = h;
  s.freeCount[c]++;
}

/** Takes chunk `h` off class `c`'s free list. */
export function freeRemove(s: StoreState, h: number, c: number): void {
  const u = u32Of(s, h);
  const w = wordOf(s, h);
  const prev = u[w + PREV];
  const next = u[w + NEXT];
  if (prev !== 0) setNext(s, prev, next);
  else s.freeHead[c] = next;
  if (next !== 0) setPrev(s, next, prev);
  s.freeCount[c]--;
}
