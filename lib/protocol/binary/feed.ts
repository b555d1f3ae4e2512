/**
 * The binary protocol's framer and dispatcher (memcached's
 * try_read_command_binary and dispatch_bin_command): decodes each header,
 * waits for its extras and key, checks the lengths each opcode requires and
 * runs the handler. Like the text side it is pure over bytes: it returns how
 * many input bytes it consumed and never touches sockets.
 *
 * Bytes are consumed exactly where memcached consumes them: header, extras
 * and key when a command is dispatched; the value only by the commands that
 * read one (or swallow it after an error). A body longer than an opcode reads
 * is parsed as the next request, as in memcached.
 * @module
 */

import { drainSink } from "../sink.ts";
import { KEY_MAX, NEED_MORE, type Session } from "../types.ts";
import { BIN_REQ, HEADER, LOUD, Op, St } from "./constants.ts";
import { error } from "./encode.ts";
import { casAt, dump, req, u32 } from "./request.ts";
import { arith, del, update } from "./storage.ts";
import { getOrTouch } from "./retrieval.ts";
import { flush, noop, quit, stat, version } from "./admin.ts";
import { saslAuth, saslListMechs } from "./sasl.ts";
import { beginBatch, countBinary, endBatch } from "../../metrics/latency.ts";

/** Processes complete binary requests in `buf[start, end)`; returns bytes consumed. */
export function feedBinary(
  s: Session,
  buf: Uint8Array,
  start: number,
  end: number,
): number {
  let p = start;
  const maxOut = s.outLimit;
  // Latency histograms (--metrics), timed per batch as on the text side.
  const lat = s.ctx.latency;
  const t0 = lat === null ? 0 : beginBatch(lat);
  while (p < end && !s.close) {
    if (s.out.len + s.out.refBytes > maxOut) break;
    if (s.sink !== null) {
      p += drainSink(s, buf, p, end);
      continue;
    }
    if (s.swallow > 0) {
      const n = Math.min(s.swallow, end - p);
      s.swallow -= n;
      p += n;
      continue;
    }
    if (end - p < HEADER) break;
    if (buf[p] !== BIN_REQ) {
      // memcached closes at once on bad magic, without a reply.
      if (s.ctx.verbose > 0) {
        console.error(`Invalid magic:  ${buf[p].toString(16)}`);
      }
      s.close = true;
      break;
    }
    const keylen = (buf[p + 2] << 8) | buf[p + 3];
    const extlen = buf[p + 4];
    // Header, extras and key must all be here (at most 24 + 255 + 65535).
    if (end - p < HEADER + extlen + keylen) break;
    if (s.ctx.verbose > 1) {
      console.error(
        dump(`<${s.id} Read binary protocol data:`, `<${s.id}   `, buf, p),
      );
    }
    s.lineStart = p;
    const r = req;
    r.opcode = buf[p + 1];
    r.cmd = LOUD[r.opcode];
    r.quiet = r.cmd !== r.opcode;
    r.keylen = keylen;
    r.extlen = extlen;
    r.bodylen = u32(buf, p + 8);
    r.opaque = u32(buf, p + 12);
    r.cas = casAt(buf, p + 16);
    r.es = p + HEADER;
    r.ks = r.es + extlen;
    r.vs = r.ks + keylen;
    r.vlen = r.bodylen - extlen - keylen;
    const n = dispatch(s, buf, end);
    if (n === NEED_MORE) break;
    if (lat !== null) countBinary(lat, r.cmd, r.cas);
    p = r.vs + n;
  }
  if (lat !== null) endBatch(lat, t0);
  return p - start;
}

/** Commands a SASL server answers before authentication. */
function preAuth(cmd: number): boolean {
  return cmd === Op.SaslListMechs || cmd === Op.SaslAuth ||
    cmd === Op.SaslStep || cmd === Op.Version;
}

/** Protocol error: EINVAL, then close (memcached's handle_binary_protocol_error). */
function protocolError(s: Session): number {
  error(s, req, St.Einval);
  s.close = true;
  return 0;
}

/**
 * Runs the request in `req`; returns the value bytes consumed after its key,
 * or NEED_MORE when its value has not fully arrived.
 */
function dispatch(s: Session, buf: Uint8Array, end: number): number {
  const r = req;
  const { extlen, keylen, bodylen } = r;
  if (keylen + extlen > bodylen) {
    error(s, r, St.UnknownCommand);
    s.close = true;
    return 0;
  }
  if (!s.authed && !preAuth(r.cmd)) {
    error(s, r, St.AuthError);
    s.close = true;
    return 0;
  }
  if (keylen > KEY_MAX) return protocolError(s);
  const plain = extlen === 0 && keylen === 0 && bodylen === 0;
  switch (r.cmd) {
    case Op.Version:
      return plain ? version(s, r) : protocolError(s);
    case Op.Flush:
      return keylen === 0 && bodylen === extlen &&
          (extlen === 0 || extlen === 4)
        ? flush(s, buf, r)
        : protocolError(s);
    case Op.NoOp:
      return plain ? noop(s, r) : protocolError(s);
    case Op.Set:
    case Op.Add:
    case Op.Replace:
      return extlen === 8 && keylen !== 0 && bodylen >= keylen + 8
        ? update(s, buf, end, r)
        : protocolError(s);
    case Op.Get:
    case Op.GetK:
      return extlen === 0 && bodylen === keylen && keylen > 0
        ? getOrTouch(s, buf, r)
        : protocolError(s);
    case Op.Delete:
      return keylen > 0 && extlen === 0 && bodylen === keylen
        ? del(s, buf, r)
        : protocolError(s);
    case Op.Increment:
    case Op.Decrement:
      return keylen > 0 && extlen === 20 && bodylen === keylen + extlen
        ? arith(s, buf, r)
        : protocolError(s);
    case Op.Append:
    case Op.Prepend:
      return keylen > 0 && extlen === 0
        ? update(s, buf, end, r)
        : protocolError(s);
    case Op.Stat:
      return extlen === 0 ? stat(s, buf, end, r) : protocolError(s);
    case Op.Quit:
      return plain ? quit(s, r) : protocolError(s);
    case Op.SaslListMechs:
      return plain ? saslListMechs(s, r) : protocolError(s);
    case Op.SaslAuth:
    case Op.SaslStep:
      return extlen === 0 && keylen !== 0
        ? saslAuth(s, buf, end, r)
        : protocolError(s);
    case Op.Touch:
    case Op.Gat:
    case Op.GatK:
      return extlen === 4 && keylen !== 0
        ? getOrTouch(s, buf, r)
        : protocolError(s);
    default:
      // memcached swallows bodylen more bytes here, after the extras and
      // key it already consumed; copied so the stream stays where its is.
      error(s, r, St.UnknownCommand, null, bodylen);
      return 0;
  }
}
