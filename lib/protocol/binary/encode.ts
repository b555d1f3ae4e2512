/**
 * Writes binary responses into the session's output buffer: the 24-byte
 * header (magic, the request's opcode, lengths, status, its opaque, a cas),
 * error replies with memcached's texts, and stats packets.
 * @module
 */

import { putRange, reserve } from "../outbuf.ts";
import type { Session } from "../types.ts";
import { BIN_RES, ERR_TEXT, HEADER } from "./constants.ts";
import { type BinRequest, dump, TWO32 } from "./request.ts";

const enc = new TextEncoder();

/** Appends a response header for `r`; the body (bodylen bytes) follows. */
export function header(
  s: Session,
  r: BinRequest,
  status: number,
  extlen: number,
  keylen: number,
  bodylen: number,
  cas: number,
): void {
  putHeader(s, r.opcode, status, extlen, keylen, bodylen, r.opaque, cas);
  if (s.ctx.verbose > 1) {
    const title = `>${s.id} Writing bin response:`;
    console.error(dump(title, `>${s.id}  `, s.out.buf, s.out.len - HEADER));
  }
}

/** Appends a response header with explicit opcode and opaque. */
export function putHeader(
  s: Session,
  opcode: number,
  status: number,
  extlen: number,
  keylen: number,
  bodylen: number,
  opaque: number,
  cas: number,
): void {
  const o = s.out;
  if (o.len + HEADER > o.buf.length) reserve(o, HEADER);
  const b = o.buf;
  const p = o.len;
  b[p] = BIN_RES;
  b[p + 1] = opcode;
  b[p + 2] = keylen >>> 8;
  b[p + 3] = keylen & 255;
  b[p + 4] = extlen;
  b[p + 5] = 0; // datatype: raw bytes
  b[p + 6] = status >>> 8;
  b[p + 7] = status & 255;
  put32(b, p + 8, bodylen);
  put32(b, p + 12, opaque);
  const hi = Math.floor(cas / TWO32);
  put32(b, p + 16, hi);
  put32(b, p + 20, cas - hi * TWO32);
  o.len = p + HEADER;
}

/** Appends a big-endian 32-bit word. */
export function putU32(s: Session, v: number): void {
  const o = s.out;
  if (o.len + 4 > o.buf.length) reserve(o, 4);
  put32(o.buf, o.len, v);
  o.len += 4;
}

/** Appends a big-endian 64-bit unsigned value. */
export function putU64(s: Session, v: bigint): void {
  putU32(s, Number(v >> 32n));
  putU32(s, Number(v & 0xffffffffn));
}

function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 255;
  b[p + 2] = (v >>> 8) & 255;
  b[p + 3] = v & 255;
}

/**
 * memcached's write_bin_error: a status with its text (or `text`), sent even
 * for quiet commands. `swallow` value bytes that follow are then discarded.
 */
export function error(
  s: Session,
  r: BinRequest,
  status: number,
  text: Uint8Array | null = null,
  swallow = 0,
): void {
  const body = text ?? ERR_TEXT[status];
  header(s, r, status, 0, 0, body.length, 0);
  putRange(s.out, body, 0, body.length);
  if (swallow > 0) s.swallow = swallow;
}

/**
 * memcached's write_bin_response for bodies of raw bytes: dropped for quiet
 * commands.
 */
export function success(
  s: Session,
  r: BinRequest,
  cas: number,
  body: Uint8Array | null = null,
): void {
  if (r.quiet) return;
  const n = body === null ? 0 : body.length;
  header(s, r, 0, 0, 0, n, cas);
  if (body !== null) putRange(s.out, body, 0, n);
}

/** One `stats` packet: key is the stat name, value its text. */
export function statPacket(
  s: Session,
  r: BinRequest,
  name: string,
  value: string,
): void {
  const k = enc.encode(name);
  const v = enc.encode(value);
  putHeader(s, 0x10, 0, 0, k.length, k.length + v.length, r.opaque, 0);
  putRange(s.out, k, 0, k.length);
  putRange(s.out, v, 0, v.length);
}

/** The empty packet that ends a `stats` reply. */
export function statEnd(s: Session, r: BinRequest): void {
  putHeader(s, 0x10, 0, 0, 0, 0, r.opaque, 0);
}
