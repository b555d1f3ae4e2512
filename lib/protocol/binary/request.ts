/**
 * The request being answered: header fields decoded once by the framer and
 * read by every handler. One record is reused for every request of every
 * connection (handlers run to completion synchronously), so decoding a
 * request allocates nothing.
 * @module
 */

/** A decoded binary request header and where its parts lie in the input. */
export interface BinRequest {
  /** Opcode as sent (replies echo it, quiet forms included). */
  opcode: number;
  /** Opcode with quiet forms mapped to their loud twins. */
  cmd: number;
  extlen: number;
  keylen: number;
  bodylen: number;
  /** Opaque, echoed unchanged in every reply. */
  opaque: number;
  /** Request cas; 0 = none. Values past 2^53 are kept as a non-integer that matches no item. */
  cas: number;
  /** Offset of the extras in the input buffer. */
  es: number;
  /** Offset of the key in the input buffer. */
  ks: number;
  /** Offset of the value (after extras and key). */
  vs: number;
  /** Value bytes: bodylen - extlen - keylen. */
  vlen: number;
  /** A quiet command: its success reply is dropped. */
  quiet: boolean;
}

/** The one request record (see the module doc). */
export const req: BinRequest = {
  opcode: 0,
  cmd: 0,
  extlen: 0,
  keylen: 0,
  bodylen: 0,
  opaque: 0,
  cas: 0,
  es: 0,
  ks: 0,
  vs: 0,
  vlen: 0,
  quiet: false,
};

/** Big-endian unsigned 32-bit read. */
export function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Big-endian unsigned 64-bit read as a bigint (incr/decr operands). */
export function u64(b: Uint8Array, p: number): bigint {
  return (BigInt(u32(b, p)) << 32n) | BigInt(u32(b, p + 4));
}

/** 2^32, for splitting cas values into words. */
export const TWO32 = 4294967296;
/** Largest high word whose cas still fits a double exactly (below 2^53). */
const HI_SAFE = 0x1fffff;

/**
 * The request cas as a number. Our cas counter stays below 2^53, so a larger
 * one can match no item: it becomes 0.5, which is not 0 ("no cas") and
 * equals no item's cas.
 */
export function casAt(b: Uint8Array, p: number): number {
  const hi = u32(b, p);
  if (hi > HI_SAFE) return 0.5;
  return hi * TWO32 + u32(b, p + 4);
}

/** memcached's -vv dump of a 24-byte header: four bytes a line. */
export function dump(
  title: string,
  prefix: string,
  b: Uint8Array,
  p: number,
): string {
  let out = title;
  for (let i = 0; i < 24; i++) {
    if (i % 4 === 0) out += `\n${prefix}`;
    out += ` 0x${b[p + i].toString(16).padStart(2, "0")}`;
  }
  return out;
}
