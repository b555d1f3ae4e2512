/**
 * Reader holds: memcached's item reference counts, for the replies that
 * send a large value straight from the store's pages after the batch
 * (`putStored` by reference). While an item is held its bytes stay put:
 * a rewrite makes a new version instead of writing in place, an unlinked
 * item becomes a *zombie* (out of the index and the policy, its chunk on
 * no free list) until the last hold goes, and no page move takes its page.
 *
 * Each loop counts its own holds per item (`s.holds`); the item's META
 * word counts the loops holding it (`chunk.HOLD_MASK`) beside the `ZOMBIE`
 * bit, and each page slot counts its held items (`PagePool.holds`), so 500
 * replies queued for one value cost one map entry. A loop's first hold is
 * taken only under the key's stripe (while
 * the reply is built), so a holder of the stripe that sees no hold knows
 * none can start; a hold ends without any lock, from any loop. With `-t N`
 * both words are changed by CAS, so the unlink that makes a zombie and the
 * last unhold agree on who frees the chunk: exactly one of them does.
 * @module
 */

import * as chunk from "./chunk.ts";
import { freePush } from "./free_list.ts";
import type { StoreState } from "./state.ts";
import { lockClass, tryClass, unlockClass, untryClass } from "./sync.ts";

const { HOLD_MASK, HOLD_ONE, KLEN_MASK, META, ZOMBIE } = chunk;

function metaIndex(s: StoreState, h: number): number {
  return (h & s.cm) * s.pool.cw[h >>> s.cb] + META;
}

/** Whether item `h` is held by some reply now (ask with its stripe held). */
export function isHeld(s: StoreState, h: number): boolean {
  return (s.pool.u32[h >>> s.cb][metaIndex(s, h)] & HOLD_MASK) !== 0;
}

/**
 * A reply references linked item `h`'s bytes until {@link unhold}; the
 * caller holds the item's stripe. False (no hold taken: copy the value)
 * when the item is already held by as many loops as its count can say.
 */
export function hold(s: StoreState, h: number): boolean {
  const n = s.holds.get(h);
  if (n !== undefined) {
    s.holds.set(h, n + 1);
    return true;
  }
  if (!countUp(s, h)) return false;
  s.holds.set(h, 1);
  return true;
}

/** This loop's first hold of `h`: counts it in the item and its page. */
function countUp(s: StoreState, h: number): boolean {
  const p = h >>> s.cb;
  const u = s.pool.u32[p];
  const i = metaIndex(s, h);
  if (!s.shared) {
    const m = u[i];
    if ((m & HOLD_MASK) === HOLD_MASK) return false;
    u[i] = m + HOLD_ONE;
    s.pageHolds[p]++;
    return true;
  }
  for (;;) {
    const m = Atomics.load(u, i);
    if ((m & HOLD_MASK) === HOLD_MASK) return false;
    if (Atomics.compareExchange(u, i, m, (m + HOLD_ONE) >>> 0) === m) break;
  }
  // After the item's count: a page mover checks items under their stripe.
  Atomics.add(s.pageHolds, p, 1);
  return true;
}

/** Ends one hold of `h`; a zombie's chunk is freed with its last hold. */
export function unhold(s: StoreState, h: number): void {
  const n = s.holds.get(h);
  if (n === undefined) return;
  if (n > 1) {
    s.holds.set(h, n - 1);
    return;
  }
  s.holds.delete(h);
  const p = h >>> s.cb;
  const u = s.pool.u32[p];
  const i = metaIndex(s, h);
  let last: boolean;
  if (!s.shared) {
    const m = u[i];
    last = (m & HOLD_MASK) === HOLD_ONE && (m & ZOMBIE) !== 0;
    u[i] = last ? 0 : m - HOLD_ONE;
    if (last) freePush(s, h, s.pool.cls[p]);
    s.pageHolds[p]--;
    return;
  }
  for (;;) {
    const m = Atomics.load(u, i);
    last = (m & HOLD_MASK) === HOLD_ONE && (m & ZOMBIE) !== 0;
    const n = last ? 0 : (m - HOLD_ONE) >>> 0;
    if (Atomics.compareExchange(u, i, m, n) === m) break;
  }
  if (last) freeZombie(s, h);
  // After the chunk is back: until then no page move may take the page.
  Atomics.sub(s.pageHolds, p, 1);
}

/**
 * Puts a shared zombie's chunk on its class's free list under the class
 * lock. Replies end outside store calls, where no class lock is held; if
 * one is (another class's) and the chunk's is busy, the chunk waits in
 * `s.lateFrees` for {@link freeLate} rather than wait holding a class lock.
 */
function freeZombie(s: StoreState, h: number): void {
  const p = h >>> s.cb;
  const c = s.pool.cls[p];
  if (s.heldClass === 0 || s.heldClass === c) {
    lockClass(s, c);
    freePush(s, h, c);
    unlockClass(s, c);
    return;
  }
  const got = tryClass(s, c);
  if (got === 0) {
    s.lateFrees.push(h);
    Atomics.add(s.pageHolds, p, 1); // its page stays put until then
    return;
  }
  freePush(s, h, c);
  untryClass(s, c, got);
}

/** Frees the zombies {@link unhold} had to leave for later (at batch end). */
export function freeLate(s: StoreState): void {
  while (s.lateFrees.length !== 0 && s.heldClass === 0) {
    const h = s.lateFrees.pop()!;
    const p = h >>> s.cb;
    const c = s.pool.cls[p];
    lockClass(s, c);
    freePush(s, h, c);
    unlockClass(s, c);
    Atomics.sub(s.pageHolds, p, 1);
  }
}

/**
 * Item `h` was just unlinked (its stripe held): true if it is held (it
 * becomes a zombie and keeps its bytes and key length, so the reply's check
 * still sees the same value), false if its chunk may be freed now.
 */
export function keepIfHeld(s: StoreState, h: number): boolean {
  const u = s.pool.u32[h >>> s.cb];
  const i = metaIndex(s, h);
  if (!s.shared) {
    const m = u[i];
    if ((m & HOLD_MASK) === 0) return false;
    u[i] = (m & (KLEN_MASK | HOLD_MASK)) | ZOMBIE;
    return true;
  }
  for (;;) {
    const m = Atomics.load(u, i);
    if ((m & HOLD_MASK) === 0) return false;
    const n = (m & (KLEN_MASK | HOLD_MASK)) | ZOMBIE;
    if (Atomics.compareExchange(u, i, m, n) === m) return true;
  }
}

/** Whether page `p` holds an item some reply references. */
export function pageHeld(s: StoreState, p: number): boolean {
  return (s.shared ? Atomics.load(s.pageHolds, p) : s.pageHolds[p]) !== 0;
}
