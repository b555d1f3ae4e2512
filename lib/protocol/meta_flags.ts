/**
 * Shared parsing for the meta commands: memcached's `_meta_flag_preparse`
 * (one pass over the flag tokens that rejects duplicates and unknown flags
 * and reads the numeric tokens), the reply-line pieces every meta command
 * writes, and their error lines. The parse result lives in one reused
 * object ({@link mf}) because handlers run to completion one at a time.
 * @module
 */

import { absoluteExpiry } from "./exptime.ts";
import { line, type OutBuf, putByte, putRange } from "./outbuf.ts";
import { base64Decode, putBase64 } from "./base64.ts";
import type { Session } from "./types.ts";
import {
  parseCas,
  parseInt32,
  parseUint32,
  parseUint64,
  type Tokens,
} from "./tokens.ts";

/** memcached's MFLAG_MAX_OPT_LENGTH, compared with our token count + 1. */
export const MAX_OPT_TOKENS = 20;
/** memcached's MFLAG_MAX_OPAQUE_LENGTH: the `O` token including its `O`. */
export const MAX_OPAQUE = 32;
/**
 * Item bit (beside the store's Fetched/Stale/WinSent) for memcached's
 * ITEM_KEY_BINARY: the key was given base64-encoded, so `k` re-encodes it.
 */
export const KEY_BINARY = 8;

/** Meta error and status lines, each with its `\r\n`. */
export const ME = {
  ERROR: line("ERROR"),
  BAD_FORMAT: line("CLIENT_ERROR bad command line format"),
  DUPLICATE: line("CLIENT_ERROR duplicate flag"),
  INVALID: line("CLIENT_ERROR invalid flag"),
  INVALID_OR_DUP: line("CLIENT_ERROR invalid or duplicate flag"),
  BAD_TOKEN: line("CLIENT_ERROR bad token in command line format"),
  DECODE_KEY: line("CLIENT_ERROR error decoding key"),
  M_LENGTH: line("CLIENT_ERROR incorrect length for M token"),
  MS_MODE: line("CLIENT_ERROR invalid mode for ms M token"),
  MA_MODE: line("CLIENT_ERROR invalid mode for ma M token"),
  INITIAL: line("CLIENT_ERROR invalid numeric initial value"),
  DELTA: line("CLIENT_ERROR invalid numeric delta value"),
  OPAQUE_LONG: line("CLIENT_ERROR opaque token too long"),
  FLAGS_ARE_LONG: line("CLIENT_ERROR options flags are too long"),
  FLAGS_LONG: line("CLIENT_ERROR options flags too long"),
  BAD_CHUNK: line("CLIENT_ERROR bad data chunk"),
  NON_NUMERIC: line(
    "CLIENT_ERROR cannot increment or decrement non-numeric value",
  ),
  TOO_LARGE: line("SERVER_ERROR object too large for cache"),
  OOM_STORE: line("SERVER_ERROR out of memory storing object"),
  OOM: line("SERVER_ERROR out of memory"),
  OOM_NEW: line("SERVER_ERROR Out of memory allocating new item"),
  MN: line("MN"),
  EN: line("EN"),
};

/** Flag state of the command being parsed (memcached's struct _meta_flags). */
export interface MetaFlags {
  /** The error line to send when {@link preparse} fails. */
  err: Uint8Array;
  /** Some flag needs the item "locked": fetch without bumping, bump later. */
  locked: boolean;
  vivify: boolean;
  value: boolean;
  setStale: boolean;
  noReply: boolean;
  noUpdate: boolean;
  hasCas: boolean;
  newTtl: boolean;
  keyBinary: boolean;
  /** The byte after `M`, or 0. */
  mode: number;
  /** Absolute expiries (0 = never) of T, N and R. */
  exptime: number;
  autovivExp: number;
  recacheTime: number;
  clientFlags: number;
  /** C token; Infinity if it exceeds 2^53 (never matches). */
  reqCas: number;
  delta: bigint;
  initial: bigint;
  /** Where the (possibly decoded) key is. */
  key: Uint8Array;
  keyStart: number;
  keyLen: number;
}

/** The parse result of the current command (reused; see module doc). */
export const mf: MetaFlags = {
  err: ME.BAD_FORMAT,
  locked: false,
  vivify: false,
  value: false,
  setStale: false,
  noReply: false,
  noUpdate: false,
  hasCas: false,
  newTtl: false,
  keyBinary: false,
  mode: 0,
  exptime: 0,
  autovivExp: 0,
  recacheTime: 0,
  clientFlags: 0,
  reqCas: 0,
  delta: 1n,
  initial: 0n,
  key: new Uint8Array(0),
  keyStart: 0,
  keyLen: 0,
};

const seen = new Uint8Array(128);
/** Decoded binary keys (at most 250 * 3 / 4 bytes). */
const keyScratch = new Uint8Array(256);

/**
 * memcached's `_meta_flag_preparse` over tokens `first..t.n-1` of the line in
 * `buf`. Resets and fills {@link mf}; returns false on error with the error
 * line in `mf.err` (the last error seen wins, as in memcached, and an invalid
 * or repeated flag stops the scan). Never writes to `buf`.
 */
export function preparse(
  s: Session,
  buf: Uint8Array,
  t: Tokens,
  first: number,
): boolean {
  const f = mf;
  f.err = ME.BAD_FORMAT;
  f.locked =
    f.vivify =
    f.value =
    f.setStale =
    f.noReply =
      false;
  f.noUpdate =
    f.hasCas =
    f.newTtl =
    f.keyBinary =
      false;
  f.mode =
    f.exptime =
    f.autovivExp =
    f.recacheTime =
      0;
  f.clientFlags = f.reqCas = 0;
  f.delta = 1n;
  f.initial = 0n;
  f.key = buf;
  f.keyStart = t.start[1];
  f.keyLen = t.end[1] - t.start[1];
  seen.fill(0);
  let bad = false;
  const ctx = s.ctx;
  const n = t.n;
  for (let i = first; i < n; i++) {
    const ts = t.start[i];
    const te = t.end[i];
    const o = buf[ts];
    if (o >= 127 || seen[o] !== 0) {
      f.err = ME.DUPLICATE;
      return false;
    }
    seen[o] = 1;
    switch (o) {
      case 98: { // b
        const len = base64Decode(buf, t.start[1], t.end[1], keyScratch);
        if (len === 0) {
          f.err = ME.DECODE_KEY;
          bad = true;
        }
        f.key = keyScratch;
        f.keyStart = 0;
        f.keyLen = len;
        f.keyBinary = true;
        break;
      }
      case 78: // N
      case 84: // T
      case 82: { // R
        f.locked = true;
        if (o === 78) f.vivify = true;
        const v = parseInt32(buf, ts + 1, te);
        if (Number.isNaN(v)) {
          f.err = ME.BAD_TOKEN;
          bad = true;
          break;
        }
        const exp = absoluteExpiry(v, ctx.clock.now(), ctx.started);
        if (o === 78) f.autovivExp = exp;
        else if (o === 82) f.recacheTime = exp;
        else {
          f.exptime = exp;
          f.newTtl = true;
        }
        break;
      }
      case 108: // l
      case 104: // h: both need the access state from before this fetch
        f.locked = true;
        break;
      case 79: // O
      case 80: // P
      case 76: // L
      case 107: // k
      case 115: // s
      case 116: // t
      case 99: // c
      case 102: // f
        break;
      case 118: // v
        f.value = true;
        break;
      case 117: // u
        f.noUpdate = true;
        break;
      case 113: // q
        f.noReply = true;
        break;
      case 70: { // F: an error here keeps the previous error text
        const v = parseUint32(buf, ts + 1, te);
        if (Number.isNaN(v)) bad = true;
        else f.clientFlags = v;
        break;
      }
      case 67: { // C
        const v = parseCas(buf, ts + 1, te);
        if (v < 0) {
          f.err = ME.BAD_TOKEN;
          bad = true;
        } else {
          f.reqCas = v;
          f.hasCas = true;
        }
        break;
      }
      case 77: // M
        if (te - ts !== 2) {
          f.err = ME.M_LENGTH;
          bad = true;
        } else f.mode = buf[ts + 1];
        break;
      case 74: // J
      case 68: { // D
        const v = parseUint64(buf, ts + 1, te);
        if (v < 0n) {
          f.err = o === 74 ? ME.INITIAL : ME.DELTA;
          bad = true;
        } else if (o === 74) f.initial = v;
        else f.delta = v;
        break;
      }
      case 73: // I
        f.setStale = true;
        break;
      default:
        f.err = ME.INVALID;
        return false;
    }
  }
  return !bad;
}

/** Appends ` <c>`. */
export function putFlag(o: OutBuf, c: number): void {
  putByte(o, 32);
  putByte(o, c);
}

/** Appends ` k<key>`, or ` k<base64 key> b` for binary keys (META_KEY). */
export function putKey(
  o: OutBuf,
  key: Uint8Array,
  ks: number,
  kl: number,
  binary: boolean,
): void {
  putFlag(o, 107);
  if (!binary) {
    putRange(o, key, ks, ks + kl);
    return;
  }
  putBase64(o, key, ks, ks + kl);
  putFlag(o, 98);
}

/**
 * Appends ` <O token>` for an opaque token; false (nothing written) when the
 * token is longer than memcached allows.
 */
export function putOpaque(
  o: OutBuf,
  buf: Uint8Array,
  ts: number,
  te: number,
): boolean {
  if (te - ts > MAX_OPAQUE) return false;
  putByte(o, 32);
  putRange(o, buf, ts, te);
  return true;
}

/**
 * Appends the TTL as `t` reports it: -1 for none, else the seconds left as
 * an unsigned 32-bit number (memcached's itoa_u32 of a relative time, so an
 * expiry already in the past wraps around).
 */
export function ttlLeft(exp: number, now: number, started: number): number {
  if (exp === 0) return -1;
  // memcached keeps times relative to process start (2 + 60 s before the
  // real start); the "already expired" marker 1 is such a relative time.
  const rel = exp === 1 ? 1 : exp - (started - 62);
  return (rel - (now - (started - 62))) >>> 0;
}
