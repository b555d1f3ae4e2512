/**
 * `md` (delete or invalidate) and `ma` (arithmetic) — memcached's
 * process_mdelete_command and process_marithmetic_command. Any flag error is
 * reported as `CLIENT_ERROR invalid or duplicate flag`; `q` hides only the
 * nominal reply (`HD`, or `VA` for ma).
 * @module
 */

import { Bits, Mode, Status } from "../store/types.ts";
import {
  putByte,
  putBytes,
  putCrlf,
  putInt,
  putRange,
  putUint,
} from "./outbuf.ts";
import { KEY_MAX, type Session } from "./types.ts";
import type { Tokens } from "./tokens.ts";
import {
  MAX_OPT_TOKENS,
  ME,
  mf,
  preparse,
  putFlag,
  putKey,
  putOpaque,
  ttlLeft,
} from "./meta_flags.ts";

const VA = new TextEncoder().encode("VA ");
const digits = new Uint8Array(24);

/** Common line checks of md/ma; false after writing the error. */
function parseLine(s: Session, buf: Uint8Array, t: Tokens): boolean {
  const o = s.out;
  if (t.n < 2) {
    putBytes(o, ME.ERROR);
    return false;
  }
  if (t.end[1] - t.start[1] > KEY_MAX) {
    putBytes(o, ME.BAD_FORMAT);
    return false;
  }
  if (t.n + 1 > MAX_OPT_TOKENS) {
    putBytes(o, ME.FLAGS_LONG);
    return false;
  }
  if (!preparse(s, buf, t, 2)) {
    putBytes(o, ME.INVALID_OR_DUP);
    return false;
  }
  return true;
}

/** Appends the `O` and `k` return flags; false if an opaque is too long. */
function putOpaqueAndKey(s: Session, buf: Uint8Array, t: Tokens): boolean {
  const o = s.out;
  for (let i = 2; i < t.n; i++) {
    const ts = t.start[i];
    const f = buf[ts];
    if (f === 79) {
      if (!putOpaque(o, buf, ts, t.end[i])) return false;
    } else if (f === 107) {
      putKey(o, mf.key, mf.keyStart, mf.keyLen, mf.keyBinary);
    }
  }
  return true;
}

/** Runs `md`; returns 0. */
export function metaDelete(s: Session, buf: Uint8Array, t: Tokens): number {
  if (!parseLine(s, buf, t)) return 0;
  const o = s.out;
  const mark = o.len;
  putByte(o, 0); // room for the status code, written below
  putByte(o, 0);
  if (!putOpaqueAndKey(s, buf, t)) {
    o.len = mark;
    putBytes(o, ME.OPAQUE_LONG);
    return 0;
  }
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const h = store.peek(mf.key, mf.keyStart, mf.keyLen);
  let code = 0x4e46; // NF
  if (h < 0) {
    c.delete_misses++;
  } else if (mf.hasCas && store.casOf(h) !== mf.reqCas) {
    c.delete_misses++;
    code = 0x4558; // EX
  } else if (mf.setStale) {
    // Invalidate: keep the item but serve it as stale, and let the next
    // fetch win the right to recache it.
    if (mf.newTtl) store.setExp(h, mf.exptime);
    store.setBits(h, (store.bitsOf(h) | Bits.Stale) & ~Bits.WinSent);
    store.bumpCas(h);
    code = 0x4844; // HD
  } else {
    c.delete_hits++;
    store.removeHandle(h);
    code = 0x4844;
  }
  o.buf[mark] = code >> 8;
  o.buf[mark + 1] = code & 0xff;
  putCrlf(o);
  if (code === 0x4844 && mf.noReply) o.len = mark;
  return 0;
}

/** Runs `ma`; returns 0. */
export function metaArith(s: Session, buf: Uint8Array, t: Tokens): number {
  if (!parseLine(s, buf, t)) return 0;
  const o = s.out;
  let incr = true;
  switch (mf.mode) {
    case 0:
    case 73: // I
    case 43: // +
      break;
    case 68: // D
    case 45: // -
      incr = false;
      break;
    default:
      putBytes(o, ME.MA_MODE);
      return 0;
  }
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const key = mf.key;
  const ks = mf.keyStart;
  const kl = mf.keyLen;
  let h = store.peek(key, ks, kl);
  let created = false;
  let hide = false;
  let code = 0;
  let num = 0n;
  // When the result outgrows the old value memcached writes a new item and
  // applies T/N to the old, unlinked one: the TTL change is lost.
  let detached = false;
  if (h >= 0) {
    const oldLen = store.valueLen(h);
    if (oldLen === 0) return error(s, o.len, ME.NON_NUMERIC);
    if (mf.reqCas !== 0 && store.casOf(h) !== mf.reqCas) {
      code = 0x4558; // EX
      h = -1;
    } else {
      const st = store.incrDecr(key, ks, kl, incr, mf.delta, s.res);
      if (st === Status.NonNumeric) return error(s, o.len, ME.NON_NUMERIC);
      if (st !== Status.Stored) return error(s, o.len, ME.OOM);
      if (incr) c.incr_hits++;
      else c.decr_hits++;
      num = s.res.number;
      h = s.res.handle;
      detached = num.toString().length > oldLen;
      // memcached's grown result is a brand-new item: no fetched, stale,
      // win or binary-key marks survive.
      if (detached) store.setBits(h, 0);
      hide = mf.noReply;
    }
  } else if (mf.vivify) {
    num = mf.initial;
    const text = num.toString();
    for (let i = 0; i < text.length; i++) digits[i] = text.charCodeAt(i);
    const st = store.store(
      Mode.Add,
      key,
      ks,
      kl,
      0,
      0,
      digits,
      0,
      text.length,
      0,
      s.res,
    );
    if (st !== Status.Stored) return error(s, o.len, ME.OOM_NEW);
    h = s.res.handle;
    created = true;
  } else {
    if (incr) c.incr_misses++;
    else c.decr_misses++;
    code = 0x4e46; // NF
  }
  const mark = o.len;
  if (h < 0) {
    putByte(o, code >> 8);
    putByte(o, code & 0xff);
    if (!putOpaqueAndKey(s, buf, t)) return error(s, mark, ME.OPAQUE_LONG);
    putCrlf(o);
    return 0;
  }
  const text = num.toString();
  if (mf.value) {
    putRange(o, VA, 0, 3);
    putUint(o, text.length);
  } else {
    putByte(o, 72);
    putByte(o, 68);
  }
  const now = ctx.clock.now();
  let exp = store.expOf(h);
  for (let i = 2; i < t.n; i++) {
    const ts = t.start[i];
    switch (buf[ts]) {
      case 99: // c
        putFlag(o, 99);
        putUint(o, store.casOf(h));
        break;
      case 116: // t
        putFlag(o, 116);
        putInt(o, ttlLeft(exp, now, ctx.started));
        break;
      case 84: // T
        exp = mf.exptime;
        if (!detached) store.setExp(h, exp);
        break;
      case 78: // N
        if (created) {
          exp = mf.autovivExp;
          store.setExp(h, exp);
        }
        break;
      case 79: // O
        if (!putOpaque(o, buf, ts, t.end[i])) {
          return error(s, mark, ME.OPAQUE_LONG);
        }
        break;
      case 107: // k
        putKey(o, key, ks, kl, mf.keyBinary);
        break;
    }
  }
  if (mf.value) {
    putCrlf(o);
    for (let i = 0; i < text.length; i++) putByte(o, text.charCodeAt(i));
  }
  putCrlf(o);
  if (hide) o.len = mark;
  return 0;
}

/** Drops output from `mark` on and sends `err`; returns 0. */
function error(s: Session, mark: number, err: Uint8Array): number {
  s.out.len = mark;
  putBytes(s.out, err);
  return 0;
}
