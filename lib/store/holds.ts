/**
 * Reader holds: memcached's item reference counts, for the replies that
 * send a large value straight from the store's pages after the batch
 * (`putStored` by reference). While an item is held its bytes stay put:
 * a rewrite makes a new version instead of writing in place, an unlinked
 * item becomes a *zombie* (out of the index and the policy, its chunk on
 * no free list) until the last hold goes, and no page move takes its page.
 *
 * Only a one-loop store holds (a shared store copies values under the key
 * lock instead), so none of this is locked.
 * @module
 */

import * as chunk from "./chunk.ts";
import { freePush } from "./free_list.ts";
import type { StoreState } from "./state.ts";

const { KLEN_MASK, META } = chunk;

/** Whether item `h` is held by some reply now. */
export function isHeld(s: StoreState, h: number): boolean {
  return s.holds.size !== 0 && s.holds.has(h);
}

/** A reply references item `h`'s bytes until {@link unhold}. */
export function hold(s: StoreState, h: number): void {
  s.holds.set(h, (s.holds.get(h) ?? 0) + 1);
  s.pageHolds[h >>> s.cb]++;
}

/** Ends one hold of `h`; a zombie's chunk is freed with its last hold. */
export function unhold(s: StoreState, h: number): void {
  const n = s.holds.get(h);
  if (n === undefined) return;
  s.pageHolds[h >>> s.cb]--;
  if (n > 1) {
    s.holds.set(h, n - 1);
    return;
  }
  s.holds.delete(h);
  if (s.zombies.delete(h)) freePush(s, h, s.pool.cls[h >>> s.cb]);
}

/**
 * Item `h` was just unlinked: true if it is held (it becomes a zombie and
 * keeps its bytes and key length, so the reply's check still sees the same
 * value), false if its chunk may be freed now.
 */
export function keepIfHeld(s: StoreState, h: number): boolean {
  if (!isHeld(s, h)) return false;
  const p = h >>> s.cb;
  const w = (h & s.cm) * s.pool.cw[p];
  const u = s.pool.u32[p];
  u[w + META] &= KLEN_MASK;
  s.zombies.add(h);
  return true;
}

/** Whether page `p` holds an item some reply references. */
export function pageHeld(s: StoreState, p: number): boolean {
  return s.pageHolds[p] !== 0;
}
