/**
 * Unsigned 64-bit decimal arithmetic for `incr`/`decr`.
 *
 * Values are parsed the way memcached's `safe_strtoull` accepts them, but
 * strictly: optional leading blanks, at least one digit, optional trailing
 * blanks, nothing else, at most 2^64-1.
 * @module
 */

/** 2^64 - 1, the largest counter value. */
export const U64_MAX = 0xffffffffffffffffn;

function isBlank(b: number): boolean {
  return b === 32 || b === 9;
}

/**
 * Parses `len` bytes of `buf` at `start` as an unsigned 64-bit decimal.
 * Returns the value, or -1n if the text is not a valid counter.
 */
export function parseU64(buf: Uint8Array, start: number, len: number): bigint {
  const end = start + len;
  let i = start;
  while (i < end && isBlank(buf[i])) i++;
  const ds = i;
  while (i < end && buf[i] >= 48 && buf[i] <= 57) i++;
  const de = i;
  if (de === ds) return -1n;
  while (i < end && isBlank(buf[i])) i++;
  if (i !== end) return -1n;
  let v = 0n;
  let j = ds;
  while (j < de) {
    const k = Math.min(de, j + 15);
    let n = 0;
    let m = 1;
    for (; j < k; j++) {
      n = n * 10 + (buf[j] - 48);
      m *= 10;
    }
    v = v * BigInt(m) + BigInt(n);
  }
  return v > U64_MAX ? -1n : v;
}

/** Applies incr (wrapping at 2^64) or decr (flooring at 0) to `v`. */
export function applyDelta(v: bigint, incr: boolean, delta: bigint): bigint {
  if (incr) return (v + delta) & U64_MAX;
  return v < delta ? 0n : v - delta;
}
