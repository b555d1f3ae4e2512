/**
 * Item chunk layout: the header words, their bit fields, and the pure helpers
 * that read and write them.
 *
 * Each chunk starts with a 40-byte header of ten u32 words, followed by the
 * key bytes and then the value bytes:
 *
 * | word | field                                                    |
 * | ---- | -------------------------------------------------------- |
 * | 0    | eviction policy word (LRU prev handle), `policy.ts` only |
 * | 1    | eviction policy word (LRU next handle), `policy.ts` only |
 * | 2    | hash chain next handle (free list next when free)        |
 * | 3    | value length                                             |
 * | 4    | client flags                                             |
 * | 5    | exptime (absolute unix seconds, 0 = never)               |
 * | 6    | last access / update time (unix seconds)                 |
 * | 7, 8 | cas unique, low and high 32 bits                         |
 * | 9    | key length (0-7), holds (8-14), zombie (15), {@link Bits} (16-22), linked (23), policy (24-31) |
 *
 * Helpers take the page's u32 view `u` and the chunk's first word `w`, so
 * callers resolve a handle once and then touch fields without allocating.
 *
 * Other store modules copy the word constants into module-local consts
 * (`const { META } = chunk`) rather than using the imported bindings: V8
 * constant-folds the former but loads and hole-checks an imported binding on
 * every use, which cost ~10% on find/store when measured.
 * @module
 */

import { Bits } from "./types.ts";

/** First word owned by the eviction policy (LRU previous handle). */
export const PREV = 0;
/** Second word owned by the eviction policy (LRU next handle). */
export const NEXT = 1;
/** Word of the hash chain next handle (free list next in a free chunk). */
export const HNEXT = 2;
/** Word of the value length. */
export const VLEN = 3;
/** Word of the client flags. */
export const FLAGS = 4;
/** Word of the absolute exptime (0 = never). */
export const EXP = 5;
/** Word of the last access / update time. */
export const ATIME = 6;
/** Word of the low 32 bits of the cas unique. */
export const CASLO = 7;
/** Word of the high bits of the cas unique. */
export const CASHI = 8;
/** Word of key length, {@link Bits} and the linked mark. */
export const META = 9;
/** Header bytes before the key. */
export const HDR = 40;
/** Key length bits of the {@link META} word (keys are at most 250 bytes). */
export const KLEN_MASK = 0xff;
/** One loop's reader holds in the {@link META} word (`holds.ts`). */
export const HOLD_ONE = 0x100;
/** The holding loops' count in the {@link META} word (at most 127 loops). */
export const HOLD_MASK = 0x7f00;
/**
 * {@link META} bit: an unlinked item still held by a reply; its chunk is
 * freed with its last hold (`holds.ts`).
 */
export const ZOMBIE = 0x8000;
/** Where the {@link Bits} start in the {@link META} word. */
export const BITS_SHIFT = 16;
/** The {@link Bits} after shifting down by {@link BITS_SHIFT}. */
export const BITS_MASK = 0x7f;
/** {@link META} bit: the chunk holds an item linked into index and LRU. */
export const LINKED = 0x80 << BITS_SHIFT;
/**
 * {@link META} bits 24-31 belong to the eviction policy (`policy.ts`):
 * {@link writeHeader} keeps them, so an item rewritten in place keeps its
 * place and frequency.
 */
export const POLICY_BITS = 0xff000000;
/** {@link META} bit: {@link Bits.Fetched}, in place. */
export const FETCHED = Bits.Fetched << BITS_SHIFT;
/** memcached's per item overhead: 48 header + 8 cas + NUL + "\r\n". */
export const OVERHEAD = 59;
/** 2^32, to split and join the cas words. */
export const TWO32 = 4294967296;
/** Below this length a byte loop beats `set()` (no subarray allocation). */
const COPY_LOOP_MAX = 48;

/** memcached's ITEM_ntotal: header, key, value and 4 bytes of non-zero flags. */
export function itemBytes(u: Uint32Array, w: number): number {
  return (u[w + META] & KLEN_MASK) + u[w + VLEN] + OVERHEAD +
    (u[w + FLAGS] !== 0 ? 4 : 0);
}

/** Clamps an exptime to what a u32 word holds (negative = already expired). */
export function clampExp(exp: number): number {
  if (exp < 0) return 1;
  return exp > 0xffffffff ? 0xffffffff : exp;
}

/** The cas unique of the chunk at `w`. */
export function readCas(u: Uint32Array, w: number): number {
  return u[w + CASHI] * TWO32 + u[w + CASLO];
}

/** Writes a cas unique (below 2^53) into the chunk at `w`. */
export function writeCas(u: Uint32Array, w: number, cas: number): void {
  u[w + CASLO] = cas >>> 0;
  u[w + CASHI] = Math.floor(cas / TWO32);
}

/** Fills in an item's header (links and policy bits aside) and marks it linked. */
export function writeHeader(
  u: Uint32Array,
  w: number,
  kLen: number,
  vLen: number,
  flags: number,
  exp: number,
  now: number,
  cas: number,
): void {
  writeFields(u, w, vLen, flags, exp, now, cas);
  u[w + META] = kLen | LINKED | (u[w + META] & POLICY_BITS);
}

/** The header words a write sets, META aside. */
function writeFields(
  u: Uint32Array,
  w: number,
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
  writeCas(u, w, cas);
}

/**
 * Sets the `mask` bits of META word `i` of `u` to `bits`. In a shared store
 * (`-t N`) two holders of different locks may change different bits of the
 * same META word (a reader's FETCHED, the policy's queue bits), so it is a
 * CAS loop there.
 */
export function setMetaBits(
  shared: boolean,
  u: Uint32Array,
  i: number,
  mask: number,
  bits: number,
): void {
  if (!shared) {
    u[i] = (u[i] & ~mask) | bits;
    return;
  }
  for (;;) {
    const m = Atomics.load(u, i);
    const n = ((m & ~mask) | bits) >>> 0;
    if (m === n || Atomics.compareExchange(u, i, m, n) === m) return;
  }
}

/**
 * Rewrites the header of a linked item in place (same key): as
 * {@link writeHeader}, its client bits cleared, leaving the policy bits to
 * whoever holds the class lock meanwhile (see {@link setMetaBits}).
 */
export function rewriteHeader(
  shared: boolean,
  u: Uint32Array,
  w: number,
  vLen: number,
  flags: number,
  exp: number,
  now: number,
  cas: number,
): void {
  writeFields(u, w, vLen, flags, exp, now, cas);
  setMetaBits(shared, u, w + META, BITS_MASK << BITS_SHIFT, LINKED);
}

/** Copies `len` bytes without allocating for short ranges. */
export function copyBytes(
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
