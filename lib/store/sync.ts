/**
 * Who locks what in a shared store (`-t N`), over the words of `locks.ts`.
 * A store of one loop (`s.shared` false) takes no lock: every call here is
 * then a branch.
 *
 * - A **stripe** (`hv & (STRIPES-1)`, from the key hash, so it survives the
 *   index doubling) guards the keys hashing to it: their hash chains and
 *   their items' contents. A key command takes its stripe and keeps it
 *   until the next key or the end of the batch ({@link releaseKey}), so the
 *   handles it returned stay valid while the protocol builds the reply, and
 *   every command is atomic per key. A linked item is only ever unlinked by
 *   a holder of its stripe, so holding it pins the item.
 * - A **class** lock guards a size class: free list, carving, eviction
 *   queues, per-class counters. Taken after the stripe; a second class or
 *   another key's stripe is only ever *tried* (eviction, sweeping and page
 *   moves skip what is busy, as memcached's `lru_pull_tail` trylocks), so no
 *   thread waits while holding a class lock: no deadlock.
 * - The **pool** lock guards page slots and the flush watermarks; nothing
 *   is taken after it.
 * - Doubling the index takes every stripe, in order, holding nothing else;
 *   a loop that crosses the threshold does it when its batch ends.
 *
 * After any lock is taken, {@link syncViews} picks up pages and index
 * growth made by other loops (the lock's acquire makes their writes
 * visible).
 * @module
 */

import { LINKED, META } from "./chunk.ts";
import { hashOf, splitIndex } from "./hash_index.ts";
import { CI, LOCK_PAD, STRIPES } from "./layout.ts";
import { lockWord, tryLockWord, unlockWord } from "./locks.ts";
import type { StoreState } from "./state.ts";

const { GROW_LOCK, MASK, POOL_LOCK, SLOTS } = CI;
const SM = STRIPES - 1;
const PAD = LOCK_PAD;

/** Refreshes this thread's page views and bucket view after a lock. */
export function syncViews(s: StoreState): void {
  if (s.ci[SLOTS] !== s.pool.u32.length) s.pool.sync();
  const m = s.ci[MASK];
  if (m !== s.mask) {
    s.mask = m;
    s.buckets = new Uint32Array(s.backing.buckets, 0, m + 1);
    s.ghost = new Uint32Array(s.backing.ghost, 0, m + 1);
  }
}

/** Holds the stripe of key hash `hv` (letting go of another one held). */
export function enterKey(s: StoreState, hv: number): void {
  if (!s.shared) return;
  const k = hv & SM;
  if (s.heldStripe === k) return;
  if (s.heldStripe >= 0) unlockWord(s.locks, s.heldStripe * PAD);
  lockWord(s.locks, k * PAD);
  s.heldStripe = k;
  syncViews(s);
}

/** Lets go of the held stripe, then doubles the index if it is due. */
export function releaseKey(s: StoreState): void {
  if (!s.shared) return;
  if (s.heldStripe >= 0) {
    unlockWord(s.locks, s.heldStripe * PAD);
    s.heldStripe = -1;
  }
  if (s.ci[CI.ITEMS] > s.growAt) growShared(s);
}

/**
 * Tries the stripe of key hash `hv` for an item this thread did not look
 * up: 0 = busy (skip it), 1 = taken (give it back with {@link untryStripe}),
 * 2 = this thread already holds it.
 */
export function tryStripe(s: StoreState, hv: number): number {
  if (!s.shared) return 2;
  const k = hv & SM;
  if (s.heldStripe === k) return 2;
  if (!tryLockWord(s.locks, k * PAD)) return 0;
  syncViews(s);
  return 1;
}

/** Gives back a stripe {@link tryStripe} took (`got` = its answer). */
export function untryStripe(s: StoreState, hv: number, got: number): void {
  if (got === 1) unlockWord(s.locks, (hv & SM) * PAD);
}

/** Takes class `c`'s lock (re-entrant); only with no other class held. */
export function lockClass(s: StoreState, c: number): void {
  if (!s.shared) return;
  if (s.heldClass === c) {
    s.classDepth++;
    return;
  }
  lockWord(s.locks, (STRIPES + c) * PAD);
  s.heldClass = c;
  s.classDepth = 1;
  syncViews(s);
}

/** Releases one level of class `c`'s lock. */
export function unlockClass(s: StoreState, c: number): void {
  if (!s.shared) return;
  if (--s.classDepth > 0) return;
  s.heldClass = 0;
  unlockWord(s.locks, (STRIPES + c) * PAD);
}

/**
 * Tries class `c`'s lock while another may be held: 0 = busy, 1 = taken
 * (give back with {@link untryClass}), 2 = already held by this thread.
 */
export function tryClass(s: StoreState, c: number): number {
  if (!s.shared || s.heldClass === c || s.triedClass === c) return 2;
  if (s.triedClass !== 0) return 0; // one tried class at a time
  if (!tryLockWord(s.locks, (STRIPES + c) * PAD)) return 0;
  s.triedClass = c;
  syncViews(s);
  return 1;
}

/** Gives back a class lock {@link tryClass} took. */
export function untryClass(s: StoreState, c: number, got: number): void {
  if (got !== 1) return;
  s.triedClass = 0;
  unlockWord(s.locks, (STRIPES + c) * PAD);
}

/**
 * Tries every lock needed to unlink item `h`, which this thread did not
 * look up (eviction, sweep, page moves): its stripe and, unless held, its
 * class. False = busy or no longer linked (skip it); true = give them back
 * with {@link untryItem} once done. Not nested.
 */
export function tryItem(s: StoreState, h: number): boolean {
  if (!s.shared) return true;
  const p = h >>> s.cb;
  const c = s.pool.cls[p];
  // Read unlocked, so maybe torn: checked again once the locks are held.
  const hv = hashOf(s, h);
  const gs = tryStripe(s, hv);
  if (gs === 0) return false;
  const gc = tryClass(s, c);
  if (gc === 0) {
    untryStripe(s, hv, gs);
    return false;
  }
  s.tHv = hv;
  s.tStripe = gs;
  s.tCls = c;
  s.tClass = gc;
  const u = s.pool.u32[p];
  const w = (h & s.cm) * s.pool.cw[p];
  if (
    (u[w + META] & LINKED) === 0 || s.pool.cls[p] !== c ||
    ((hashOf(s, h) ^ hv) & SM) !== 0
  ) {
    untryItem(s);
    return false;
  }
  return true;
}

/** Gives back the locks of the last {@link tryItem}. */
export function untryItem(s: StoreState): void {
  if (!s.shared) return;
  untryClass(s, s.tCls, s.tClass);
  untryStripe(s, s.tHv, s.tStripe);
}

/** Takes the pool lock (pages, flush watermarks); nothing is taken after it. */
export function lockPool(s: StoreState): void {
  if (!s.shared) return;
  lockWord(s.ci, POOL_LOCK);
  syncViews(s);
}

/** Releases the pool lock. */
export function unlockPool(s: StoreState): void {
  if (s.shared) unlockWord(s.ci, POOL_LOCK);
}

/** Takes a plain control-word lock if free (e.g. the drain); shared only. */
export function tryControl(s: StoreState, word: number): boolean {
  return !s.shared || tryLockWord(s.ci, word);
}

/** Releases a control-word lock from {@link tryControl}. */
export function unlockControl(s: StoreState, word: number): void {
  if (s.shared) unlockWord(s.ci, word);
}

/** Doubles a shared index: every stripe, in order, then split the chains. */
function growShared(s: StoreState): void {
  if (!tryLockWord(s.ci, GROW_LOCK)) return;
  try {
    if (s.ci[CI.ITEMS] <= s.growAt) return;
    for (let k = 0; k < STRIPES; k++) lockWord(s.locks, k * PAD);
    try {
      syncViews(s);
      splitIndex(s);
    } finally {
      for (let k = STRIPES - 1; k >= 0; k--) unlockWord(s.locks, k * PAD);
    }
  } finally {
    unlockWord(s.ci, GROW_LOCK);
  }
}
