/**
 * The narrow interface between the protocol layer and the item store.
 *
 * The store knows nothing of protocol text: keys and values are byte ranges,
 * results are {@link Status} codes, and items are addressed by short-lived
 * numeric handles. A handle is valid only until the next mutating call on the
 * store (a later store may evict and reuse its memory), so callers copy what
 * they need out at once.
 * @module
 */

import type { Clock } from "../clock.ts";

/** Largest size class id the store makes (ids 1..MAX_CLASSES). */
export { MAX_CLASSES } from "./slabs.ts";

/** Result codes of store operations. */
export const Status = {
  Stored: 0,
  NotStored: 1,
  Exists: 2,
  NotFound: 3,
  /** The item would exceed the item size limit (`-I`). */
  TooLarge: 4,
  /** No memory could be found for the item even after evicting. */
  NoMemory: 5,
  Deleted: 6,
  /** incr/decr on a value that is not an unsigned 64-bit decimal. */
  NonNumeric: 7,
} as const;
/** One of the {@link Status} codes. */
export type Status = typeof Status[keyof typeof Status];

/**
 * Largest cas unique a store ever holds or hands out: cas values are JS
 * numbers, exact (and printed exactly) only up to 2^53 - 1. The counter
 * starts at 0 and grows by one per write, so it cannot get there by use.
 */
export const MAX_CAS = Number.MAX_SAFE_INTEGER;
/**
 * Largest cas a snapshot may restore as is (2^52): a larger one is
 * renumbered, which leaves the counter 2^52 writes of room (over 14 years at
 * ten million writes a second) below {@link MAX_CAS}.
 */
export const RESTORE_CAS_MAX = 2 ** 52;

/** How a store call treats an existing item (memcached's storage commands). */
export const Mode = {
  Set: 0,
  Add: 1,
  Replace: 2,
  Append: 3,
  Prepend: 4,
  /** Set only if the item's cas equals the given cas. */
  Cas: 5,
} as const;
/** One of the {@link Mode} values. */
export type Mode = typeof Mode[keyof typeof Mode];

/** Per-item flag bits kept for the meta protocol (see {@link Store.bitsOf}). */
export const Bits = {
  /** The item has been fetched since it was stored. */
  Fetched: 1,
  /** The item was invalidated (`md I`, `ms I`): it is served as stale. */
  Stale: 2,
  /** A recache "win" token was already handed out for this item. */
  WinSent: 4,
} as const;

/** Counters the store maintains; the protocol layer reports them in `stats`. */
export interface StoreStats {
  /** Live items (expired ones not yet reclaimed may still be counted). */
  currItems: number;
  /** Items ever stored. */
  totalItems: number;
  /** Bytes of key + value + per-item overhead of current items. */
  bytes: number;
  /** Items evicted to make room while still live. */
  evictions: number;
  /** Evicted items that had never been fetched. */
  evictedUnfetched: number;
  /** Expired items reclaimed (on access or by the sweep). */
  reclaimed: number;
  /** Expired items reclaimed that had never been fetched. */
  expiredUnfetched: number;
  /** Memory pages (slabs) currently allocated, in bytes. */
  totalMalloced: number;
  /** Pages moved between size classes. */
  slabReassigns: number;
}

/** Per size class figures for `stats slabs` / `stats items`. */
export interface ClassInfo {
  id: number;
  chunkSize: number;
  chunksPerPage: number;
  pages: number;
  usedChunks: number;
  freeChunks: number;
  items: number;
  /** Seconds since the LRU tail item was last accessed. */
  oldestAge: number;
  evictions: number;
}

/** Construction options of a store. */
export interface StoreOptions {
  /** Memory limit in bytes (`-m` × 1 MiB). */
  limitBytes: number;
  /** Largest item in bytes (`-I`), counted as memcached does. */
  maxItemSize: number;
  /** Time source; item times are unix seconds from it. */
  clock: Clock;
  /** Slab growth factor (`-f`), default 1.25. */
  growthFactor?: number;
}

/**
 * The item store. Keys are given as `(buf, start, len)` ranges so the hot path
 * never allocates. Expiry times are absolute unix seconds; 0 means never.
 */
export interface Store {
  readonly clock: Clock;
  readonly stats: StoreStats;
  readonly limitBytes: number;
  readonly maxItemSize: number;

  /** Returns a live item's handle, or -1. Bumps its LRU position and marks it fetched. */
  find(key: Uint8Array, start: number, len: number): number;
  /**
   * Why the last {@link find} or {@link peek} returned -1: 0 no such key,
   * 1 it had expired, 2 it had been flushed (for `get_expired`/`get_flushed`).
   */
  readonly lastMiss: number;
  /** Like {@link find} but changes nothing (no LRU bump, no fetched mark). */
  peek(key: Uint8Array, start: number, len: number): number;

  flagsOf(h: number): number;
  casOf(h: number): number;
  /** Absolute expiry (unix seconds), 0 = never. */
  expOf(h: number): number;
  /** Unix seconds of the last access. */
  lastAccessOf(h: number): number;
  /** {@link Bits} of the item. */
  bitsOf(h: number): number;
  setBits(h: number, bits: number): void;
  /** Size class id of the item. */
  classOf(h: number): number;
  /** Item size as memcached counts it (header + key + value). */
  sizeOf(h: number): number;
  valueLen(h: number): number;
  /** The backing bytes that hold the value at [valueStart, valueStart+valueLen). */
  valueBytes(h: number): Uint8Array;
  valueStart(h: number): number;
  keyLen(h: number): number;
  keyBytes(h: number): Uint8Array;
  keyStart(h: number): number;

  /** Sets a new expiry (touch/gat). */
  setExp(h: number, exp: number): void;
  /** Gives the item a fresh cas unique and returns it. */
  bumpCas(h: number): number;

  /**
   * Stores a value. `cas` is only read in {@link Mode.Cas}. On
   * {@link Status.Stored} the new item's cas is in {@link lastCas} and its
   * handle in {@link lastHandle}. {@link Status.TooLarge} in Set mode also
   * removes the old item (as memcached does).
   */
  store(
    mode: Mode,
    key: Uint8Array,
    kStart: number,
    kLen: number,
    flags: number,
    exp: number,
    value: Uint8Array,
    vStart: number,
    vLen: number,
    cas: number,
  ): Status;
  /** cas unique of the item written by the last successful {@link store}. */
  readonly lastCas: number;
  /** Handle of the item written by the last successful {@link store} or {@link incrDecr}. */
  readonly lastHandle: number;
  /**
   * Stores an item with a given cas unique (warm restart from a snapshot):
   * Set semantics, then the item's cas is `cas` and the global cas counter
   * is raised to at least `cas`, so later stores get larger values. A `cas`
   * of 0 or above {@link RESTORE_CAS_MAX} is renumbered (the item gets the
   * next cas of the counter, in {@link lastCas}) so the counter never nears
   * {@link MAX_CAS}.
   */
  restore?(
    key: Uint8Array,
    kStart: number,
    kLen: number,
    flags: number,
    exp: number,
    value: Uint8Array,
    vStart: number,
    vLen: number,
    cas: number,
  ): Status;

  /** Removes a live item: Deleted or NotFound. */
  remove(key: Uint8Array, start: number, len: number): Status;
  /** Removes the item behind a handle. */
  removeHandle(h: number): void;

  /**
   * incr (`incr` true) or decr by `delta` (0 ≤ delta < 2^64). incr wraps at
   * 2^64, decr floors at 0. Result in {@link lastNumber}. Returns Stored,
   * NotFound, NonNumeric or NoMemory.
   */
  incrDecr(
    key: Uint8Array,
    start: number,
    len: number,
    incr: boolean,
    delta: bigint,
  ): Status;
  /** Result of the last successful {@link incrDecr}. */
  readonly lastNumber: bigint;

  /** Invalidates every item stored at or before unix time `at` once `at` has come. */
  flushAll(at: number): void;
  /**
   * Whether an item of these sizes fits under the item size limit (non-zero
   * client flags take 4 more bytes, as in memcached).
   */
  fits(keyLen: number, valueLen: number, flags?: number): boolean;
  /** Reclaims up to `budget` expired items; returns how many were looked at. */
  sweep(budget: number): number;
  /** Calls `fn` with the handle of every live item (for snapshots, cachedump). */
  forEach(fn: (h: number) => void): void;
  /**
   * Resumable {@link forEach}: looks at up to `budget` chunks from `cursor`
   * (0 = the start), calls `fn` for each live item among them, and returns
   * the cursor to resume from, or -1 once every chunk was looked at. `fn`
   * must not change the store. Items written between calls may be missed or
   * seen twice (a rewrite moves an item), never torn.
   */
  scan(cursor: number, budget: number, fn: (h: number) => void): number;
  /**
   * Calls `fn` with the live items of size class `cls` from the most to the
   * least recently used, until it returns false (`stats cachedump`).
   */
  lruWalk(cls: number, fn: (h: number) => boolean): void;
  /** Per size class figures, for classes that hold pages. */
  classes(): ClassInfo[];
  /** Resets resettable counters (stats reset): evictions, reclaimed, totalItems, ... */
  resetStats(): void;
  /**
   * Changes the memory limit (cache_memlimit); evicts if now over, releasing
   * at most `maxPages` pages (default: all needed). Returns true while the
   * store still holds more than the limit (call {@link shrink} to go on).
   */
  setLimit(limitBytes: number, maxPages?: number): boolean;
  /** Releases up to `maxPages` more pages while over the limit; as {@link setLimit}. */
  shrink(maxPages: number): boolean;
}
