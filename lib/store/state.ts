/**
 * The slab store's state as one plain record, shared by the store's modules.
 *
 * Every helper of the store (`hash_index.ts`, `policy.ts`, `free_list.ts`,
 * `items.ts`, `liveness.ts`, `expiry.ts`, `evict.ts`, `write.ts`, `scan.ts`)
 * is a function taking this record
 * first. It is built by {@link createState} alone, with every field set up
 * front, so V8 sees one object shape and field access stays monomorphic.
 *
 * Memory accounting: `limitBytes` bounds the pages (`stats.totalMalloced`),
 * like memcached's `-m`; the hash index (4 bytes per bucket) is not counted.
 * A store always may allocate its first page, so a limit below one page still
 * serves items (classes then share that page by reassignment).
 * @module
 */

import type { Clock } from "../clock.ts";
import { PagePool, SizeClasses } from "./slabs.ts";
import { Miss, type StoreOptions, type StoreStats } from "./types.ts";

/** Bucket count of a new hash index (a power of two). */
export const INITIAL_BUCKETS = 1 << 16;

/** Everything a slab store knows; see the module doc. */
export interface StoreState {
  readonly clock: Clock;
  readonly stats: StoreStats;
  /** Page memory limit in bytes. */
  limitBytes: number;
  readonly maxItemSize: number;
  /**
   * Why the last internal `lookup` returned 0 (copied into the caller's
   * StoreResult by the Store methods; never read across calls).
   */
  miss: Miss;
  /** Last cas unique handed out. */
  casCounter: number;
  readonly sc: SizeClasses;
  readonly pool: PagePool;
  /** Handle bits of the chunk index (`pool.chunkBits`). */
  readonly cb: number;
  /** Mask of the chunk index in a handle. */
  readonly cm: number;
  // Per class state, indexed by class id.
  // Eviction policy state (`policy.ts` only): S3-FIFO's queues per class.
  /** Main FIFO: newest item of each class; 0 = empty. */
  readonly lruHead: Uint32Array;
  /** Main FIFO: oldest item of each class. */
  readonly lruTail: Uint32Array;
  /** Small FIFO (new items): newest item of each class; 0 = empty. */
  readonly smallHead: Uint32Array;
  /** Small FIFO: oldest item of each class. */
  readonly smallTail: Uint32Array;
  /** Items in each class's small FIFO. */
  readonly smallCount: Int32Array;
  /**
   * Ghost FIFO: key hashes of items recently evicted from a small FIFO,
   * direct-mapped by hash (an entry lives until another hash takes its slot).
   */
  ghost: Uint32Array;
  /** First free (unlinked, carved) chunk of each class (`free_list.ts`). */
  readonly freeHead: Uint32Array;
  readonly freeCount: Int32Array;
  /** Linked items of each class. */
  readonly items: Int32Array;
  /** Pages held by each class. */
  readonly pages: Int32Array;
  /** The page each class carves new chunks from; 0 = none. */
  readonly carvePage: Int32Array;
  /** Evictions per class since the last stats reset. */
  readonly evicted: Float64Array;
  /** Bytes requested by the linked items of each class (ITEM_ntotal sum). */
  readonly requested: Float64Array;
  // Hash index.
  /** Bucket heads; chains run through the chunks' HNEXT word. */
  buckets: Uint32Array;
  /** `buckets.length - 1`. */
  mask: number;
  /** Item count past which the index doubles. */
  growAt: number;
  /** An item that allocation must not evict (the old version being rewritten). */
  pin: number;
  // Flush watermarks (see expiry.ts).
  flushAt: number;
  flushCas: number;
  pastFlushAt: number;
  pastFlushCas: number;
  // Sweep cursor.
  sweepPage: number;
  sweepChunk: number;
  /**
   * The page being drained to shrink under the limit (`evict.ts`); 0 =
   * none. Its freed chunks go on no free list, so nothing refills it.
   */
  drainPage: number;
  /** The next chunk of `drainPage` to empty. */
  drainAt: number;
  /**
   * While true, `drainPage`'s chunks are still being taken off its class's
   * free list, a bounded walk at a time (`free_list.ts`), resuming after
   * `dropPrev` (0 = from the head).
   */
  dropping: boolean;
  dropPrev: number;
}

/** Builds the state of an empty store. */
export function createState(opts: StoreOptions): StoreState {
  const pageSize = Math.max(1 << 20, Math.ceil(opts.maxItemSize / 8) * 8);
  const sc = new SizeClasses(pageSize, opts.growthFactor ?? 1.25);
  const pool = new PagePool(pageSize);
  const n = sc.count + 1;
  return {
    clock: opts.clock,
    stats: {
      currItems: 0,
      totalItems: 0,
      bytes: 0,
      evictions: 0,
      evictedUnfetched: 0,
      reclaimed: 0,
      expiredUnfetched: 0,
      totalMalloced: 0,
      slabReassigns: 0,
    },
    limitBytes: opts.limitBytes,
    maxItemSize: opts.maxItemSize,
    miss: Miss.None,
    casCounter: 0,
    sc,
    pool,
    cb: pool.chunkBits,
    cm: (1 << pool.chunkBits) - 1,
    lruHead: new Uint32Array(n),
    lruTail: new Uint32Array(n),
    smallHead: new Uint32Array(n),
    smallTail: new Uint32Array(n),
    smallCount: new Int32Array(n),
    ghost: new Uint32Array(INITIAL_BUCKETS),
    freeHead: new Uint32Array(n),
    freeCount: new Int32Array(n),
    items: new Int32Array(n),
    pages: new Int32Array(n),
    carvePage: new Int32Array(n),
    evicted: new Float64Array(n),
    requested: new Float64Array(n),
    buckets: new Uint32Array(INITIAL_BUCKETS),
    mask: INITIAL_BUCKETS - 1,
    growAt: INITIAL_BUCKETS * 1.5,
    pin: 0,
    flushAt: 0,
    flushCas: 0,
    pastFlushAt: 0,
    pastFlushCas: 0,
    sweepPage: 1,
    sweepChunk: 0,
    drainPage: 0,
    drainAt: 0,
    dropping: false,
    dropPrev: 0,
  };
}

/** The u32 view of the page holding handle `h`. */
export function u32Of(s: StoreState, h: number): Uint32Array {
  return s.pool.u32[h >>> s.cb];
}

/** The first u32 word of handle `h`'s chunk within its page. */
export function wordOf(s: StoreState, h: number): number {
  return (h & s.cm) * s.pool.cw[h >>> s.cb];
}
