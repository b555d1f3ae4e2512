/**
 * A growable output buffer for replies. Every reply produced from one read of
 * a connection is appended here and sent with a single socket write, so the
 * buffer is reused and only grows (never per request).
 *
 * Large stored values can go by reference instead of being copied
 * ({@link putStored}, when the connection core turned `byRef` on): the
 * buffer then records where each value's bytes belong, and the core sends
 * the pieces in order straight from the store's pages, so many clients
 * reading one big value share its bytes (memcached's item references).
 * @module
 */

import { freeNow } from "../free_now.ts";

const enc = new TextEncoder();

/** Values at least this long go by reference when `byRef` is on. */
export const REF_MIN = 64 * 1024;

/** Growable byte buffer; `len` bytes of `buf` are pending output. */
export interface OutBuf {
  buf: Uint8Array;
  len: number;
  /** Whether {@link putStored} may reference stored bytes (set by the core). */
  byRef: boolean;
  /** Referenced values pending; ref i's bytes go after `buf[0, refAt[i])`. */
  nrefs: number;
  refAt: number[];
  refSrc: Uint8Array[];
  refStart: number[];
  refLen: number[];
  /** Item handle and cas of each ref: the core checks them before sending. */
  refHandle: number[];
  refCas: number[];
  /** Bytes referenced in total (pending output beside `len`). */
  refBytes: number;
  /** Keeps referenced items' bytes in place until sent (the store). */
  holder: Holder | null;
  /** The buffer `buf` had before it grew past {@link KEEP}; back at {@link shrink}. */
  home: Uint8Array | null;
}

/** What keeps a referenced value's bytes as they were (Store.hold). */
export interface Holder {
  /** False when the bytes cannot be held (then they are copied). */
  hold(h: number): boolean;
  unhold(h: number): void;
}

/**
 * Creates an empty buffer with `capacity` bytes reserved; with 0 the first
 * reply takes an {@link OUT_BASE} buffer from the pool.
 */
export function createOutBuf(capacity = OUT_BASE): OutBuf {
  return {
    buf: new Uint8Array(capacity),
    len: 0,
    byRef: false,
    nrefs: 0,
    refAt: [],
    refSrc: [],
    refStart: [],
    refLen: [],
    refHandle: [],
    refCas: [],
    refBytes: 0,
    holder: null,
    home: null,
  };
}

/** Output pending in all: own bytes plus referenced ones. */
export function pendingBytes(o: OutBuf): number {
  return o.len + o.refBytes;
}

/**
 * Appends stored value bytes `src[start, start + n)` of item `handle`
 * (cas `cas`): by reference when `byRef` is on and the value is at least
 * {@link REF_MIN} long, else copied.
 */
export function putStored(
  o: OutBuf,
  src: Uint8Array,
  start: number,
  n: number,
  handle: number,
  cas: number,
): void {
  if (
    !o.byRef || n < REF_MIN || (o.holder !== null && !o.holder.hold(handle))
  ) {
    return putRange(o, src, start, start + n);
  }
  const i = o.nrefs++;
  o.refAt[i] = o.len;
  o.refSrc[i] = src;
  o.refStart[i] = start;
  o.refLen[i] = n;
  o.refHandle[i] = handle;
  o.refCas[i] = cas;
  o.refBytes += n;
}

/** Drops every pending ref (after they were sent, or on a rollback). */
export function clearRefs(o: OutBuf, from = 0): void {
  for (let i = from; i < o.nrefs; i++) {
    o.refBytes -= o.refLen[i];
    o.refSrc[i] = EMPTY; // never pin a page the store let go
    o.holder?.unhold(o.refHandle[i]);
  }
  o.nrefs = from;
}

/**
 * Truncates the output back to `mark` own bytes (a command that fails after
 * answering part of itself), with the refs placed after it.
 */
export function rollback(o: OutBuf, mark: number): void {
  o.len = mark;
  let i = o.nrefs;
  while (i > 0 && o.refAt[i - 1] > mark) i--;
  // A ref placed exactly at mark was added after it too (own bytes precede).
  while (i > 0 && o.refAt[i - 1] === mark) i--;
  if (i < o.nrefs) clearRefs(o, i);
}

const EMPTY = new Uint8Array(0);

/** A connection's reply buffer stays its own up to this size. */
const KEEP = 64 * 1024;
/** Largest spare kept (per event loop: each loop is its own isolate). */
const SPARE_MAX = 4 * 1024 * 1024;
/**
 * The one large reply buffer kept between batches, for the next reply that
 * outgrows {@link KEEP}. Without it every big multi-get grew a buffer by
 * doubling and dropped it once sent: megabytes of dead ArrayBuffers per
 * batch, which V8 collects only after ~64 MiB of them and glibc then keeps
 * as fragmented heap (issue #14: peak RSS). A buffer is only put here by
 * {@link shrink}, when everything in it was sent.
 */
let spare: Uint8Array | null = null;

/** A connection's own reply buffer: taken when a reply starts, see {@link idleOut}. */
export const OUT_BASE = 16 * 1024;
/** Own buffers kept for reuse (per event loop, like the spare). */
const POOL_MAX = 64;
const pool: Uint8Array[] = [];

/** Makes room for `n` more bytes. */
export function reserve(o: OutBuf, n: number): void {
  const need = o.len + n;
  if (need <= o.buf.length) return;
  if (o.buf.length === 0 && need <= OUT_BASE) {
    o.buf = pool.pop() ?? new Uint8Array(OUT_BASE);
    return;
  }
  let cap = Math.max(o.buf.length * 2, OUT_BASE);
  while (cap < need) cap *= 2;
  let nb: Uint8Array;
  if (cap > KEEP && spare !== null && spare.length >= need) {
    nb = spare;
    spare = null;
  } else {
    nb = new Uint8Array(cap);
  }
  nb.set(o.buf.subarray(0, o.len));
  // The connection's own buffer waits for shrink(); a larger one that was
  // outgrown may still be in a write in flight, so it is left to the GC.
  if (o.home === null && o.buf.length <= KEEP && nb.length > KEEP) {
    o.home = o.buf;
  }
  o.buf = nb;
}

/**
 * After a batch is out: a buffer that grew past {@link KEEP} goes back to
 * the spare and the connection gets its own again, so one big reply does
 * not pin memory on every connection that ever made one.
 */
export function shrink(o: OutBuf): void {
  if (o.len !== 0 || o.buf.length <= KEEP) return;
  if (
    o.buf.length <= SPARE_MAX && (spare === null || o.buf.length > spare.length)
  ) spare = o.buf;
  o.buf = o.home ?? new Uint8Array(KEEP);
  o.home = null;
}

/**
 * After a batch is out: the connection's own buffer goes to a pool until
 * its next reply, so an idle connection holds none (a thousand idle
 * clients held 16 MiB of empty reply buffers; issue #14). Call only when
 * nothing in the buffer is pending or being written.
 */
export function idleOut(o: OutBuf): void {
  shrink(o);
  if (o.len !== 0 || o.nrefs !== 0 || o.buf.length !== OUT_BASE) return;
  if (pool.length < POOL_MAX) pool.push(o.buf);
  o.buf = EMPTY;
}

/**
 * The connection closed (its references already cleared): its own reply
 * buffers are freed now, not at the next major GC (`free_now.ts`).
 */
export function freeOut(o: OutBuf): void {
  if (o.home !== null) freeNow(o.home);
  freeNow(o.buf);
  o.home = null;
  o.buf = EMPTY;
  o.len = 0;
}

/** Appends `src[start, end)`. */
export function putRange(
  o: OutBuf,
  src: Uint8Array,
  start: number,
  end: number,
): void {
  const n = end - start;
  if (o.len + n > o.buf.length) reserve(o, n);
  if (n < 32) {
    // Short copies are faster as a loop than through set()+subarray().
    const b = o.buf;
    let j = o.len;
    for (let i = start; i < end; i++) b[j++] = src[i];
  } else {
    o.buf.set(src.subarray(start, end), o.len);
  }
  o.len += n;
}

/** Appends all of `src`. */
export function putBytes(o: OutBuf, src: Uint8Array): void {
  putRange(o, src, 0, src.length);
}

/** Appends one byte. */
export function putByte(o: OutBuf, b: number): void {
  if (o.len + 1 > o.buf.length) reserve(o, 1);
  o.buf[o.len++] = b;
}

/** Appends `\r\n`. */
export function putCrlf(o: OutBuf): void {
  if (o.len + 2 > o.buf.length) reserve(o, 2);
  o.buf[o.len++] = 13;
  o.buf[o.len++] = 10;
}

/** Appends a non-negative integer below 2^53 in decimal, without strings. */
export function putUint(o: OutBuf, v: number): void {
  if (o.len + 20 > o.buf.length) reserve(o, 20);
  const b = o.buf;
  if (v < 10) {
    b[o.len++] = 48 + v;
    return;
  }
  let digits = 0;
  for (let t = v; t >= 1; t = Math.floor(t / 10)) digits++;
  let p = o.len + digits;
  o.len = p;
  while (v >= 1) {
    const q = Math.floor(v / 10);
    b[--p] = 48 + (v - q * 10);
    v = q;
  }
}

/** Appends a signed integer in decimal. */
export function putInt(o: OutBuf, v: number): void {
  if (v < 0) {
    putByte(o, 45);
    putUint(o, -v);
  } else putUint(o, v);
}

/** Appends ASCII text (slow path: errors, stats). */
export function putText(o: OutBuf, s: string): void {
  putBytes(o, enc.encode(s));
}

/** Encodes a constant reply line once, with its `\r\n`. */
export function line(s: string): Uint8Array {
  return enc.encode(s + "\r\n");
}
