/**
 * Linking and unlinking items: the one place where an item enters or leaves
 * the hash index, the eviction policy and the item counters together.
 *
 * A linked item has the LINKED bit in its META word; unlinking clears the
 * word and gives the chunk to its class's free list, so the handle must not
 * be used afterwards.
 *
 * Locks (shared stores, see sync.ts): the caller holds the item's stripe
 * and its class lock.
 * @module
 */

import { itemBytes } from "./chunk.ts";
import * as chunk from "./chunk.ts";
import { growIndex, indexInsert, indexRemove } from "./hash_index.ts";
import { freePush } from "./free_list.ts";
import { keepIfHeld } from "./holds.ts";
import { policyLink, policyUnlink } from "./policy.ts";
import { ST } from "./layout.ts";
import { addItems, type StoreState, u32Of, wordOf } from "./state.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { LINKED, META } = chunk;

/**
 * Links the filled-in item `h` of class `c` (key hash `hv`) into the index
 * and the eviction policy, and counts it; may grow the index.
 */
export function linkItem(
  s: StoreState,
  h: number,
  c: number,
  hv: number,
): void {
  const u = u32Of(s, h);
  const w = wordOf(s, h);
  indexInsert(s, h, hv);
  policyLink(s, h, c, hv);
  s.items[c]++;
  const st = s.st;
  const n = addItems(s, 1);
  st[ST.TOTAL_ITEMS]++;
  const bytes = itemBytes(u, w);
  st[ST.BYTES] += bytes;
  s.requested[c] += bytes;
  // A shared index doubles when the batch ends (sync.ts releaseKey).
  if (n > s.growAt && !s.shared) growIndex(s);
}

/** Removes an item from the index and the policy and frees its chunk. */
export function unlinkItem(s: StoreState, h: number): void {
  const c = s.pool.cls[h >>> s.cb];
  indexRemove(s, h);
  policyUnlink(s, h, c);
  const u = u32Of(s, h);
  const w = wordOf(s, h);
  s.items[c]--;
  addItems(s, -1);
  const bytes = itemBytes(u, w);
  s.st[ST.BYTES] -= bytes;
  s.requested[c] -= bytes;
  if (keepIfHeld(s, h)) return;
  u[w + META] = 0;
  freePush(s, h, c);
}

/** Whether chunk `h` holds a linked item. */
export function isLinked(s: StoreState, h: number): boolean {
  return (u32Of(s, h)[wordOf(s, h) + META] & LINKED) !== 0;
}
