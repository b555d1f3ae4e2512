/**
 * Command-line tokenizing and C-compatible number parsing over bytes.
 *
 * memcached splits a command line on spaces only (a tab is part of a token),
 * takes at most 23 tokens per pass, and parses numbers with
 * strtol/strtoul/strtoull plus its own `safe_*` checks. We reproduce those
 * rules exactly, because clients and tests depend on which malformed lines
 * are accepted.
 * @module
 */

/** memcached's MAX_TOKENS minus the terminal token. */
export const MAX_TOKENS = 23;

/** Token offsets of one command line; reused across commands. */
export interface Tokens {
  /** Start offsets into the line's buffer. */
  start: Int32Array;
  /** End offsets (exclusive). */
  end: Int32Array;
  /** How many tokens were found (at most {@link MAX_TOKENS}). */
  n: number;
  /** Offset of the untokenized rest of the line, or -1 if all was read. */
  rest: number;
}

/** Allocates a token table. */
export function createTokens(): Tokens {
  return {
    start: new Int32Array(MAX_TOKENS + 1),
    end: new Int32Array(MAX_TOKENS + 1),
    n: 0,
    rest: -1,
  };
}

/**
 * Splits `buf[s, e)` on spaces into `t`, as memcached's tokenize_command
 * (a NUL byte ends the line, as it does for C strings).
 */
export function tokenize(buf: Uint8Array, s: number, e: number, t: Tokens) {
  let n = 0;
  let ts = s;
  let i = s;
  t.rest = -1;
  for (; i < e; i++) {
    const c = buf[i];
    if (c === 0) {
      e = i; // C string handling: a NUL ends the line
      break;
    }
    if (c === 32) {
      if (ts !== i) {
        t.start[n] = ts;
        t.end[n] = i;
        n++;
        if (n === MAX_TOKENS) {
          i++;
          ts = i;
          break;
        }
      }
      ts = i + 1;
    }
  }
  if (ts < i && i <= e && n < MAX_TOKENS) {
    t.start[n] = ts;
    t.end[n] = i;
    n++;
  }
  if (n === MAX_TOKENS && i < e) t.rest = i;
  t.n = n;
}

/** Whether token `k` of `t` equals the ASCII bytes `word`. */
export function tokenIs(
  buf: Uint8Array,
  t: Tokens,
  k: number,
  word: Uint8Array,
): boolean {
  const s = t.start[k];
  const len = t.end[k] - s;
  if (len !== word.length) return false;
  for (let i = 0; i < len; i++) if (buf[s + i] !== word[i]) return false;
  return true;
}

/** Result registers of the number scanners (avoids allocating per parse). */
export const num = { neg: false, val: 0, big: 0n, isBig: false };

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * strtoul-style scan of `buf[s, e)` into {@link num}: leading white space,
 * an optional sign, at least one digit, then the end or white space.
 * Returns false where memcached's safe_* functions fail before range checks
 * (no digits, trailing junk, magnitude beyond 2^64-1).
 */
export function scanNumber(buf: Uint8Array, s: number, e: number): boolean {
  let i = s;
  while (i < e && isSpace(buf[i])) i++;
  let neg = false;
  if (i < e && (buf[i] === 43 || buf[i] === 45)) {
    neg = buf[i] === 45;
    i++;
  }
  const d0 = i;
  let v = 0;
  while (i < e && buf[i] >= 48 && buf[i] <= 57 && i - d0 < 15) {
    v = v * 10 + (buf[i] - 48);
    i++;
  }
  num.isBig = false;
  if (i < e && buf[i] >= 48 && buf[i] <= 57) {
    let b = BigInt(v);
    while (i < e && buf[i] >= 48 && buf[i] <= 57) {
      b = b * 10n + BigInt(buf[i] - 48);
      i++;
      if (b > U64_MAX) return false; // ERANGE
    }
    num.big = b;
    num.isBig = true;
  }
  if (i === d0) return false;
  if (i < e && !isSpace(buf[i])) return false;
  num.neg = neg;
  num.val = v;
  return true;
}

/** memcached's safe_strtol: int32 (64-bit parse, truncated); NaN on failure. */
export function parseInt32(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return NaN;
  if (!num.isBig) return (num.neg ? -num.val : num.val) | 0;
  if (num.neg ? num.big > I64_MAX + 1n : num.big > I64_MAX) return NaN;
  return Number(BigInt.asIntN(32, num.neg ? -num.big : num.big));
}

/** memcached's safe_strtoul: uint32 (truncated), rejects negatives; NaN on failure. */
export function parseUint32(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return NaN;
  if (!num.isBig) {
    if (num.neg && num.val !== 0) return NaN;
    return num.val >>> 0;
  }
  if (num.neg) return NaN;
  return Number(num.big & 0xffffffffn);
}

/**
 * memcached's safe_strtoull: uint64; a negative number is negated modulo
 * 2^64 and rejected only when that sets the top bit (so "-0" is 0). -1n on
 * failure.
 */
export function parseUint64(buf: Uint8Array, s: number, e: number): bigint {
  if (!scanNumber(buf, s, e)) return -1n;
  const mag = num.isBig ? num.big : BigInt(num.val);
  if (!num.neg) return mag;
  const r = (-mag) & U64_MAX;
  return r > I64_MAX ? -1n : r;
}

/**
 * Like {@link parseUint64} but as a number for cas comparisons: values past
 * 2^53 can never match a cas we issued, so they become `Infinity`.
 * Returns -1 on failure.
 */
export function parseCas(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return -1;
  if (num.neg && (num.isBig || num.val !== 0)) return -1;
  if (!num.isBig) return num.val;
  return num.big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(num.big)
    : Infinity;
}

const enc = new TextEncoder();
/** ASCII bytes of a word, for {@link tokenIs}. */
export function ascii(s: string): Uint8Array {
  return enc.encode(s);
}
