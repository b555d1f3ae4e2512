/**
 * The narrow interface between the protocol layer and the item store.
 *
 * The store knows nothing of protocol text: keys and values are byte ranges,
 * results are {@link Status} codes, and items are addressed by short-lived
 * numeric {@link Handle}s.
 *
 * Calls return what they did, without side fields: a lookup returns the
 * item's handle (or -1) and a write returns a {@link Status}. What else a
 * caller may need — the written item's handle and cas, an incr/decr result,
 * why a lookup missed — goes into a {@link StoreResult} the caller passes in.
 * A protocol session makes one with {@link newResult} and reuses it for every
 * request, so the hot path allocates nothing:
 *
 * ```ts
 * const r = newResult(); // once per session
 * if (store.store(Mode.Set, k, 0, k.length, 0, 0, v, 0, v.length, 0, r) === Status.Stored) {
 *   reply(r.cas, store.classOf(r.handle));
 * }
 * if (store.find(k, 0, k.length, r) < 0 && r.miss === Miss.Expired) countExpired();
 * ```
 *
 * Iteration is by resumable cursor ({@link Store.scan}), so a long walk
 * (snapshot, cachedump, crawler) can be sliced across event-loop turns.
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

/**
 * A short-lived reference to a stored item: a number, -1 for "none".
 *
 * Lifetime: a handle stays valid until the next call that may unlink or move
 * items — {@link Store.store}, {@link Store.restore}, {@link Store.incrDecr},
 * {@link Store.remove}, {@link Store.removeHandle}, {@link Store.sweep},
 * {@link Store.setLimit} — since any write may evict any item and reuse its
 * chunk. Reads ({@link Store.find}, {@link Store.peek}, the accessors) and
 * in-place updates ({@link Store.setExp}, {@link Store.setBits},
 * {@link Store.bumpCas}, {@link Store.flushAll}) keep other handles valid: a
 * lookup reclaims only the dead item under its own key. Callers copy what
 * they need out before the next write.
 */
export type Handle = number;

/** Why a lookup found no live item ({@link StoreResult.miss}). */
export const Miss = {
  /** A live item was found, or none was ever there. */
  None: 0,
  /** The item had expired (counted as memcached's `get_expired`). */
  Expired: 1,
  /** The item was invalidated by flush_all (`get_flushed`). */
  Flushed: 2,
} as const;
/** One of the {@link Miss} reasons. */
export type Miss = typeof Miss[keyof typeof Miss];

/**
 * What a store call did beyond its return value, written into a record the
 * caller owns and reuses (see the module doc). Fields a call does not
 * document are left as they were.
 */
export interface StoreResult {
  /** The item written by a successful store/restore/incrDecr. */
  handle: Handle;
  /** The cas unique of that item. */
  cas: number;
  /** The new value of a successful incrDecr. */
  number: bigint;
  /** Why the last find/peek given this record returned -1. */
  miss: Miss;
}

/** A fresh {@link StoreResult}, to be reused across calls. */
export function newResult(): StoreResult {
  return { handle: -1, cas: 0, number: 0n, miss: Miss.None };
}

/** Where a {@link Store.scan} starts, and what it returns once done. */
export const Cursor = {
  /** Pass this to start a walk. */
  Start: 0,
  /** Returned when the walk has looked at every chunk. */
  Done: -1,
} as const;

/**
 * Called by {@link Store.scan} with each live item; return false to stop
 * before consuming it (the returned cursor then offers it again).
 */
export type ScanVisitor = (h: Handle) => boolean | void;

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
  /** Seconds since the eviction policy's next victim was last accessed. */
  oldestAge: number;
  evictions: number;
  /** Bytes the class's items asked for (memcached's `mem_requested`). */
  requested: number;
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
  /**
   * True when other event loops share this store (`-t N`): a handle and
   * the bytes behind it are this loop's only until {@link release}, so a
   * reply must copy values rather than send them from the pages later.
   */
  readonly shared: boolean;
  readonly stats: StoreStats;
  readonly limitBytes: number;
  readonly maxItemSize: number;

  /**
   * Returns a live item's handle, or -1. Counts as an access for the
   * eviction policy and marks the item fetched. On -1, `r.miss` (if `r` is
   * given) says whether a dead item was met; on a hit it is {@link Miss.None}.
   */
  find(key: Uint8Array, start: number, len: number, r?: StoreResult): Handle;
  /**
   * Like {@link find} but no access (policy, fetched mark and access time
   * untouched). A dead item met is still reclaimed.
   */
  peek(key: Uint8Array, start: number, len: number, r?: StoreResult): Handle;

  flagsOf(h: Handle): number;
  casOf(h: Handle): number;
  /** Absolute expiry (unix seconds), 0 = never. */
  expOf(h: Handle): number;
  /** Unix seconds of the last access. */
  lastAccessOf(h: Handle): number;
  /** {@link Bits} of the item. */
  bitsOf(h: Handle): number;
  setBits(h: Handle, bits: number): void;
  /** Size class id of the item. */
  classOf(h: Handle): number;
  /** Item size as memcached counts it (header + key + value). */
  sizeOf(h: Handle): number;
  valueLen(h: Handle): number;
  /** The backing bytes that hold the value at [valueStart, valueStart+valueLen). */
  valueBytes(h: Handle): Uint8Array;
  valueStart(h: Handle): number;
  keyLen(h: Handle): number;
  keyBytes(h: Handle): Uint8Array;
  keyStart(h: Handle): number;

  /** Sets a new expiry (touch/gat). */
  setExp(h: Handle, exp: number): void;
  /** Gives the item a fresh cas unique and returns it. */
  bumpCas(h: Handle): number;

  /**
   * Stores a value. `cas` is only read in {@link Mode.Cas}. On
   * {@link Status.Stored} the new item's handle and cas are put in `r.handle`
   * and `r.cas` (if `r` is given). {@link Status.TooLarge} in Set mode also
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
    r?: StoreResult,
  ): Status;
  /**
   * Stores an item with a given cas unique (warm restart from a snapshot):
   * Set semantics, then the item's cas is `cas` and the global cas counter
   * is raised to at least `cas`, so later stores get larger values. A `cas`
   * of 0 or above {@link RESTORE_CAS_MAX} is renumbered (the item gets the
   * next cas of the counter, in `r.cas`) so the counter never nears
   * {@link MAX_CAS}. Fills `r` as {@link store} does.
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
    r?: StoreResult,
  ): Status;

  /** Removes a live item: Deleted or NotFound. */
  remove(key: Uint8Array, start: number, len: number): Status;
  /** Removes the item behind a handle (nothing happens if it is gone). */
  removeHandle(h: Handle): void;

  /**
   * incr (`incr` true) or decr by `delta` (0 ≤ delta < 2^64). incr wraps at
   * 2^64, decr floors at 0. Returns Stored, NotFound, NonNumeric or
   * NoMemory; on Stored the new value, the item's handle and its cas go to
   * `r.number`, `r.handle` and `r.cas`.
   */
  incrDecr(
    key: Uint8Array,
    start: number,
    len: number,
    incr: boolean,
    delta: bigint,
    r?: StoreResult,
  ): Status;

  /**
   * Allocates, inside the memory limit, an item for a value still arriving
   * (a set, add, replace or cas whose data block is on its way): header and
   * key written, invisible until {@link commitReserved}. Returns its handle,
   * or -1 when no memory can be had. The caller checked {@link fits}.
   */
  reserve(
    key: Uint8Array,
    kStart: number,
    kLen: number,
    flags: number,
    exp: number,
    vLen: number,
  ): Handle;
  /**
   * The bytes `[off, off + n)` of reservation `h`'s value, as a view to read
   * into while the reservation lasts.
   */
  reservedRoom(h: Handle, off: number, n: number): Uint8Array;
  /** Copies `n` bytes of `src` to offset `off` of reservation `h`'s value. */
  fillReserved(
    h: Handle,
    off: number,
    src: Uint8Array,
    start: number,
    n: number,
  ): void;
  /**
   * Stores the completed reservation `h` under `mode`, checked now (add:
   * absent, replace: present, cas: `cas` matches). On {@link Status.Stored}
   * it is the item (handle and cas in `r`); otherwise it stays reserved
   * (its key still readable) until {@link dropReserved}.
   */
  commitReserved(mode: Mode, h: Handle, cas: number, r?: StoreResult): Status;
  /** Gives up reservation `h`: its chunk is free again. */
  dropReserved(h: Handle): void;

  /** Invalidates every item stored at or before unix time `at` once `at` has come. */
  flushAll(at: number): void;
  /**
   * Whether an item of these sizes fits under the item size limit (non-zero
   * client flags take 4 more bytes, as in memcached).
   */
  fits(keyLen: number, valueLen: number, flags?: number): boolean;
  /** Reclaims up to `budget` expired items; returns how many were looked at. */
  sweep(budget: number): number;
  /**
   * A resumable walk over the live items, for snapshots, cachedump and
   * crawlers that must not hold the event loop. Looks at up to `budget`
   * chunks from `cursor` (start with {@link Cursor.Start}), calling `visit`
   * with each live item's handle, and returns the cursor to pass next time,
   * or {@link Cursor.Done} once every chunk has been looked at. If `visit`
   * returns false the walk stops there and the returned cursor offers that
   * item again. The cursor is a plain number: keep it across awaits, writes
   * included. Handles are visited in increasing order.
   *
   * Consistency across slices (like Redis SCAN): an item live for the whole
   * walk and not rewritten into another chunk is visited exactly once; an
   * item stored, rewritten or moved meanwhile may be missed or visited
   * twice, and one removed is not visited after its removal. Within one
   * call `visit` must not write to the store.
   */
  scan(cursor: number, budget: number, visit: ScanVisitor): number;
  /**
   * Calls `fn` with the live items of size class `cls` in the eviction
   * policy's order, the last to be evicted first (most recently used first
   * under LRU), until it returns false or `maxLooked` items, live or dead,
   * were looked at (`stats cachedump`, which must stay bounded even when a
   * flush left millions of dead items in the class). Returns 0 when the
   * walk reached the end, else the item not yet visited (the one `fn`
   * refused, or the first past `maxLooked`): passed back as `from`, a
   * later walk resumes there, so a long walk can run in slices (it ends
   * early if that item left the class meanwhile).
   */
  lruWalk(
    cls: number,
    fn: (h: Handle) => boolean,
    maxLooked?: number,
    from?: Handle,
  ): Handle;
  /** Per size class figures, for classes that hold pages. */
  classes(): ClassInfo[];
  /** Resets resettable counters (stats reset): evictions, reclaimed, totalItems, ... */
  resetStats(): void;
  /**
   * Changes the memory limit (cache_memlimit); if now over, drains and
   * releases pages, emptying at most `maxChunks` chunks now (default: all
   * needed). Returns true while work remains (call {@link shrink} to go on).
   */
  setLimit(limitBytes: number, maxChunks?: number): boolean;
  /** Empties up to `maxChunks` more chunks toward the limit; as {@link setLimit}. */
  shrink(maxChunks: number): boolean;
  /**
   * Ends a batch of commands: lets go of the key lock a shared store (`-t N`)
   * holds for this loop since the last key lookup, so handles returned
   * before this call must not be used after it. Call it before yielding to
   * the event loop. A store of one loop holds no lock; over its limit it
   * gives back a slice of pages here instead.
   */
  release(): void;
  /**
   * A reply will send item `h`'s value bytes from the pages after this
   * batch: until {@link unhold}, they stay as they are (a rewrite makes a
   * new version, an unlinked item keeps its chunk, no page move takes it),
   * as memcached's item reference counts keep them, in every loop of a
   * shared store. Call it while `h`'s key lock is held (in the batch that
   * looked it up). False when no hold was taken (the item has the most
   * holds its count can say): copy the value instead.
   */
  hold(h: Handle): boolean;
  /** Ends one {@link hold} of `h`. */
  unhold(h: Handle): void;
}
