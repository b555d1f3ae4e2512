/**
 * Base64 over bytes with memcached's exact rules (its base64.c): decoding
 * skips every byte outside the alphabet, needs a multiple of four alphabet
 * bytes, and stops at the first padded block; encoding always pads. Meta
 * commands use it for binary keys (`b` flag).
 * @module
 */

import { type OutBuf, reserve } from "./outbuf.ts";

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ENC = new Uint8Array(64);
/** Decode table: 6-bit value, or 0x80 for bytes that are skipped. `=` is 0. */
const DEC = new Uint8Array(256).fill(0x80);
for (let i = 0; i < 64; i++) {
  ENC[i] = ALPHABET.charCodeAt(i);
  DEC[ENC[i]] = i;
}
DEC[61] = 0; // '='

/**
 * Decodes `src[s, e)` into `out` at offset 0 and returns the decoded length,
 * or 0 where memcached's base64_decode fails (no alphabet bytes, a count
 * that is not a multiple of 4, or more than two padding characters).
 */
export function base64Decode(
  src: Uint8Array,
  s: number,
  e: number,
  out: Uint8Array,
): number {
  let count = 0;
  for (let i = s; i < e; i++) if (DEC[src[i]] !== 0x80) count++;
  if (count === 0 || count % 4 !== 0) return 0;
  let pos = 0;
  let n = 0;
  let pad = 0;
  let b0 = 0, b1 = 0, b2 = 0;
  for (let i = s; i < e; i++) {
    const c = src[i];
    const v = DEC[c];
    if (v === 0x80) continue;
    if (c === 61) pad++;
    if (n === 0) b0 = v;
    else if (n === 1) b1 = v;
    else if (n === 2) b2 = v;
    n++;
    if (n === 4) {
      out[pos++] = ((b0 << 2) | (b1 >> 4)) & 0xff;
      out[pos++] = ((b1 << 4) | (b2 >> 2)) & 0xff;
      out[pos++] = ((b2 << 6) | v) & 0xff;
      n = 0;
      if (pad) {
        if (pad === 1) pos--;
        else if (pad === 2) pos -= 2;
        else return 0; // invalid padding
        break;
      }
    }
  }
  return pos;
}

/** Appends the padded base64 encoding of `src[s, e)` to `o`. */
export function putBase64(o: OutBuf, src: Uint8Array, s: number, e: number) {
  const n = e - s;
  reserve(o, Math.ceil(n / 3) * 4);
  const b = o.buf;
  let p = o.len;
  let i = s;
  for (; e - i >= 3; i += 3) {
    b[p++] = ENC[src[i] >> 2];
    b[p++] = ENC[((src[i] & 3) << 4) | (src[i + 1] >> 4)];
    b[p++] = ENC[((src[i + 1] & 15) << 2) | (src[i + 2] >> 6)];
    b[p++] = ENC[src[i + 2] & 63];
  }
  if (e - i === 1) {
    b[p++] = ENC[src[i] >> 2];
    b[p++] = ENC[(src[i] & 3) << 4];
    b[p++] = 61;
    b[p++] = 61;
  } else if (e - i === 2) {
    b[p++] = ENC[src[i] >> 2];
    b[p++] = ENC[((src[i] & 3) << 4) | (src[i + 1] >> 4)];
    b[p++] = ENC[(src[i + 1] & 15) << 2];
    b[p++] = 61;
  }
  o.len = p;
}
