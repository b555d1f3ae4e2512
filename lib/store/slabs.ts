/**
 * Slab geometry: size classes and the page pool.
 *
 * Memory is carved into pages (one ArrayBuffer each, all the same size). A
 * page belongs to one size class at a time and is split into equal chunks of
 * that class's chunk size. Chunk sizes start at {@link MIN_CHUNK} and grow by
 * the growth factor (8-byte aligned); the last class is a whole page.
 *
 * A chunk is addressed by a handle `(page << chunkBits) | chunkIndex`. Page
 * slot 0 is never used, so handle 0 means "none" in the u32 link fields.
 * Handles stay below 2^30 so they are small integers in V8.
 * @module
 */

/** Smallest chunk size in bytes. */
export const MIN_CHUNK = 64;
/** Largest number of size classes (ids 1..MAX_CLASSES). */
export const MAX_CLASSES = 254;
const SMALL_LIMIT = 4096;

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
 * The pages, with prebuilt u32/u8 views and per-page metadata. Arrays are
 * indexed by page slot; slot 0 is a dummy.
 */
export class PagePool {
  /** Bytes per page. */
  readonly pageSize: number;
  /** Bits of a handle that hold the chunk index. */
  readonly chunkBits: number;
  /** Most page slots (handles must stay below 2^30). */
  readonly maxSlots: number;
  /** u32 view of each page. */
  readonly u32: Uint32Array[] = [new Uint32Array(0)];
  /** u8 view of each page. */
  readonly u8: Uint8Array[] = [new Uint8Array(0)];
  /** Size class of each page (0 = slot free). */
  readonly cls: number[] = [0];
  /** Chunk size in 32-bit words of each page. */
  readonly cw: number[] = [0];
  /** Chunks handed out so far from each page (the rest are untouched). */
  readonly carved: number[] = [0];
  /** Pages currently allocated. */
  count = 0;
  private readonly freeSlots: number[] = [];

  /** Creates an empty pool of `pageSize`-byte pages. */
  constructor(pageSize: number) {
    this.pageSize = pageSize;
    this.chunkBits = Math.ceil(Math.log2(pageSize / MIN_CHUNK));
    this.maxSlots = 2 ** (30 - this.chunkBits) - 1;
  }

  /** Allocates a page for class `c` with `chunkSize` chunks; 0 if out of slots. */
  alloc(c: number, chunkSize: number): number {
    let p = this.freeSlots.pop();
    if (p === undefined) {
      p = this.u32.length;
      if (p > this.maxSlots) return 0;
      this.u32.push(this.u32[0]);
      this.u8.push(this.u8[0]);
      this.cls.push(0);
      this.cw.push(0);
      this.carved.push(0);
    }
    const buf = new ArrayBuffer(this.pageSize);
    this.u32[p] = new Uint32Array(buf);
    this.u8[p] = new Uint8Array(buf);
    this.count++;
    this.assign(p, c, chunkSize);
    return p;
  }

  /** Gives page `p` to class `c`: all its chunks become uncarved. */
  assign(p: number, c: number, chunkSize: number): void {
    this.cls[p] = c;
    this.cw[p] = chunkSize >>> 2;
    this.carved[p] = 0;
  }

  /** Frees page `p`; its memory goes back to the garbage collector. */
  release(p: number): void {
    this.u32[p] = this.u32[0];
    this.u8[p] = this.u8[0];
    this.cls[p] = 0;
    this.cw[p] = 0;
    this.carved[p] = 0;
    this.count--;
    this.freeSlots.push(p);
  }
}
