/**
 * The slab item store: memcached's memory design in typed arrays.
 *
 * Items live in fixed-size chunks of 1 MiB pages (`slabs.ts`); a chunk is a
 * 40-byte header, the key and the value (`chunk.ts`). The store is split by
 * concern, every part a set of functions over one plain state record
 * (`state.ts`):
 *
 * - `hash_index.ts`: the key index (bucket heads, chains, rehash);
 * - `policy.ts`: the eviction policy (per class LRU), the only module that
 *   knows it;
 * - `free_list.ts`: per class lists of empty chunks;
 * - `items.ts`: linking items into / out of index, policy and counters;
 * - `liveness.ts`, `expiry.ts`: dead (expired / flushed) items, flush
 *   watermarks, sweep;
 * - `evict.ts`: chunk allocation, eviction, page reassignment, limits;
 * - `write.ts`: store, restore and incr/decr;
 * - `scan.ts`: the resumable walk over live items;
 * - `holds.ts`: reader holds (values a reply sends from the pages later);
 * - `counters.ts`: the store's counters, summed over loops;
 * - `sync.ts`, `locks.ts`: key, class and pool locks of a store shared by
 *   the loops of `-t N` (`shared.ts` builds one).
 *
 * This file assembles them into the {@link Store} interface; {@link
 * createStore} is the one public entry point.
 * @module
 */

import type { Clock } from "../clock.ts";
import {
  clampExp,
  itemBytes,
  readCas,
  setMetaBits,
  writeCas,
} from "./chunk.ts";
import * as chunk from "./chunk.ts";
import { setLimit, shrink } from "./evict.ts";
import { flushAll, lookup, sweep } from "./expiry.ts";
import { hashBytes } from "./hash.ts";
import { isLinked, unlinkItem } from "./items.ts";
import { policyHit, policyOldest, policyWalk } from "./policy.ts";
import { scan } from "./scan.ts";
import type { PagePool } from "./slabs.ts";
import { createState, nextCas, type StoreState } from "./state.ts";
import { resetStats, sumStats } from "./counters.ts";
import { lockClass, releaseKey, syncViews, unlockClass } from "./sync.ts";
import { freeLate, hold, unhold } from "./holds.ts";
import {
  type ClassInfo,
  type Handle,
  type Mode,
  newResult,
  type ScanVisitor,
  Status,
  type Store,
  type StoreOptions,
  type StoreResult,
  type StoreStats,
} from "./types.ts";
import { fits, incrDecr, restoreItem, storeItem } from "./write.ts";
import {
  commitReserved,
  dropReserved,
  fillReserved,
  reserveItem,
} from "./reserve.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const {
  ATIME,
  BITS_MASK,
  BITS_SHIFT,
  EXP,
  FETCHED,
  FLAGS,
  HDR,
  KLEN_MASK,
  META,
  VLEN,
} = chunk;

/** The {@link Store} over a {@link StoreState}; methods delegate to the modules. */
/** Chunks one batch's end may empty while the store is over its limit. */
const FIT_CHUNKS = 64;

export class SlabStore implements Store {
  readonly clock: Clock;
  readonly maxItemSize: number;
  readonly shared: boolean;
  private readonly s: StoreState;
  // Copies of immutable state fields, for the one-line accessors below.
  private readonly pool: PagePool;
  private readonly cb: number;
  private readonly cm: number;
  /** Result record for restore calls that pass none (restore needs the handle). */
  private readonly scratch: StoreResult = newResult();

  /** The store over state `s` (private, or one loop's view of a shared one). */
  constructor(s: StoreState) {
    this.s = s;
    this.clock = s.clock;
    this.shared = s.shared;
    this.maxItemSize = s.maxItemSize;
    this.pool = s.pool;
    this.cb = s.cb;
    this.cm = s.cm;
  }

  get limitBytes(): number {
    return this.s.limitBytes;
  }

  /** Sums every loop's counter block (a fresh record each call). */
  get stats(): StoreStats {
    return sumStats(this.s);
  }

  // ---- handle accessors ----

  private u(h: number): Uint32Array {
    return this.pool.u32[h >>> this.cb];
  }
  private w(h: number): number {
    return (h & this.cm) * this.pool.cw[h >>> this.cb];
  }

  flagsOf(h: number): number {
    return this.u(h)[this.w(h) + FLAGS];
  }
  casOf(h: number): number {
    return readCas(this.u(h), this.w(h));
  }
  expOf(h: number): number {
    return this.u(h)[this.w(h) + EXP];
  }
  lastAccessOf(h: number): number {
    return this.u(h)[this.w(h) + ATIME];
  }
  bitsOf(h: number): number {
    return (this.u(h)[this.w(h) + META] >>> BITS_SHIFT) & BITS_MASK;
  }
  setBits(h: number, bits: number): void {
    setMetaBits(
      this.shared,
      this.u(h),
      this.w(h) + META,
      BITS_MASK << BITS_SHIFT,
      (bits & BITS_MASK) << BITS_SHIFT,
    );
  }
  classOf(h: number): number {
    return this.pool.cls[h >>> this.cb];
  }
  sizeOf(h: number): number {
    return itemBytes(this.u(h), this.w(h));
  }
  valueLen(h: number): number {
    return this.u(h)[this.w(h) + VLEN];
  }
  valueBytes(h: number): Uint8Array {
    return this.pool.u8[h >>> this.cb];
  }
  valueStart(h: number): number {
    const w = this.w(h);
    return (w << 2) + HDR + (this.u(h)[w + META] & KLEN_MASK);
  }
  keyLen(h: number): number {
    return this.u(h)[this.w(h) + META] & KLEN_MASK;
  }
  keyBytes(h: number): Uint8Array {
    return this.pool.u8[h >>> this.cb];
  }
  keyStart(h: number): number {
    return (this.w(h) << 2) + HDR;
  }
  setExp(h: number, exp: number): void {
    this.u(h)[this.w(h) + EXP] = clampExp(exp);
  }
  bumpCas(h: number): number {
    const cas = nextCas(this.s);
    writeCas(this.u(h), this.w(h), cas);
    return cas;
  }

  fits(keyLen: number, valueLen: number, flags = 0): boolean {
    return fits(this.s, keyLen, valueLen, flags);
  }

  // ---- reads ----

  find(
    key: Uint8Array,
    start: number,
    len: number,
    r?: StoreResult,
  ): Handle {
    const s = this.s;
    const now = s.clock.now();
    const h = lookup(s, key, start, len, hashBytes(key, start, len), now);
    if (r !== undefined) r.miss = s.miss;
    if (h === 0) return -1;
    const pool = this.pool;
    const p = h >>> this.cb;
    const u = pool.u32[p];
    const w = (h & this.cm) * pool.cw[p];
    // Written only when it changes (the clock counts seconds): with -t N
    // another core reads this header too, and a store on every hit would
    // move its cache line between the cores each time.
    if (u[w + ATIME] !== now) u[w + ATIME] = now;
    if ((u[w + META] & FETCHED) === 0) {
      if (this.shared) Atomics.or(u, w + META, FETCHED);
      else u[w + META] |= FETCHED;
    }
    policyHit(s, h, pool.cls[p]);
    return h;
  }

  peek(
    key: Uint8Array,
    start: number,
    len: number,
    r?: StoreResult,
  ): Handle {
    const s = this.s;
    const h = lookup(
      s,
      key,
      start,
      len,
      hashBytes(key, start, len),
      s.clock.now(),
    );
    if (r !== undefined) r.miss = s.miss;
    return h === 0 ? -1 : h;
  }

  // ---- writes ----

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
  ): Status {
    return storeItem(
      this.s,
      mode,
      key,
      kStart,
      kLen,
      flags,
      exp,
      value,
      vStart,
      vLen,
      cas,
      r,
    );
  }

  restore(
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
  ): Status {
    return restoreItem(
      this.s,
      key,
      kStart,
      kLen,
      flags,
      exp,
      value,
      vStart,
      vLen,
      cas,
      r ?? this.scratch,
    );
  }

  remove(key: Uint8Array, start: number, len: number): Status {
    const s = this.s;
    const h = lookup(
      s,
      key,
      start,
      len,
      hashBytes(key, start, len),
      s.clock.now(),
    );
    if (h === 0) return Status.NotFound;
    this.unlink(h);
    return Status.Deleted;
  }

  removeHandle(h: Handle): void {
    if (isLinked(this.s, h)) this.unlink(h);
  }

  /** Unlinks `h` (its stripe held) under its class lock. */
  private unlink(h: number): void {
    const s = this.s;
    const c = this.pool.cls[h >>> this.cb];
    lockClass(s, c);
    unlinkItem(s, h);
    unlockClass(s, c);
  }

  incrDecr(
    key: Uint8Array,
    start: number,
    len: number,
    incr: boolean,
    delta: bigint,
    r?: StoreResult,
  ): Status {
    return incrDecr(this.s, key, start, len, incr, delta, r);
  }

  // ---- maintenance and stats ----

  flushAll(at: number): void {
    flushAll(this.s, at);
  }

  sweep(budget: number): number {
    return sweep(this.s, budget);
  }

  setLimit(limitBytes: number, maxChunks?: number): boolean {
    return setLimit(this.s, limitBytes, maxChunks);
  }

  shrink(maxChunks: number): boolean {
    return shrink(this.s, maxChunks);
  }

  lruWalk(
    cls: number,
    fn: (h: Handle) => boolean,
    maxLooked?: number,
    from?: Handle,
  ): Handle {
    if (cls < 1 || cls > this.s.sc.count) return 0;
    // Items of a class leave it only under its lock: they stay readable.
    lockClass(this.s, cls);
    try {
      return policyWalk(this.s, cls, fn, maxLooked, from);
    } finally {
      unlockClass(this.s, cls);
    }
  }

  scan(cursor: number, budget: number, visit: ScanVisitor): number {
    return scan(this.s, cursor, budget, visit);
  }

  classes(): ClassInfo[] {
    const s = this.s;
    if (s.shared) syncViews(s); // pages other loops added since
    const out: ClassInfo[] = [];
    const now = s.clock.now();
    for (let c = 1; c <= s.sc.count; c++) {
      if (s.pages[c] === 0) continue;
      const perPage = s.sc.perPage[c];
      const cp = s.carvePage[c];
      const uncarved = cp === 0 ? 0 : perPage - this.pool.carved[cp];
      const tail = policyOldest(s, c);
      out.push({
        id: c,
        chunkSize: s.sc.size[c],
        chunksPerPage: perPage,
        pages: s.pages[c],
        usedChunks: s.items[c],
        freeChunks: s.freeCount[c] + uncarved,
        items: s.items[c],
        oldestAge: tail === 0 ? 0 : Math.max(0, now - this.lastAccessOf(tail)),
        evictions: s.evicted[c],
        requested: s.requested[c],
      });
    }
    return out;
  }

  release(): void {
    const s = this.s;
    releaseKey(s);
    if (s.lateFrees.length !== 0) freeLate(s);
    // Over -m (a class's first page): one slice of the fit back at each
    // batch's end, where no handle is in use but held ones, so the page of
    // a class that is filling up is paid for within a few batches, not
    // seconds later. A shared store leaves it to the main loop's timer.
    if (!s.shared && s.totalMalloced > s.limitBytes) shrink(s, FIT_CHUNKS);
  }

  hold(h: Handle): boolean {
    return hold(this.s, h);
  }

  reserve(
    key: Uint8Array,
    kStart: number,
    kLen: number,
    flags: number,
    exp: number,
    vLen: number,
  ): Handle {
    return reserveItem(this.s, key, kStart, kLen, flags, exp, vLen);
  }

  reservedRoom(h: Handle, off: number, n: number): Uint8Array {
    const at = this.valueStart(h) + off;
    return this.pool.u8[h >>> this.cb].subarray(at, at + n);
  }

  fillReserved(
    h: Handle,
    off: number,
    src: Uint8Array,
    start: number,
    n: number,
  ): void {
    fillReserved(this.s, h, off, src, start, n);
  }

  commitReserved(
    mode: Mode,
    h: Handle,
    cas: number,
    r?: StoreResult,
  ): Status {
    return commitReserved(this.s, mode, h, cas, r);
  }

  dropReserved(h: Handle): void {
    dropReserved(this.s, h);
  }

  unhold(h: Handle): void {
    unhold(this.s, h);
  }

  resetStats(): void {
    resetStats(this.s);
  }
}

/** Creates an item store with the given memory limit, item size limit and clock. */
export function createStore(opts: StoreOptions): Store {
  return new SlabStore(createState(opts));
}
