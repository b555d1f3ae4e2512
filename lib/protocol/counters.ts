/**
 * Command counters reported by `stats`, named after memcached's fields. The
 * protocol layer moves them; the store keeps its own (items, evictions...).
 * @module
 */

import { MAX_CLASSES, Miss, Status, type Store } from "../store/types.ts";
import { resetShared, type SharedCounters } from "./shared_counters.ts";

/** Mutable counters of the whole server. */
export interface Counters {
  cmd_get: number;
  cmd_set: number;
  cmd_flush: number;
  cmd_touch: number;
  cmd_meta: number;
  get_hits: number;
  get_misses: number;
  get_expired: number;
  get_flushed: number;
  delete_misses: number;
  delete_hits: number;
  incr_misses: number;
  incr_hits: number;
  decr_misses: number;
  decr_hits: number;
  cas_misses: number;
  cas_hits: number;
  cas_badval: number;
  touch_hits: number;
  touch_misses: number;
  store_too_large: number;
  store_no_memory: number;
  auth_cmds: number;
  auth_errors: number;
  bytes_read: number;
  bytes_written: number;
  rejected_connections: number;
  total_connections: number;
  curr_connections: number;
  conn_yields: number;
  idle_kicks: number;
  /** Per size class hit counters for `stats slabs`, indexed by class id. */
  slab: SlabCounters;
  /**
   * With `-t N` (N > 1): this loop's place in the counters shared by all
   * loops (`shared_counters.ts`); absent with one loop.
   */
  shared?: SharedCounters;
}

/** `stats slabs` per-class command counters (memcached's slab_stats). */
export interface SlabCounters {
  get_hits: Float64Array;
  cmd_set: Float64Array;
  delete_hits: Float64Array;
  incr_hits: Float64Array;
  decr_hits: Float64Array;
  cas_hits: Float64Array;
  cas_badval: Float64Array;
  touch_hits: Float64Array;
}

function createSlabCounters(): SlabCounters {
  // Indexed by class id (1..MAX_CLASSES): as many as the store can make,
  // whatever `-f` is.
  const a = () => new Float64Array(MAX_CLASSES + 1);
  return {
    get_hits: a(),
    cmd_set: a(),
    delete_hits: a(),
    incr_hits: a(),
    decr_hits: a(),
    cas_hits: a(),
    cas_badval: a(),
    touch_hits: a(),
  };
}

/** Creates zeroed counters. */
export function createCounters(): Counters {
  return {
    cmd_get: 0,
    cmd_set: 0,
    cmd_flush: 0,
    cmd_touch: 0,
    cmd_meta: 0,
    get_hits: 0,
    get_misses: 0,
    get_expired: 0,
    get_flushed: 0,
    delete_misses: 0,
    delete_hits: 0,
    incr_misses: 0,
    incr_hits: 0,
    decr_misses: 0,
    decr_hits: 0,
    cas_misses: 0,
    cas_hits: 0,
    cas_badval: 0,
    touch_hits: 0,
    touch_misses: 0,
    store_too_large: 0,
    store_no_memory: 0,
    auth_cmds: 0,
    auth_errors: 0,
    bytes_read: 0,
    bytes_written: 0,
    rejected_connections: 0,
    total_connections: 0,
    curr_connections: 0,
    conn_yields: 0,
    idle_kicks: 0,
    slab: createSlabCounters(),
  };
}

/** `stats reset`: zeroes every counter except the live connection count. */
export function resetCounters(c: Counters): void {
  if (c.shared !== undefined) return resetShared(c);
  const curr = c.curr_connections;
  Object.assign(c, createCounters());
  c.curr_connections = curr;
}

/**
 * Counts a retrieval miss as memcached does: touch/gat count as touches,
 * gets as gets with why they missed.
 */
export function countMiss(c: Counters, touch: boolean, why: Miss): void {
  if (touch) {
    c.cmd_touch++;
    c.touch_misses++;
  } else {
    c.cmd_get++;
    c.get_misses++;
    if (why === Miss.Expired) c.get_expired++;
    else if (why === Miss.Flushed) c.get_flushed++;
  }
}

/** Counts a retrieval hit on an item of size class `cls`. */
export function countHit(c: Counters, touch: boolean, cls: number): void {
  if (touch) {
    c.cmd_touch++;
    c.touch_hits++;
    c.slab.touch_hits[cls]++;
  } else {
    c.cmd_get++;
    c.get_hits++;
    c.slab.get_hits[cls]++;
  }
}

/**
 * Counts what a storage command did, as memcached's do_store_item does:
 * the stored item's class `cmd_set`, and for a compare-and-swap its hit,
 * bad value (charged to the class of the item that stays) or miss.
 */
export function countStore(
  c: Counters,
  store: Store,
  st: Status,
  isCas: boolean,
  handle: number,
  key: Uint8Array,
  ks: number,
  kl: number,
): void {
  if (st === Status.Stored) {
    const cls = store.classOf(handle);
    c.slab.cmd_set[cls]++;
    if (isCas) {
      c.cas_hits++;
      c.slab.cas_hits[cls]++;
    }
  } else if (st === Status.Exists) {
    c.cas_badval++;
    const h = store.peek(key, ks, kl);
    if (h >= 0) c.slab.cas_badval[store.classOf(h)]++;
  } else if (st === Status.NotFound) c.cas_misses++;
}
