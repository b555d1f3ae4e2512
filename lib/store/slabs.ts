/**
 * Slab geometry: size classes and the page pool.
 *
 * Memory is carved into pages (one ArrayBuffer each, all the same size). A
 * page belongs to one size class at a time and is split into equal chunks of
 * that class's chunk size. Chunk sizes start at {@link MIN_CHUNK} and grow by
 * the growth factor (8-byte aligned); a class of fewer than 16 chunks a
 * page is widened to fill it; the last class is a whole page.
 *
 * A chunk is addressed by a handle `(page << chunkBits) | chunkIndex`. Page
 * slot 0 is never used, so handle 0 means "none" in the u32 link fields.
 * Handles stay below 2^30 so they are small integers in V8.
 * @module
 */

import { CI } from "./layout.ts";
import { freeNow } from "../free_now.ts";

/** Smallest chunk size in bytes. */
export const MIN_CHUNK = 64;
/** Largest number of size classes (ids 1..MAX_CLASSES). */
export const MAX_CLASSES = 254;
const SMALL_LIMIT = 4096;
/** Classes with fewer chunks a page than this fill the page exactly. */
const BIG_PER_PAGE = 16;

/** The table of size classes; class ids are 1-based (0 = none). */
export class SizeClasses {
  /** Chunk size of each class, indexed by class id (index 0 unused). */
  readonly size: number[] = [0];
  /** Chunks per page of each class, indexed by class id. */
  readonly perPage: number[] = [0];
  /** Number of classes; ids run 1..count. */
  readonly count: number;
  private readonly small: Uint8Array;

  /** Builds the classes for pages of `pageSize` bytes. */
  constructor(pageSize: number, factor: number) {
    if (!(factor > 1)) factor = 1.25;
    let s = MIN_CHUNK;
    while (this.size.length < MAX_CLASSES) {
      const a = Math.ceil(s / 8) * 8;
      if (a > pageSize / factor) break;
      if (a > this.size[this.size.length - 1]) this.size.push(a);
      s = Math.max(s * factor, a + 8);
    }
    this.size.push(pageSize);
    // A large class takes the most room that still fits as many chunks in a
    // page: a 500 KB value then gets half a page (2 a page, as memcached's
    // 512 KiB class gives it), not 588 KiB of one (1 a page).
    for (let c = this.size.length - 2; c >= 1; c--) {
      const n = Math.floor(pageSize / this.size[c]);
      if (n >= BIG_PER_PAGE) break;
      this.size[c] = Math.floor(pageSize / n / 8) * 8;
    }
    this.size = this.size.filter((v, i, a) => i === 0 || v !== a[i - 1]);
    this.count = this.size.length - 1;
    for (let c = 1; c <= this.count; c++) {
      this.perPage.push(Math.floor(pageSize / this.size[c]));
    }
    this.small = new Uint8Array(SMALL_LIMIT / 8 + 1);
    let c = 1;
    for (let i = 0; i < this.small.length; i++) {
      while (this.size[c] < i * 8) c++;
      this.small[i] = c;
    }
  }

  /** The smallest class whose chunk holds `bytes`, or 0 if none does. */
  classFor(bytes: number): number {
    if (bytes <= SMALL_LIMIT) return this.small[(bytes + 7) >>> 3];
    let c = this.small[SMALL_LIMIT >>> 3];
    while (c <= this.count && this.size[c] < bytes) c++;
    return c <= this.count ? c : 0;
  }
}

/**
 * The pages, with per-thread u32/u8 views and per-page metadata. Arrays are
 * indexed by page slot; slot 0 is a dummy.
 *
 * Private pools (one loop) give each page its own ArrayBuffer, so a page
 * released by `cache_memlimit` goes back to the garbage collector. Shared
 * pools (`-t N`) carve slot `p` out of one growable SharedArrayBuffer at
 * `p * pageSize`: the base never moves, growing is visible to every
 * thread, and the reservation costs address space only. The caller holds
 * the pool lock around {@link alloc}, {@link assign} and {@link release};
 * other threads pick up new slots with {@link sync} after taking any lock.
 */
export class PagePool {
  /** Bytes per page. */
  readonly pageSize: number;
  /** Bits of a handle that hold the chunk index. */
  readonly chunkBits: number;
  /** Most page slots (handles must stay below 2^30; shared: the reservation). */
  readonly maxSlots: number;
  /** u32 view of each page (this thread's). */
  readonly u32: Uint32Array[] = [new Uint32Array(0)];
  /** u8 view of each page (this thread's). */
  readonly u8: Uint8Array[] = [new Uint8Array(0)];
  /** Size class of each page (0 = slot free). */
  readonly cls: Int32Array;
  /** Chunk size in 32-bit words of each page. */
  readonly cw: Int32Array;
  /** Chunks handed out so far from each page (the rest are untouched). */
  readonly carved: Int32Array;
  /** Reader holds on each page's items (`holds.ts`); a held page stays put. */
  readonly holds: Int32Array;
  private readonly freeSlots: Int32Array;
  private readonly ci: Int32Array;
  private readonly sab: SharedArrayBuffer | null;

  /**
   * A pool of `pageSize`-byte pages over metadata buffer `meta` (see
   * {@link PagePool.metaBuffer}), shared when `sab` is given; `ci` holds the
   * slot count, page count and free-slot top (layout.ts words 4, 5, 15).
   */
  constructor(
    pageSize: number,
    sab: SharedArrayBuffer | null,
    meta: SharedArrayBuffer | ArrayBuffer,
    ci: Int32Array,
  ) {
    this.pageSize = pageSize;
    this.chunkBits = chunkBitsFor(pageSize);
    const n = meta.byteLength / META_BYTES;
    this.maxSlots = n - 1;
    this.cls = new Int32Array(meta, 0, n);
    this.cw = new Int32Array(meta, 4 * n, n);
    this.carved = new Int32Array(meta, 8 * n, n);
    this.freeSlots = new Int32Array(meta, 12 * n, n);
    this.holds = new Int32Array(meta, 16 * n, n);
    this.ci = ci;
    this.sab = sab;
    this.sync();
  }

  /**
   * A metadata buffer for pages of `pageSize` bytes: `slots` of them when
   * shared, else as many as handles allow.
   */
  static metaBuffer(
    pageSize: number,
    slots: number,
    shared: boolean,
  ): SharedArrayBuffer | ArrayBuffer {
    const most = 2 ** (30 - chunkBitsFor(pageSize)) - 1;
    const n = (shared ? Math.min(slots, most) : most) + 1;
    const bytes = META_BYTES * n;
    return shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  }

  /** Pages currently allocated. */
  get count(): number {
    return this.ci[POOL_COUNT];
  }

  /** Page slots in use, free ones included (slot 0 counts). */
  get slots(): number {
    return this.ci[SLOTS];
  }

  /** Builds this thread's views of slots another thread added. */
  sync(): void {
    const sab = this.sab;
    if (sab === null) return;
    const want = Atomics.load(this.ci, SLOTS);
    const ps = this.pageSize;
    for (let p = this.u32.length; p < want; p++) {
      this.u32.push(new Uint32Array(sab, p * ps, ps >>> 2));
      this.u8.push(new Uint8Array(sab, p * ps, ps));
    }
  }

  /** Allocates a page for class `c` with `chunkSize` chunks; 0 if out of slots. */
  alloc(c: number, chunkSize: number): number {
    const ci = this.ci;
    let p: number;
    if (ci[FREE_TOP] > 0) {
      p = this.freeSlots[--ci[FREE_TOP]];
    } else {
      p = ci[SLOTS];
      if (p > this.maxSlots) return 0;
      if (this.sab !== null) {
        const need = (p + 1) * this.pageSize;
        if (this.sab.byteLength < need) {
          try {
            this.sab.grow(need);
          } catch {
            return 0;
          }
        }
        // Published after the grow, so a loop that sees the slot can view it.
        Atomics.store(ci, SLOTS, p + 1);
        this.sync();
      } else {
        this.u32.push(this.u32[0]);
        this.u8.push(this.u8[0]);
        ci[SLOTS] = p + 1;
      }
    }
    if (this.sab === null) {
      const buf = new ArrayBuffer(this.pageSize);
      this.u32[p] = new Uint32Array(buf);
      this.u8[p] = new Uint8Array(buf);
    }
    // A reused shared slot keeps its old bytes, as a reassigned page does:
    // only carved chunks are ever read, and carving writes the header.
    ci[POOL_COUNT]++;
    this.assign(p, c, chunkSize);
    return p;
  }

  /** Gives page `p` to class `c`: all its chunks become uncarved. */
  assign(p: number, c: number, chunkSize: number): void {
    this.cls[p] = c;
    this.cw[p] = chunkSize >>> 2;
    this.carved[p] = 0;
  }

  /**
   * Frees page `p`. A private page's memory goes back at once: its buffer
   * is detached (`transfer(0)`), which frees the bytes now, where dropping
   * the last reference would leave them until a major GC, and those are
   * rare while the heap is steady (issue #14: pages given back by
   * `cache_memlimit` or the fit to `-m` stayed resident).
   */
  release(p: number): void {
    if (this.sab === null) {
      freeNow(this.u8[p]);
      this.u32[p] = this.u32[0];
      this.u8[p] = this.u8[0];
    }
    this.cls[p] = 0;
    this.cw[p] = 0;
    this.carved[p] = 0;
    this.ci[POOL_COUNT]--;
    this.freeSlots[this.ci[FREE_TOP]++] = p;
  }
}

/** Metadata bytes per page slot: class, chunk words, carved, free slot, holds. */
export const META_BYTES = 20;

function chunkBitsFor(pageSize: number): number {
  return Math.ceil(Math.log2(pageSize / MIN_CHUNK));
}

// Module-local copies of the control words the pool owns (see chunk.ts on
// why imported bindings are copied).
const { SLOTS, POOL_COUNT, FREE_TOP } = CI;
