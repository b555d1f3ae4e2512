/**
 * The eviction policy: which linked item of a size class goes next when the
 * class needs a chunk and has no free one. Today it is memcached's classic
 * per class LRU (head = most recent, tail = next victim).
 *
 * This is the only module that knows the policy: it alone reads or writes
 * the chunk words {@link chunk.PREV}/{@link chunk.NEXT} and the per class
 * `lruHead`/`lruTail` arrays of {@link StoreState}. The rest of the store
 * talks to it through six calls — {@link policyLink} (an item was linked),
 * {@link policyUnlink} (it is about to be unlinked), {@link policyHit} (it
 * was read or rewritten in place), {@link policyVictim} (pick what to free),
 * {@link policyOldest} (for `stats items`' age and page choice) and
 * {@link policyWalk} (`stats cachedump`'s order) — so a
 * different policy (S3-FIFO, W-TinyLFU, segmented LRU) is a change here.
 * @module
 */

import * as chunk from "./chunk.ts";
import { dead } from "./liveness.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { NEXT, PREV } = chunk;

/** How many items from the tail a victim search looks at for a dead one. */
const DEAD_SEARCH = 5;

// These run on every hit, so they resolve handles inline rather than
// through u32Of/wordOf.

/** The newly linked item `h` of class `c` enters the policy (LRU head). */
export function policyLink(s: StoreState, h: number, c: number): void {
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

/** Item `h` of class `c` leaves the policy (it is being unlinked). */
export function policyUnlink(s: StoreState, h: number, c: number): void {
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

/** Item `h` of class `c` was accessed (fetched, touched or rewritten). */
export function policyHit(s: StoreState, h: number, c: number): void {
  if (s.lruHead[c] === h) return;
  policyUnlink(s, h, c);
  policyLink(s, h, c);
}

/**
 * The item of class `c` to free next, never `s.pin`: a dead (expired or
 * flushed) one among the last few, else the least recently used; 0 if the
 * class holds nothing but the pinned item. The caller unlinks it (counting a
 * reclaim if it is dead, an eviction if not).
 */
export function policyVictim(s: StoreState, c: number, now: number): number {
  let h = s.lruTail[c];
  for (let tries = 0; h !== 0 && tries < DEAD_SEARCH; tries++) {
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    if (h !== s.pin && dead(s, u, w, now)) return h;
    h = u[w + PREV];
  }
  h = s.lruTail[c];
  while (h !== 0 && h === s.pin) h = u32Of(s, h)[wordOf(s, h) + PREV];
  return h;
}

/**
 * Calls `fn` with the live items of class `c`, the last to be evicted first
 * (most recent first), until it returns false or `maxLooked` items (live or
 * dead) were looked at. `fn` must not write.
 */
export function policyWalk(
  s: StoreState,
  c: number,
  fn: (h: number) => boolean,
  maxLooked = Infinity,
): void {
  const now = s.clock.now();
  let looked = 0;
  for (let h = s.lruHead[c]; h !== 0 && looked++ < maxLooked;) {
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    const next = u[w + NEXT];
    if (!dead(s, u, w, now) && !fn(h)) return;
    h = next;
  }
}

/** The item of class `c` that has waited longest for its turn; 0 if none. */
export function policyOldest(s: StoreState, c: number): number {
  return s.lruTail[c];
}
