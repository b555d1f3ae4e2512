/**
 * The slab item store: memcached's memory design in typed arrays.
 *
 * Items live in fixed-size chunks of 1 MiB pages (see `slabs.ts`). Each chunk
 * starts with a 40-byte header of ten u32 words, followed by the key bytes and
 * then the value bytes:
 *
 * | word | field                                                    |
 * | ---- | -------------------------------------------------------- |
 * | 0    | LRU prev handle (free list prev when the chunk is free)  |
 * | 1    | LRU next handle (free list next when the chunk is free)  |
 * | 2    | hash chain next handle                                   |
 * | 3    | value length                                             |
 * | 4    | client flags                                             |
 * | 5    | exptime (absolute unix seconds, 0 = never)               |
 * | 6    | last access / update time (unix seconds)                 |
 * | 7, 8 | cas unique, low and high 32 bits                         |
 * | 9    | key length (bits 0-15), {@link Bits} (16-22), linked (23) |
 *
 * The index is a power-of-two Uint32Array of bucket heads with chains
 * through word 2; it doubles when items exceed 1.5 × buckets. Every size
 * class keeps a doubly linked LRU list (head = most recent) and a doubly
 * linked free list of chunks; pages are carved lazily.
 *
 * Memory accounting: `limitBytes` bounds the pages (`stats.totalMalloced`),
 * like memcached's `-m`; the hash index (4 bytes per bucket) is not counted.
 * A store always may allocate its first page, so a limit below one page still
 * serves items (classes then share that page by reassignment).
 *
 * Expired and flushed items are dead: every call treats them as absent and
 * reclaims them when met; {@link Store.sweep} reclaims them in the
 * background. `flushAll(at)` kills items whose last update is before `at`
 * (or in second `at` with a cas not newer than the flush) once `at` has come.
 * @module
 */

import type { Clock } from "../clock.ts";
import { hashBytes } from "./hash.ts";
import { applyDelta, parseU64 } from "./numeric.ts";
import { PagePool, SizeClasses } from "./slabs.ts";
import {
  Bits,
  type ClassInfo,
  Mode,
  Status,
  type Store,
  type StoreOptions,
  type StoreStats,
} from "./types.ts";

const PREV = 0;
const NEXT = 1;
const HNEXT = 2;
const VLEN = 3;
const FLAGS = 4;
const EXP = 5;
const ATIME = 6;
const CASLO = 7;
const CASHI = 8;
const META = 9;
/** Header bytes before the key. */
const HDR = 40;
const KLEN_MASK = 0xffff;
const BITS_SHIFT = 16;
const BITS_MASK = 0x7f;
const LINKED = 0x80 << BITS_SHIFT;
const FETCHED = Bits.Fetched << BITS_SHIFT;
/** memcached's per item overhead: 48 header + 8 cas + NUL + "\r\n". */
const OVERHEAD = 59;
const TWO32 = 4294967296;
const COPY_LOOP_MAX = 48;
const INITIAL_BUCKETS = 1 << 16;

/** memcached's ITEM_ntotal: header, key, value and 4 bytes of non-zero flags. */
function itemBytes(u: Uint32Array, w: number): number {
  return (u[w + META] & KLEN_MASK) + u[w + VLEN] + OVERHEAD +
    (u[w + FLAGS] !== 0 ? 4 : 0);
}

function clampExp(exp: number): number {
  if (exp < 0) return 1;
  return exp > 0xffffffff ? 0xffffffff : exp;
}

/** Copies `len` bytes without allocating for short ranges. */
function copyBytes(
  dst: Uint8Array,
  dOff: number,
  src: Uint8Array,
  sOff: number,
  len: number,
): void {
  if (len <= COPY_LOOP_MAX) {
    for (let i = 0; i < len; i++) dst[dOff + i] = src[sOff + i];
  } else if (dst === src) {
    dst.copyWithin(dOff, sOff, sOff + len);
  } else if (sOff === 0 && len === src.length) {
    dst.set(src, dOff);
  } else {
    dst.set(src.subarray(sOff, sOff + len), dOff);
  }
}

class SlabStore implements Store {
  readonly clock: Clock;
  readonly stats: StoreStats = {
    currItems: 0,
    totalItems: 0,
    bytes: 0,
    evictions: 0,
    evictedUnfetched: 0,
    reclaimed: 0,
    expiredUnfetched: 0,
    totalMalloced: 0,
    slabReassigns: 0,
  };
  limitBytes: number;
  readonly maxItemSize: number;
  lastCas = 0;
  lastHandle = -1;
  lastNumber = 0n;

  private casCounter = 0;
  private readonly sc: SizeClasses;
  private readonly pool: PagePool;
  private readonly cb: number;
  private readonly cm: number;
  // Per class state, indexed by class id.
  private readonly lruHead: Uint32Array;
  private readonly lruTail: Uint32Array;
  private readonly freeHead: Uint32Array;
  private readonly freeCount: Int32Array;
  private readonly items: Int32Array;
  private readonly pages: Int32Array;
  private readonly carvePage: Int32Array;
  private readonly evicted: Float64Array;
  // Hash index.
  private buckets = new Uint32Array(INITIAL_BUCKETS);
  private mask = INITIAL_BUCKETS - 1;
  private growAt = INITIAL_BUCKETS * 1.5;
  /** An item that allocation must not evict (the old version being rewritten). */
  private pin = 0;
  private flushAt = 0;
  private flushCas = 0;
  private pastFlushAt = 0;
  private pastFlushCas = 0;
  private sweepPage = 1;
  private sweepChunk = 0;

  constructor(opts: StoreOptions) {
    this.clock = opts.clock;
    this.limitBytes = opts.limitBytes;
    this.maxItemSize = opts.maxItemSize;
    const pageSize = Math.max(1 << 20, Math.ceil(opts.maxItemSize / 8) * 8);
    this.sc = new SizeClasses(pageSize, opts.growthFactor ?? 1.25);
    this.pool = new PagePool(pageSize);
    this.cb = this.pool.chunkBits;
    this.cm = (1 << this.cb) - 1;
    const n = this.sc.count + 1;
    this.lruHead = new Uint32Array(n);
    this.lruTail = new Uint32Array(n);
    this.freeHead = new Uint32Array(n);
    this.freeCount = new Int32Array(n);
    this.items = new Int32Array(n);
    this.pages = new Int32Array(n);
    this.carvePage = new Int32Array(n);
    this.evicted = new Float64Array(n);
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
    const u = this.u(h);
    const w = this.w(h);
    return u[w + CASHI] * TWO32 + u[w + CASLO];
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
    const u = this.u(h);
    const w = this.w(h);
    u[w + META] = (u[w + META] & ~(BITS_MASK << BITS_SHIFT)) |
      ((bits & BITS_MASK) << BITS_SHIFT);
  }
  classOf(h: number): number {
    return this.pool.cls[h >>> this.cb];
  }
  sizeOf(h: number): number {
    const u = this.u(h);
    const w = this.w(h);
    return itemBytes(u, w);
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
    const cas = ++this.casCounter;
    this.writeCas(this.u(h), this.w(h), cas);
    return cas;
  }
  private writeCas(u: Uint32Array, w: number, cas: number): void {
    u[w + CASLO] = cas >>> 0;
    u[w + CASHI] = Math.floor(cas / TWO32);
  }

  fits(keyLen: number, valueLen: number, flags = 0): boolean {
    return keyLen + valueLen + OVERHEAD + (flags !== 0 ? 4 : 0) <=
      this.maxItemSize;
  }

  // ---- liveness ----

  private dead(u: Uint32Array, w: number, now: number): boolean {
    const exp = u[w + EXP];
    if (exp !== 0 && exp <= now) return true;
    const fa = this.flushAt;
    if (fa !== 0 && now >= fa) {
      const t = u[w + ATIME];
      if (
        t < fa ||
        (t === fa && u[w + CASHI] * TWO32 + u[w + CASLO] <= this.flushCas)
      ) return true;
    }
    const pa = this.pastFlushAt;
    if (pa !== 0) {
      const t = u[w + ATIME];
      if (
        t < pa ||
        (t === pa && u[w + CASHI] * TWO32 + u[w + CASLO] <= this.pastFlushCas)
      ) return true;
    }
    return false;
  }

  /** Unlinks a dead item, counting it as reclaimed. */
  private reclaim(h: number): void {
    this.stats.reclaimed++;
    if ((this.u(h)[this.w(h) + META] & FETCHED) === 0) {
      this.stats.expiredUnfetched++;
    }
    this.unlinkItem(h);
  }

  flushAll(at: number): void {
    const now = this.clock.now();
    if (at <= 0) at = now;
    if (this.flushAt !== 0 && now >= this.flushAt) {
      if (this.flushAt >= this.pastFlushAt) {
        this.pastFlushAt = this.flushAt;
        this.pastFlushCas = this.flushCas;
      }
    }
    this.flushAt = at;
    this.flushCas = at <= now ? this.casCounter : 0;
  }

  // ---- hash index ----

  /** Finds the live item with this key (reclaiming a dead one); 0 if none. */
  private lookup(
    key: Uint8Array,
    start: number,
    len: number,
    hv: number,
    now: number,
  ): number {
    const pool = this.pool;
    const cb = this.cb;
    const cm = this.cm;
    let h = this.buckets[hv & this.mask];
    while (h !== 0) {
      const p = h >>> cb;
      const u = pool.u32[p];
      const w = (h & cm) * pool.cw[p];
      if ((u[w + META] & KLEN_MASK) === len) {
        const u8 = pool.u8[p];
        const o = (w << 2) + HDR - start;
        let i = start;
        const end = start + len;
        while (i < end && u8[o + i] === key[i]) i++;
        if (i === end) {
          if (this.dead(u, w, now)) {
            this.reclaim(h);
            return 0;
          }
          return h;
        }
      }
      h = u[w + HNEXT];
    }
    return 0;
  }

  private hashOf(h: number): number {
    const p = h >>> this.cb;
    const w = (h & this.cm) * this.pool.cw[p];
    const klen = this.pool.u32[p][w + META] & KLEN_MASK;
    return hashBytes(this.pool.u8[p], (w << 2) + HDR, klen);
  }

  private hashRemove(h: number): void {
    const b = this.hashOf(h) & this.mask;
    const next = this.u(h)[this.w(h) + HNEXT];
    let cur = this.buckets[b];
    if (cur === h) {
      this.buckets[b] = next;
      return;
    }
    while (cur !== 0) {
      const u = this.u(cur);
      const w = this.w(cur);
      const n = u[w + HNEXT];
      if (n === h) {
        u[w + HNEXT] = next;
        return;
      }
      cur = n;
    }
  }

  private growIndex(): void {
    const old = this.buckets;
    const size = old.length * 2;
    const nb = new Uint32Array(size);
    const mask = size - 1;
    for (let b = 0; b < old.length; b++) {
      let h = old[b];
      while (h !== 0) {
        const u = this.u(h);
        const w = this.w(h);
        const next = u[w + HNEXT];
        const nbk = this.hashOf(h) & mask;
        u[w + HNEXT] = nb[nbk];
        nb[nbk] = h;
        h = next;
      }
    }
    this.buckets = nb;
    this.mask = mask;
    this.growAt = size * 1.5;
  }

  // ---- LRU and free lists ----

  private setPrev(h: number, v: number): void {
    this.u(h)[this.w(h) + PREV] = v;
  }
  private setNext(h: number, v: number): void {
    this.u(h)[this.w(h) + NEXT] = v;
  }

  private lruLinkHead(h: number, c: number): void {
    const u = this.u(h);
    const w = this.w(h);
    const head = this.lruHead[c];
    u[w + PREV] = 0;
    u[w + NEXT] = head;
    if (head !== 0) this.setPrev(head, h);
    else this.lruTail[c] = h;
    this.lruHead[c] = h;
  }

  private lruUnlink(h: number, c: number): void {
    const u = this.u(h);
    const w = this.w(h);
    const prev = u[w + PREV];
    const next = u[w + NEXT];
    if (prev !== 0) this.setNext(prev, next);
    else this.lruHead[c] = next;
    if (next !== 0) this.setPrev(next, prev);
    else this.lruTail[c] = prev;
  }

  private lruBump(h: number, c: number): void {
    if (this.lruHead[c] === h) return;
    this.lruUnlink(h, c);
    this.lruLinkHead(h, c);
  }

  private freePush(h: number, c: number): void {
    const u = this.u(h);
    const w = this.w(h);
    const head = this.freeHead[c];
    u[w + PREV] = 0;
    u[w + NEXT] = head;
    if (head !== 0) this.setPrev(head, h);
    this.freeHead[c] = h;
    this.freeCount[c]++;
  }

  private freeRemove(h: number, c: number): void {
    const u = this.u(h);
    const w = this.w(h);
    const prev = u[w + PREV];
    const next = u[w + NEXT];
    if (prev !== 0) this.setNext(prev, next);
    else this.freeHead[c] = next;
    if (next !== 0) this.setPrev(next, prev);
    this.freeCount[c]--;
  }

  // ---- linking items ----

  private linkItem(h: number, c: number, hv: number): void {
    const u = this.u(h);
    const w = this.w(h);
    const b = hv & this.mask;
    u[w + HNEXT] = this.buckets[b];
    this.buckets[b] = h;
    this.lruLinkHead(h, c);
    this.items[c]++;
    const s = this.stats;
    s.currItems++;
    s.totalItems++;
    s.bytes += itemBytes(u, w);
    if (s.currItems > this.growAt) this.growIndex();
  }

  /** Removes an item from the index and its LRU and frees its chunk. */
  private unlinkItem(h: number): void {
    const c = this.pool.cls[h >>> this.cb];
    this.hashRemove(h);
    this.lruUnlink(h, c);
    const u = this.u(h);
    const w = this.w(h);
    this.items[c]--;
    this.stats.currItems--;
    this.stats.bytes -= itemBytes(u, w);
    u[w + META] = 0;
    this.freePush(h, c);
  }

  // ---- allocation ----

  private canGrow(): boolean {
    return this.pool.count === 0 ||
      this.stats.totalMalloced + this.pool.pageSize <= this.limitBytes;
  }

  /** A free chunk of class `c`, evicting if needed; 0 if none can be had. */
  private alloc(c: number): number {
    const fh = this.freeHead[c];
    if (fh !== 0) {
      this.freeRemove(fh, c);
      return fh;
    }
    const h = this.carve(c);
    if (h !== 0) return h;
    if (this.canGrow()) {
      const p = this.pool.alloc(c, this.sc.size[c]);
      if (p !== 0) {
        this.pages[c]++;
        this.carvePage[c] = p;
        this.stats.totalMalloced += this.pool.pageSize;
        return this.carve(c);
      }
    }
    if (this.items[c] > 0 && this.evictTail(c)) {
      const f = this.freeHead[c];
      this.freeRemove(f, c);
      return f;
    }
    if (this.reassign(c)) return this.carve(c);
    return 0;
  }

  private carve(c: number): number {
    const p = this.carvePage[c];
    if (p === 0) return 0;
    const i = this.pool.carved[p];
    if (i < this.sc.perPage[c]) {
      this.pool.carved[p] = i + 1;
      return (p << this.cb) | i;
    }
    this.carvePage[c] = 0;
    return 0;
  }

  /** Frees one item of class `c`: a dead one near the tail, else the LRU tail. */
  private evictTail(c: number): boolean {
    const now = this.clock.now();
    let h = this.lruTail[c];
    for (let tries = 0; h !== 0 && tries < 5; tries++) {
      const u = this.u(h);
      const w = this.w(h);
      if (h !== this.pin && this.dead(u, w, now)) {
        this.reclaim(h);
        return true;
      }
      h = u[w + PREV];
    }
    h = this.lruTail[c];
    while (h !== 0 && h === this.pin) h = this.u(h)[this.w(h) + PREV];
    if (h === 0) return false;
    this.evictOne(h, c);
    return true;
  }

  private evictOne(h: number, c: number): void {
    this.stats.evictions++;
    this.evicted[c]++;
    if ((this.u(h)[this.w(h) + META] & FETCHED) === 0) {
      this.stats.evictedUnfetched++;
    }
    this.unlinkItem(h);
  }

  /** A page of class `c` that does not hold the pinned item (LRU tail's first); 0 if none. */
  private pickPage(c: number): number {
    const pinPage = this.pin === 0 ? 0 : this.pin >>> this.cb;
    const tail = this.lruTail[c];
    if (tail !== 0 && tail >>> this.cb !== pinPage) return tail >>> this.cb;
    const cls = this.pool.cls;
    for (let p = 1; p < cls.length; p++) {
      if (cls[p] === c && p !== pinPage) return p;
    }
    return 0;
  }

  /** The page to take from the class with most pages (other than `not`); 0 if none. */
  private victimPage(not: number): number {
    let best = 0;
    let bestPages = 0;
    for (let c = 1; c <= this.sc.count; c++) {
      if (c !== not && this.pages[c] > bestPages && this.pickPage(c) !== 0) {
        best = c;
        bestPages = this.pages[c];
      }
    }
    return best === 0 ? 0 : this.pickPage(best);
  }

  /** Evicts every item of page `p` and detaches it from its class. */
  private drainPage(p: number): void {
    const c = this.pool.cls[p];
    const n = this.pool.carved[p];
    const now = this.clock.now();
    const u = this.pool.u32[p];
    const cw = this.pool.cw[p];
    for (let i = 0; i < n; i++) {
      const h = (p << this.cb) | i;
      if ((u[i * cw + META] & LINKED) !== 0) {
        if (this.dead(u, i * cw, now)) this.reclaim(h);
        else this.evictOne(h, c);
      }
    }
    for (let i = 0; i < n; i++) this.freeRemove((p << this.cb) | i, c);
    if (this.carvePage[c] === p) this.carvePage[c] = 0;
    this.pages[c]--;
  }

  /** Moves a page from the class with most pages to class `c`. */
  private reassign(c: number): boolean {
    const p = this.victimPage(c);
    if (p === 0) return false;
    this.drainPage(p);
    this.pool.assign(p, c, this.sc.size[c]);
    this.pages[c]++;
    this.carvePage[c] = p;
    this.stats.slabReassigns++;
    return true;
  }

  setLimit(limitBytes: number): void {
    this.limitBytes = limitBytes;
    while (
      this.stats.totalMalloced > limitBytes && this.pool.count > 1
    ) {
      const p = this.victimPage(0);
      if (p === 0) break;
      this.drainPage(p);
      this.pool.release(p);
      this.stats.totalMalloced -= this.pool.pageSize;
    }
  }

  // ---- operations ----

  find(key: Uint8Array, start: number, len: number): number {
    const now = this.clock.now();
    const h = this.lookup(key, start, len, hashBytes(key, start, len), now);
    if (h === 0) return -1;
    const p = h >>> this.cb;
    const u = this.pool.u32[p];
    const w = (h & this.cm) * this.pool.cw[p];
    u[w + ATIME] = now;
    u[w + META] |= FETCHED;
    this.lruBump(h, this.pool.cls[p]);
    return h;
  }

  peek(key: Uint8Array, start: number, len: number): number {
    const h = this.lookup(
      key,
      start,
      len,
      hashBytes(key, start, len),
      this.clock.now(),
    );
    return h === 0 ? -1 : h;
  }

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
  ): Status {
    const now = this.clock.now();
    const hv = hashBytes(key, kStart, kLen);
    let h = this.lookup(key, kStart, kLen, hv, now);
    if (!this.fits(kLen, vLen, flags)) {
      if (mode === Mode.Set && h !== 0) this.unlinkItem(h);
      return Status.TooLarge;
    }
    let oldLen = 0;
    let newLen = vLen;
    switch (mode) {
      case Mode.Add:
        if (h !== 0) return Status.NotStored;
        break;
      case Mode.Replace:
        if (h === 0) return Status.NotStored;
        break;
      case Mode.Append:
      case Mode.Prepend:
        if (h === 0) return Status.NotStored;
        oldLen = this.valueLen(h);
        newLen = oldLen + vLen;
        flags = this.flagsOf(h);
        if (!this.fits(kLen, newLen, flags)) return Status.NotStored;
        exp = this.expOf(h);
        break;
      case Mode.Cas:
        if (h === 0) return Status.NotFound;
        if (this.casOf(h) !== cas) return Status.Exists;
        break;
    }
    const c = this.sc.classFor(HDR + kLen + newLen);
    const pool = this.pool;
    if (h !== 0 && pool.cls[h >>> this.cb] === c) {
      const casv = ++this.casCounter;
      // Rewrite in place: same chunk, no allocation.
      const p = h >>> this.cb;
      const u = pool.u32[p];
      const w = (h & this.cm) * pool.cw[p];
      const u8 = pool.u8[p];
      const vo = (w << 2) + HDR + kLen;
      if (mode === Mode.Append) {
        copyBytes(u8, vo + oldLen, value, vStart, vLen);
      } else if (mode === Mode.Prepend) {
        u8.copyWithin(vo + vLen, vo, vo + oldLen);
        copyBytes(u8, vo, value, vStart, vLen);
      } else {
        copyBytes(u8, vo, value, vStart, vLen);
      }
      this.stats.bytes -= itemBytes(u, w);
      this.stats.totalItems++;
      u[w + VLEN] = newLen;
      u[w + FLAGS] = flags;
      this.stats.bytes += itemBytes(u, w);
      u[w + EXP] = clampExp(exp);
      u[w + ATIME] = now;
      u[w + META] = kLen | LINKED;
      this.writeCas(u, w, casv);
      this.lruBump(h, c);
      this.lastCas = casv;
      this.lastHandle = h;
      return Status.Stored;
    }
    if (h !== 0 && mode === Mode.Set) {
      this.unlinkItem(h);
      h = 0;
    }
    this.pin = h;
    const nh = this.alloc(c);
    this.pin = 0;
    if (nh === 0) return Status.NoMemory;
    const casv = ++this.casCounter;
    const p = nh >>> this.cb;
    const u = pool.u32[p];
    const w = (nh & this.cm) * pool.cw[p];
    const u8 = pool.u8[p];
    const ko = (w << 2) + HDR;
    this.writeHeader(u, w, kLen, newLen, flags, exp, now, casv);
    copyBytes(u8, ko, key, kStart, kLen);
    const vo = ko + kLen;
    if (mode === Mode.Append || mode === Mode.Prepend) {
      const src = pool.u8[h >>> this.cb];
      const so = this.valueStart(h);
      if (mode === Mode.Append) {
        copyBytes(u8, vo, src, so, oldLen);
        copyBytes(u8, vo + oldLen, value, vStart, vLen);
      } else {
        copyBytes(u8, vo, value, vStart, vLen);
        copyBytes(u8, vo + vLen, src, so, oldLen);
      }
    } else {
      copyBytes(u8, vo, value, vStart, vLen);
    }
    if (h !== 0) this.unlinkItem(h);
    this.linkItem(nh, c, hv);
    this.lastCas = casv;
    this.lastHandle = nh;
    return Status.Stored;
  }

  private writeHeader(
    u: Uint32Array,
    w: number,
    kLen: number,
    vLen: number,
    flags: number,
    exp: number,
    now: number,
    cas: number,
  ): void {
    u[w + VLEN] = vLen;
    u[w + FLAGS] = flags;
    u[w + EXP] = clampExp(exp);
    u[w + ATIME] = now;
    u[w + META] = kLen | LINKED;
    this.writeCas(u, w, cas);
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
  ): Status {
    const st = this.store(
      Mode.Set,
      key,
      kStart,
      kLen,
      flags,
      exp,
      value,
      vStart,
      vLen,
      0,
    );
    if (st !== Status.Stored) return st;
    const h = this.lastHandle;
    this.writeCas(this.u(h), this.w(h), cas);
    this.lastCas = cas;
    if (cas > this.casCounter) this.casCounter = cas;
    return st;
  }

  remove(key: Uint8Array, start: number, len: number): Status {
    const h = this.lookup(
      key,
      start,
      len,
      hashBytes(key, start, len),
      this.clock.now(),
    );
    if (h === 0) return Status.NotFound;
    this.unlinkItem(h);
    return Status.Deleted;
  }

  removeHandle(h: number): void {
    if ((this.u(h)[this.w(h) + META] & LINKED) !== 0) this.unlinkItem(h);
  }

  incrDecr(
    key: Uint8Array,
    start: number,
    len: number,
    incr: boolean,
    delta: bigint,
  ): Status {
    const now = this.clock.now();
    const hv = hashBytes(key, start, len);
    const h = this.lookup(key, start, len, hv, now);
    if (h === 0) return Status.NotFound;
    const pool = this.pool;
    const oldLen = this.valueLen(h);
    const v = parseU64(pool.u8[h >>> this.cb], this.valueStart(h), oldLen);
    if (v < 0n) return Status.NonNumeric;
    const r = applyDelta(v, incr, delta);
    const text = r.toString();
    const rl = text.length;
    let target = h;
    if (rl > oldLen && HDR + len + rl > this.sc.size[this.classOf(h)]) {
      // Needs a bigger chunk: allocate a new item, then drop the old one.
      const c = this.sc.classFor(HDR + len + rl);
      this.pin = h;
      const nh = this.alloc(c);
      this.pin = 0;
      if (nh === 0) return Status.NoMemory;
      const casv = ++this.casCounter;
      const u = this.u(nh);
      const w = this.w(nh);
      this.writeHeader(
        u,
        w,
        len,
        rl,
        this.flagsOf(h),
        this.expOf(h),
        now,
        casv,
      );
      copyBytes(pool.u8[nh >>> this.cb], (w << 2) + HDR, key, start, len);
      this.unlinkItem(h);
      this.linkItem(nh, c, hv);
      // memcached links a new item here, so total_items counts it.
      target = nh;
    } else {
      const u = this.u(h);
      const w = this.w(h);
      if (rl > oldLen) {
        this.stats.bytes += rl - oldLen;
        u[w + VLEN] = rl;
      }
      this.writeCas(u, w, ++this.casCounter);
    }
    const u8 = pool.u8[target >>> this.cb];
    const vo = this.valueStart(target);
    const vl = this.valueLen(target);
    for (let i = 0; i < rl; i++) u8[vo + i] = text.charCodeAt(i);
    for (let i = rl; i < vl; i++) u8[vo + i] = 32;
    this.lastNumber = r;
    this.lastHandle = target;
    this.lastCas = this.casOf(target);
    return Status.Stored;
  }

  sweep(budget: number): number {
    const pool = this.pool;
    const n = pool.u32.length;
    if (n <= 1 || budget <= 0) return 0;
    const now = this.clock.now();
    let p = this.sweepPage;
    let i = this.sweepChunk;
    let looked = 0;
    let wraps = 0;
    while (looked < budget) {
      if (p >= n) {
        p = 1;
        i = 0;
        if (++wraps > 1) break;
      }
      if (i >= pool.carved[p]) {
        p++;
        i = 0;
        continue;
      }
      const u = pool.u32[p];
      const w = i * pool.cw[p];
      const h = (p << this.cb) | i;
      i++;
      looked++;
      if ((u[w + META] & LINKED) !== 0 && this.dead(u, w, now)) {
        this.reclaim(h);
      }
    }
    this.sweepPage = p;
    this.sweepChunk = i;
    return looked;
  }

  forEach(fn: (h: number) => void): void {
    const pool = this.pool;
    const now = this.clock.now();
    for (let p = 1; p < pool.u32.length; p++) {
      const u = pool.u32[p];
      const cw = pool.cw[p];
      const n = pool.carved[p];
      for (let i = 0; i < n; i++) {
        const w = i * cw;
        if ((u[w + META] & LINKED) !== 0 && !this.dead(u, w, now)) {
          fn((p << this.cb) | i);
        }
      }
    }
  }

  classes(): ClassInfo[] {
    const out: ClassInfo[] = [];
    const now = this.clock.now();
    for (let c = 1; c <= this.sc.count; c++) {
      if (this.pages[c] === 0) continue;
      const perPage = this.sc.perPage[c];
      const cp = this.carvePage[c];
      const uncarved = cp === 0 ? 0 : perPage - this.pool.carved[cp];
      const tail = this.lruTail[c];
      out.push({
        id: c,
        chunkSize: this.sc.size[c],
        chunksPerPage: perPage,
        pages: this.pages[c],
        usedChunks: this.items[c],
        freeChunks: this.freeCount[c] + uncarved,
        items: this.items[c],
        oldestAge: tail === 0 ? 0 : Math.max(0, now - this.lastAccessOf(tail)),
        evictions: this.evicted[c],
      });
    }
    return out;
  }

  resetStats(): void {
    const s = this.stats;
    s.totalItems = 0;
    s.evictions = 0;
    s.reclaimed = 0;
    s.expiredUnfetched = 0;
    s.evictedUnfetched = 0;
    s.slabReassigns = 0;
    this.evicted.fill(0);
  }
}

/** Creates an item store with the given memory limit, item size limit and clock. */
export function createStore(opts: StoreOptions): Store {
  return new SlabStore(opts);
}
