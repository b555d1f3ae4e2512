/**
 * The eviction policy: which linked item of a size class goes next when the
 * class needs a chunk and has no free one. It is S3-FIFO (Yang et al., SOSP
 * '23, "FIFO queues are all you need for cache eviction"), per size class:
 *
 * - a new item enters the class's *small* FIFO, unless its key hash is in
 *   the *ghost* (it was evicted from a small FIFO recently), then it enters
 *   the *main* FIFO;
 * - a hit only raises the item's 2-bit frequency (no list move);
 * - to evict, while the small FIFO holds over 10% of the class's items its
 *   oldest item goes: to the main FIFO if it was hit since it came in, else
 *   out (its hash into the ghost); otherwise the main FIFO's oldest goes out
 *   if its frequency is 0, else it is reinserted with frequency − 1.
 *
 * One-hit wonders (scans) thus leave through the small FIFO without pushing
 * out the working set, which memcached's LRU lets them do.
 *
 * This is the only module that knows the policy: it alone reads or writes
 * the chunk words {@link chunk.PREV}/{@link chunk.NEXT}, the policy bits of
 * {@link chunk.META} ({@link chunk.POLICY_BITS}) and the policy fields of
 * {@link StoreState}. The rest of the store talks to it through seven calls —
 * {@link policyLink} (an item was linked), {@link policyUnlink} (it is about
 * to be unlinked), {@link policyHit} (it was read or rewritten in place),
 * {@link policyVictim} (pick what to free), {@link policyOldest} (for `stats
 * items`' age and page choice), {@link policyWalk} (`stats cachedump`'s
 * order) and {@link policySkip} (a victim another loop holds).
 * @module
 */

import { setMetaBits } from "./chunk.ts";
import * as chunk from "./chunk.ts";
import { hashBytes } from "./hash.ts";
import { dead } from "./liveness.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { ATIME, HDR, KLEN_MASK, META, NEXT, PREV } = chunk;

/** META bit: the item is in the main FIFO (else the small one). */
const MAIN = 1 << 24;
/** Where the 2-bit access frequency sits in META. */
const FREQ_SHIFT = 25;
/** The frequency bits in place. */
const FREQ = 3 << FREQ_SHIFT;
/** How many items from each tail a victim search looks at for a dead one. */
const DEAD_SEARCH = 5;
/**
 * Most queue moves one eviction makes before it takes the tail anyway, so
 * an eviction stays bounded when every item was hit (three passes at worst
 * otherwise).
 */
const MAX_MOVES = 64;
/** The small FIFO's share of a class's items is 1 / SMALL_SHARE. */
const SMALL_SHARE = 10;

/** Puts `h` at the head of class `c`'s main (or small) FIFO. */
function pushHead(s: StoreState, h: number, c: number, main: boolean): void {
  const pool = s.pool;
  const cb = s.cb;
  const cm = s.cm;
  const p = h >>> cb;
  const u = pool.u32[p];
  const w = (h & cm) * pool.cw[p];
  const head = main ? s.lruHead[c] : s.smallHead[c];
  u[w + PREV] = 0;
  u[w + NEXT] = head;
  if (head !== 0) {
    const hp = head >>> cb;
    pool.u32[hp][(head & cm) * pool.cw[hp] + PREV] = h;
  } else if (main) {
    s.lruTail[c] = h;
  } else {
    s.smallTail[c] = h;
  }
  if (main) {
    s.lruHead[c] = h;
    setMetaBits(s.shared, u, w + META, MAIN, MAIN);
  } else {
    s.smallHead[c] = h;
    s.smallCount[c]++;
    setMetaBits(s.shared, u, w + META, MAIN, 0);
  }
}

/** Takes `h` out of whichever FIFO of class `c` holds it. */
function detach(s: StoreState, h: number, c: number): void {
  const pool = s.pool;
  const cb = s.cb;
  const cm = s.cm;
  const p = h >>> cb;
  const u = pool.u32[p];
  const w = (h & cm) * pool.cw[p];
  const main = (u[w + META] & MAIN) !== 0;
  const prev = u[w + PREV];
  const next = u[w + NEXT];
  if (prev !== 0) {
    const pp = prev >>> cb;
    pool.u32[pp][(prev & cm) * pool.cw[pp] + NEXT] = next;
  } else if (main) {
    s.lruHead[c] = next;
  } else {
    s.smallHead[c] = next;
  }
  if (next !== 0) {
    const np = next >>> cb;
    pool.u32[np][(next & cm) * pool.cw[np] + PREV] = prev;
  } else if (main) {
    s.lruTail[c] = prev;
  } else {
    s.smallTail[c] = prev;
  }
  if (!main) s.smallCount[c]--;
}

/** The ghost slot of key hash `hv`, the ghost growing with the hash index. */
function ghostSlot(s: StoreState, hv: number): number {
  if (s.ghost.length < s.buckets.length) {
    s.ghost = new Uint32Array(s.buckets.length);
  }
  return hv & (s.ghost.length - 1);
}

/**
 * The newly linked item `h` of class `c`, key hash `hv`, enters the policy:
 * the main FIFO if the ghost remembers its key, else the small FIFO.
 */
export function policyLink(
  s: StoreState,
  h: number,
  c: number,
  hv: number,
): void {
  const g = ghostSlot(s, hv);
  const fp = hv | 1;
  const main = s.ghost[g] === fp;
  if (main) s.ghost[g] = 0;
  setMetaBits(s.shared, u32Of(s, h), wordOf(s, h) + META, FREQ, 0);
  pushHead(s, h, c, main);
}

/** Item `h` of class `c` leaves the policy (it is being unlinked). */
export function policyUnlink(s: StoreState, h: number, c: number): void {
  detach(s, h, c);
}

/** Item `h` of class `c` was accessed (fetched, touched or rewritten). */
export function policyHit(s: StoreState, h: number, _c: number): void {
  const pool = s.pool;
  const p = h >>> s.cb;
  const u = pool.u32[p];
  const w = (h & s.cm) * pool.cw[p];
  const m = u[w + META];
  if ((m & FREQ) === FREQ) return;
  if (!s.shared) {
    u[w + META] = m + (1 << FREQ_SHIFT);
    return;
  }
  // Only the key's stripe is held: the class lock's holder may be moving
  // this item between queues (its MAIN bit), so add without losing that.
  const f = (m & FREQ) >>> FREQ_SHIFT;
  setMetaBits(s.shared, u, w + META, FREQ, (f + 1) << FREQ_SHIFT);
}

/** A dead item, not pinned, among the last few of the FIFO from `h` on; 0 if none. */
function deadNear(s: StoreState, h: number, now: number): number {
  for (let tries = 0; h !== 0 && tries < DEAD_SEARCH; tries++) {
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    if (h !== s.pin && dead(s, u, w, now)) return h;
    h = u[w + PREV];
  }
  return 0;
}

/** The oldest item of a FIFO (from tail `h`) that is not the pinned one. */
function unpinned(s: StoreState, h: number): number {
  if (h !== 0 && h === s.pin) return u32Of(s, h)[wordOf(s, h) + PREV];
  return h;
}

/** Remembers the key hash of item `h` (leaving the small FIFO) in the ghost. */
function ghostAdd(s: StoreState, h: number): void {
  const p = h >>> s.cb;
  const w = (h & s.cm) * s.pool.cw[p];
  const klen = s.pool.u32[p][w + META] & KLEN_MASK;
  const hv = hashBytes(s.pool.u8[p], (w << 2) + HDR, klen);
  s.ghost[ghostSlot(s, hv)] = hv | 1;
}

/**
 * The item of class `c` to free next, never `s.pin`: a dead (expired or
 * flushed) one near a FIFO's tail, else S3-FIFO's victim (moving the hit
 * items it passes); 0 if the class holds nothing but the pinned item. The
 * caller unlinks it (counting a reclaim if it is dead, an eviction if not).
 */
export function policyVictim(s: StoreState, c: number, now: number): number {
  const d = deadNear(s, s.smallTail[c], now) ||
    deadNear(s, s.lruTail[c], now);
  if (d !== 0) return d;
  for (let moves = 0;; moves++) {
    const sc = s.smallCount[c];
    let small = sc > 0 &&
      (sc * SMALL_SHARE >= s.items[c] || unpinned(s, s.lruTail[c]) === 0);
    let h = unpinned(s, small ? s.smallTail[c] : s.lruTail[c]);
    if (h === 0) {
      small = !small;
      h = unpinned(s, small ? s.smallTail[c] : s.lruTail[c]);
      if (h === 0) return 0;
    }
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    const m = u[w + META];
    if (moves < MAX_MOVES && (m & FREQ) !== 0) {
      detach(s, h, c);
      // Into (or back into) the main FIFO: from the small one with its
      // count cleared, within the main one with one use spent.
      const f = small ? 0 : ((m & FREQ) >>> FREQ_SHIFT) - 1;
      setMetaBits(s.shared, u, w + META, FREQ, f << FREQ_SHIFT);
      pushHead(s, h, c, true);
      continue;
    }
    if (small) ghostAdd(s, h);
    return h;
  }
}

/**
 * Victim `h` of class `c` could not be taken (another loop holds its key):
 * it goes to the head of the main FIFO, as if it had been hit, so the next
 * victim search looks elsewhere.
 */
export function policySkip(s: StoreState, h: number, c: number): void {
  detach(s, h, c);
  pushHead(s, h, c, true);
}

/**
 * Walks the list from `h` until its end (0), or the first item the budget
 * or `fn` refused (that item: where a walk resumes).
 */
function walkFrom(
  s: StoreState,
  h: number,
  now: number,
  fn: (h: number) => boolean,
  budget: { left: number },
): number {
  while (h !== 0) {
    if (budget.left <= 0) return h;
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    const next = u[w + NEXT];
    if (!dead(s, u, w, now) && !fn(h)) return h;
    budget.left--;
    h = next;
  }
  return 0;
}

/**
 * Calls `fn` with the live items of class `c`, newest first (the small
 * FIFO, then the main one), until it returns false or `maxLooked` items
 * (live or dead) were looked at. `fn` must not write. Returns 0 once both
 * FIFOs were walked to their end, else the item not yet visited, from
 * which a later call resumes (`from`). An item says which FIFO it is in,
 * so that is all a resumption needs; if it left the class in between, the
 * walk ends there (a reused chunk may repeat some items: the walk is for
 * `stats cachedump`, which memcached, too, calls a debugging aid).
 */
export function policyWalk(
  s: StoreState,
  c: number,
  fn: (h: number) => boolean,
  maxLooked = Infinity,
  from = 0,
): number {
  const now = s.clock.now();
  const budget = { left: maxLooked };
  let h = s.smallHead[c];
  let main = false;
  if (from !== 0) {
    const meta = u32Of(s, from)[wordOf(s, from) + META];
    if ((meta & chunk.LINKED) === 0 || s.pool.cls[from >>> s.cb] !== c) {
      return 0;
    }
    h = from;
    main = (meta & MAIN) !== 0;
  }
  if (!main) {
    const at = walkFrom(s, h, now, fn, budget);
    if (at !== 0) return at;
    h = s.lruHead[c];
  }
  return walkFrom(s, h, now, fn, budget);
}

/**
 * The item of class `c` that has gone longest without an access among the
 * two FIFOs' oldest (`stats items`' age, the page a reassignment takes); 0
 * if none.
 */
export function policyOldest(s: StoreState, c: number): number {
  const a = s.smallTail[c];
  const b = s.lruTail[c];
  if (a === 0) return b;
  if (b === 0) return a;
  return u32Of(s, b)[wordOf(s, b) + ATIME] < u32Of(s, a)[wordOf(s, a) + ATIME]
    ? b
    : a;
}
