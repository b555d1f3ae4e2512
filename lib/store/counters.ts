/**
 * The store's own counters (`stats`' curr_items, evictions, ...): each loop
 * of `-t N` moves only its own block of `StoreState.stAll`, so sums are
 * read here; the item count and page bytes are store-wide words.
 * @module
 */

import { CI, ST, STATS_WORDS } from "./layout.ts";
import type { StoreState } from "./state.ts";
import type { StoreStats } from "./types.ts";

/** Every loop's counters summed, as a fresh record. */
export function sumStats(s: StoreState): StoreStats {
  const a = s.stAll;
  let totalItems = 0;
  let bytes = 0;
  let evictions = 0;
  let evictedUnfetched = 0;
  let reclaimed = 0;
  let expiredUnfetched = 0;
  let slabReassigns = 0;
  for (let o = 0; o < a.length; o += STATS_WORDS) {
    totalItems += a[o + ST.TOTAL_ITEMS];
    bytes += a[o + ST.BYTES];
    evictions += a[o + ST.EVICTIONS];
    evictedUnfetched += a[o + ST.EVICTED_UNFETCHED];
    reclaimed += a[o + ST.RECLAIMED];
    expiredUnfetched += a[o + ST.EXPIRED_UNFETCHED];
    slabReassigns += a[o + ST.SLAB_REASSIGNS];
  }
  return {
    currItems: s.ci[CI.ITEMS],
    totalItems,
    bytes,
    evictions,
    evictedUnfetched,
    reclaimed,
    expiredUnfetched,
    totalMalloced: s.totalMalloced,
    slabReassigns,
  };
}

/**
 * `stats reset`: zeroes the resettable counters of every loop's block (a
 * loop counting meanwhile may keep one) and the per-class evictions.
 */
export function resetStats(s: StoreState): void {
  const a = s.stAll;
  for (let o = 0; o < a.length; o += STATS_WORDS) {
    a[o + ST.TOTAL_ITEMS] = 0;
    a[o + ST.EVICTIONS] = 0;
    a[o + ST.RECLAIMED] = 0;
    a[o + ST.EXPIRED_UNFETCHED] = 0;
    a[o + ST.EVICTED_UNFETCHED] = 0;
    a[o + ST.SLAB_REASSIGNS] = 0;
  }
  s.evicted.fill(0);
}
