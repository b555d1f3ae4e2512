/**
 * The slab store's state as one record, shared by the store's modules.
 *
 * Every helper of the store (`hash_index.ts`, `policy.ts`, `free_list.ts`,
 * `items.ts`, `liveness.ts`, `expiry.ts`, `evict.ts`, `write.ts`, `scan.ts`)
 * is a function taking this record first. It is built by {@link createState}
 * alone, with every field set up front, so V8 sees one shape.
 *
 * The record is per thread; what it points at may be shared. With `-t N`
 * (see `shared.ts`) every array below, the scalars behind the accessors
 * (kept in the `ci`/`cf` control words) and the pages live in
 * SharedArrayBuffers that each loop's record views; `miss`, `pin`, the
 * local view lists and the lock bookkeeping stay per thread. A store of one
 * loop uses the same layout over private buffers, so the code is the same.
 *
 * Memory accounting: `limitBytes` bounds the pages (`totalMalloced`), like
 * memcached's `-m`; the hash index (4 bytes per bucket) is not counted. A
 * store always may allocate its first page, so a limit below one page still
 * serves items (classes then share that page by reassignment).
 * @module
 */

import type { Clock } from "../clock.ts";
import { PagePool, SizeClasses } from "./slabs.ts";
import { CF, CI, STATS_WORDS } from "./layout.ts";
import { Miss, type StoreOptions } from "./types.ts";

/** Bucket count of a new hash index (a power of two). */
export const INITIAL_BUCKETS = 1 << 16;

/** The buffers a store's state lives in (private, or shared by `-t N`). */
export interface Backing {
  /** Size classes' count + 1 words per array. */
  readonly perClass: SharedArrayBuffer | ArrayBuffer;
  /** Control words (`CI`), Int32. */
  readonly ci: SharedArrayBuffer | ArrayBuffer;
  /** Control words (`CF`), Float64. */
  readonly cf: SharedArrayBuffer | ArrayBuffer;
  /** Counter blocks (`ST`), one per loop, Float64. */
  readonly stats: SharedArrayBuffer | ArrayBuffer;
  /** Bucket heads (growable when shared). */
  readonly buckets: SharedArrayBuffer | ArrayBuffer;
  /** Ghost slots, as big as the bucket table (growable when shared). */
  readonly ghost: SharedArrayBuffer | ArrayBuffer;
  /** Lock words: stripes then classes (shared only). */
  readonly locks: SharedArrayBuffer | null;
  /** Page pool buffers (see slabs.ts). */
  readonly pages: SharedArrayBuffer | null;
  readonly pageMeta: SharedArrayBuffer | ArrayBuffer;
}

/** Everything a slab store knows; see the module doc. */
export class StoreState {
  readonly clock: Clock;
  readonly maxItemSize: number;
  /** True when other threads share this state (locks are taken). */
  readonly shared: boolean;
  /** This thread's loop id (its counter block). */
  readonly loop: number;
  /**
   * Why the last internal `lookup` returned 0 (copied into the caller's
   * StoreResult by the Store methods; never read across calls).
   */
  miss: Miss = Miss.None;
  readonly sc: SizeClasses;
  readonly pool: PagePool;
  /** Handle bits of the chunk index (`pool.chunkBits`). */
  readonly cb: number;
  /** Mask of the chunk index in a handle. */
  readonly cm: number;
  /** Int32 control words (see layout.ts `CI`). */
  readonly ci: Int32Array;
  /** Float64 control words (see layout.ts `CF`). */
  readonly cf: Float64Array;
  /** This loop's counter block (`ST`). */
  readonly st: Float64Array;
  /** Every loop's counter blocks, for sums. */
  readonly stAll: Float64Array;
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
  /** `buckets.length - 1` (this thread's view; `ci[MASK]` is the truth). */
  mask: number;
  /** An item that allocation must not evict (the old version being rewritten). */
  pin = 0;
  /** Lock words (stripes, then one per class); empty when not shared. */
  readonly locks: Int32Array;
  /** The stripe this thread holds since its last key lookup; -1 = none. */
  heldStripe = -1;
  /** The class lock this thread holds; 0 = none. */
  heldClass = 0;
  /** Nesting depth of `heldClass`. */
  classDepth = 0;
  /** A second class lock taken with sync.ts tryClass; 0 = none. */
  triedClass = 0;
  // What the last sync.ts tryItem took (hash, stripe answer, class, answer).
  tHv = 0;
  tStripe = 0;
  tCls = 0;
  tClass = 0;
  readonly backing: Backing;
  /** This loop's holds per held item (holds.ts; META counts loops). */
  readonly holds = new Map<number, number>();
  /** Held items per page slot (holds.ts; the pool's, shared with `-t N`). */
  readonly pageHolds: Int32Array;
  /** Zombies whose last hold went while another class lock was held (holds.ts). */
  readonly lateFrees: number[] = [];

  constructor(opts: StoreOptions, b: Backing, loop: number) {
    const pageSize = pageSizeFor(opts.maxItemSize);
    this.sc = new SizeClasses(pageSize, opts.growthFactor ?? 1.25);
    this.clock = opts.clock;
    this.maxItemSize = opts.maxItemSize;
    this.shared = b.locks !== null;
    this.loop = loop;
    this.backing = b;
    this.ci = new Int32Array(b.ci);
    this.cf = new Float64Array(b.cf);
    this.stAll = new Float64Array(b.stats);
    this.st = this.stAll.subarray(loop * STATS_WORDS, (loop + 1) * STATS_WORDS);
    this.pool = new PagePool(pageSize, b.pages, b.pageMeta, this.ci);
    this.cb = this.pool.chunkBits;
    this.cm = (1 << this.pool.chunkBits) - 1;
    const n = this.sc.count + 1;
    let at = 0;
    const u32 = () => new Uint32Array(b.perClass, (at += 4 * n) - 4 * n, n);
    const i32 = () => new Int32Array(b.perClass, (at += 4 * n) - 4 * n, n);
    this.lruHead = u32();
    this.lruTail = u32();
    this.smallHead = u32();
    this.smallTail = u32();
    this.smallCount = i32();
    this.freeHead = u32();
    this.freeCount = i32();
    this.items = i32();
    this.pages = i32();
    this.carvePage = i32();
    at = Math.ceil(at / 8) * 8;
    this.evicted = new Float64Array(b.perClass, (at += 8 * n) - 8 * n, n);
    this.requested = new Float64Array(b.perClass, (at += 8 * n) - 8 * n, n);
    this.mask = this.ci[CI.MASK];
    this.buckets = new Uint32Array(b.buckets, 0, this.mask + 1);
    this.ghost = new Uint32Array(b.ghost, 0, this.mask + 1);
    this.locks = b.locks === null ? new Int32Array(0) : new Int32Array(b.locks);
    this.pageHolds = this.pool.holds;
  }

  /** Page memory limit in bytes. */
  get limitBytes(): number {
    return this.cf[CF.LIMIT];
  }
  set limitBytes(v: number) {
    this.cf[CF.LIMIT] = v;
  }
  /** Page bytes allocated (memcached's total_malloced). */
  get totalMalloced(): number {
    return this.cf[CF.MALLOCED];
  }
  set totalMalloced(v: number) {
    this.cf[CF.MALLOCED] = v;
  }
  /** Item count past which the index doubles. */
  get growAt(): number {
    return this.cf[CF.GROW_AT];
  }
  set growAt(v: number) {
    this.cf[CF.GROW_AT] = v;
  }
  // Flush watermarks (see expiry.ts).
  get flushAt(): number {
    return this.cf[CF.FLUSH_AT];
  }
  set flushAt(v: number) {
    this.cf[CF.FLUSH_AT] = v;
  }
  get flushCas(): number {
    return this.cf[CF.FLUSH_CAS];
  }
  set flushCas(v: number) {
    this.cf[CF.FLUSH_CAS] = v;
  }
  get pastFlushAt(): number {
    return this.cf[CF.PAST_AT];
  }
  set pastFlushAt(v: number) {
    this.cf[CF.PAST_AT] = v;
  }
  get pastFlushCas(): number {
    return this.cf[CF.PAST_CAS];
  }
  set pastFlushCas(v: number) {
    this.cf[CF.PAST_CAS] = v;
  }
  // Sweep cursor (benignly racy between loops: item work is locked).
  get sweepPage(): number {
    return this.ci[CI.SWEEP_PAGE];
  }
  set sweepPage(v: number) {
    this.ci[CI.SWEEP_PAGE] = v;
  }
  get sweepChunk(): number {
    return this.ci[CI.SWEEP_CHUNK];
  }
  set sweepChunk(v: number) {
    this.ci[CI.SWEEP_CHUNK] = v;
  }
  /**
   * The page being drained to shrink under the limit (`evict.ts`); 0 =
   * none. Its freed chunks go on no free list, so nothing refills it.
   */
  get drainPage(): number {
    return this.ci[CI.DRAIN_PAGE];
  }
  set drainPage(v: number) {
    this.ci[CI.DRAIN_PAGE] = v;
  }
  /** The next chunk of `drainPage` to empty. */
  get drainAt(): number {
    return this.ci[CI.DRAIN_AT];
  }
  set drainAt(v: number) {
    this.ci[CI.DRAIN_AT] = v;
  }
  /**
   * While true, `drainPage`'s chunks are still being taken off its class's
   * free list, a bounded walk at a time (`free_list.ts`), resuming after
   * `dropPrev` (0 = from the head).
   */
  get dropping(): boolean {
    return this.ci[CI.DROPPING] !== 0;
  }
  set dropping(v: boolean) {
    this.ci[CI.DROPPING] = v ? 1 : 0;
  }
  get dropPrev(): number {
    return this.ci[CI.DROP_PREV] >>> 0;
  }
  set dropPrev(v: number) {
    this.ci[CI.DROP_PREV] = v;
  }
}

/** Page size for an item size limit: 1 MiB, or one item when larger. */
export function pageSizeFor(maxItemSize: number): number {
  return Math.max(1 << 20, Math.ceil(maxItemSize / 8) * 8);
}

/** Bytes of the per-class arrays for `classes` size classes. */
export function perClassBytes(classes: number): number {
  const n = classes + 1;
  return Math.ceil((10 * 4 * n) / 8) * 8 + 2 * 8 * n;
}

/** Sets the control words of a new, empty store. */
export function initControl(
  ci: Int32Array,
  cf: Float64Array,
  limitBytes: number,
): void {
  ci[CI.MASK] = INITIAL_BUCKETS - 1;
  ci[CI.SLOTS] = 1;
  ci[CI.SWEEP_PAGE] = 1;
  cf[CF.LIMIT] = limitBytes;
  cf[CF.GROW_AT] = INITIAL_BUCKETS * 1.5;
}

/** Builds the state of an empty store of one loop (private buffers). */
export function createState(opts: StoreOptions): StoreState {
  const sc = new SizeClasses(
    pageSizeFor(opts.maxItemSize),
    opts.growthFactor ?? 1.25,
  );
  const b: Backing = {
    perClass: new ArrayBuffer(perClassBytes(sc.count)),
    ci: new ArrayBuffer(CI.WORDS * 4),
    cf: new ArrayBuffer(CF.WORDS * 8),
    stats: new ArrayBuffer(STATS_WORDS * 8),
    buckets: new ArrayBuffer(INITIAL_BUCKETS * 4),
    ghost: new ArrayBuffer(INITIAL_BUCKETS * 4),
    locks: null,
    pages: null,
    pageMeta: PagePool.metaBuffer(pageSizeFor(opts.maxItemSize), 0, false),
  };
  initControl(new Int32Array(b.ci), new Float64Array(b.cf), opts.limitBytes);
  return new StoreState(opts, b, 0);
}

/** The u32 view of the page holding handle `h`. */
export function u32Of(s: StoreState, h: number): Uint32Array {
  return s.pool.u32[h >>> s.cb];
}

/** The first u32 word of handle `h`'s chunk within its page. */
export function wordOf(s: StoreState, h: number): number {
  return (h & s.cm) * s.pool.cw[h >>> s.cb];
}

/** The next cas unique (global across loops, so flushes can compare). */
export function nextCas(s: StoreState): number {
  const ci = s.ci;
  if (!s.shared) {
    const lo = (ci[CI.CAS_LO] + 1) | 0;
    ci[CI.CAS_LO] = lo;
    if (lo === 0) ci[CI.CAS_HI]++;
    return (ci[CI.CAS_HI] >>> 0) * 4294967296 + (lo >>> 0);
  }
  const lo = (Atomics.add(ci, CI.CAS_LO, 1) + 1) | 0;
  // The loop that wraps the low word carries; a reader racing the carry may
  // see one value 2^32 low, once every four billion writes.
  if (lo === 0) Atomics.add(ci, CI.CAS_HI, 1);
  return (Atomics.load(ci, CI.CAS_HI) >>> 0) * 4294967296 + (lo >>> 0);
}

/** The last cas unique handed out. */
export function lastCas(s: StoreState): number {
  return (s.ci[CI.CAS_HI] >>> 0) * 4294967296 + (s.ci[CI.CAS_LO] >>> 0);
}

/** Raises the cas counter to at least `cas` (restore, before serving). */
export function raiseCas(s: StoreState, cas: number): void {
  if (cas <= lastCas(s)) return;
  s.ci[CI.CAS_LO] = cas % 4294967296;
  s.ci[CI.CAS_HI] = Math.floor(cas / 4294967296);
}

/** Adds `d` to the store-wide item count. */
export function addItems(s: StoreState, d: number): number {
  if (s.shared) return Atomics.add(s.ci, CI.ITEMS, d) + d;
  return (s.ci[CI.ITEMS] += d);
}
