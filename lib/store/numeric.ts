/**
 * Unsigned 64-bit decimal arithmetic for `incr`/`decr`.
 *
 * Stored values are parsed exactly as memcached's `safe_strtoull` reads them:
 * leading white space, an optional sign, digits, then the end or white space
 * (so `"12 34"` reads as 12 and `"+5"` as 5); a negative number is negated
 * modulo 2^64 and rejected only if the result has its top bit set.
 * @module
 */

/** 2^64 - 1, the largest counter value. */
export const U64_MAX = 0xffffffffffffffffn;
const TOP_BIT = 1n << 63n;

function isSpace(b: number): boolean {
  return b === 32 || (b >= 9 && b <= 13);
}

/**
 * Parses `len` bytes of `buf` at `start` as an unsigned 64-bit decimal.
 * Returns the value, or -1n if memcached would call it non-numeric.
 */
export function parseU64(buf: Uint8Array, start: number, len: number): bigint {
  const end = start + len;
  let i = start;
  while (i < end && isSpace(buf[i])) i++;
  let neg = false;
  if (i < end && (buf[i] === 43 || buf[i] === 45)) {
    neg = buf[i] === 45;
    i++;
  }
  const ds = i;
  while (i < end && buf[i] >= 48 && buf[i] <= 57) i++;
  const de = i;
  if (de === ds) return -1n;
  if (i < end && !isSpace(buf[i])) return -1n;
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
    if (v > U64_MAX) return -1n; // ERANGE
  }
  if (!neg) return v;
  const r = (-v) & U64_MAX;
  return r >= TOP_BIT ? -1n : r;
}

/** Applies incr (wrapping at 2^64) or decr (flooring at 0) to `v`. */
export function applyDelta(v: bigint, incr: boolean, delta: bigint): bigint {
  if (incr) return (v + delta) & U64_MAX;
  return v < delta ? 0n : v - delta;
}
