/**
 * `mg <key> <flags>*` — memcached's process_mget_command: a hit replies
 * `VA <len> <flags>` plus the value (with `v`) or `HD <flags>`; a miss
 * replies `EN` (hidden by `q`). Return flags come in request order; `T`
 * applies where it stands in that order; `N`/`R`/stale items hand out a
 * single recache "win" (`W`) and later fetches see `Z`.
 * @module
 */

import { Bits, Miss, Mode, Status } from "../store/types.ts";
import {
  putByte,
  putBytes,
  putCrlf,
  putInt,
  putRange,
  putStored,
  putUint,
} from "./outbuf.ts";
import { KEY_MAX, type Session } from "./types.ts";
import type { Tokens } from "./tokens.ts";
import {
  KEY_BINARY,
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
const EMPTY = new Uint8Array(0);

/** Runs `mg`; always returns 0 (it has no data block). */
export function metaGet(s: Session, buf: Uint8Array, t: Tokens): number {
  const o = s.out;
  if (t.n < 2) {
    putBytes(o, ME.ERROR);
    return 0;
  }
  if (t.end[1] - t.start[1] > KEY_MAX) {
    putBytes(o, ME.BAD_FORMAT);
    return 0;
  }
  if (t.n + 1 > MAX_OPT_TOKENS) {
    putBytes(o, ME.FLAGS_ARE_LONG);
    return 0;
  }
  if (!preparse(s, buf, t, 2)) {
    putBytes(o, mf.err);
    return 0;
  }
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const key = mf.key;
  const ks = mf.keyStart;
  const kl = mf.keyLen;
  const locked = mf.locked;
  const res = s.res;
  let h = locked || mf.noUpdate
    ? store.peek(key, ks, kl, res)
    : store.find(key, ks, kl, res);
  if (h < 0) {
    const why = res.miss; // counted at lookup, as memcached's item_get
    if (why === Miss.Expired) c.get_expired++;
    else if (why === Miss.Flushed) c.get_flushed++;
  }
  let created = false;
  if (h < 0 && mf.vivify) {
    // An empty placeholder item, immortal until the N flag sets its TTL.
    if (
      store.store(Mode.Add, key, ks, kl, 0, 0, EMPTY, 0, 0, 0, res) ===
        Status.Stored
    ) {
      h = res.handle;
      created = true;
    }
  }
  const mark = o.len;
  const n = t.n;
  if (h < 0) {
    c.get_misses++;
    c.cmd_get++;
    putBytes(o, ME.EN);
    o.len -= 2;
    for (let i = 2; i < n; i++) {
      const ts = t.start[i];
      const f = buf[ts];
      if (f === 79) {
        if (!putOpaque(o, buf, ts, t.end[i])) return opaqueError(s, mark);
      } else if (f === 107) putKey(o, key, ks, kl, mf.keyBinary);
    }
    putCrlf(o);
    if (mf.noReply) o.len = mark;
    return 0;
  }
  const now = ctx.clock.now();
  const vlen = store.valueLen(h);
  if (mf.value) {
    putRange(o, VA, 0, 3);
    putUint(o, vlen);
  } else {
    putByte(o, 72);
    putByte(o, 68);
  }
  let bits = store.bitsOf(h);
  let exp = store.expOf(h);
  let won = false;
  let ttlSet = false;
  for (let i = 2; i < n; i++) {
    const ts = t.start[i];
    switch (buf[ts]) {
      case 84: // T
        ttlSet = true;
        exp = mf.exptime;
        store.setExp(h, exp);
        break;
      case 78: // N
        if (created) {
          exp = mf.autovivExp;
          store.setExp(h, exp);
          won = true;
        }
        break;
      case 82: // R
        if (
          (bits & Bits.WinSent) === 0 && !created && exp !== 0 &&
          exp < mf.recacheTime
        ) won = true;
        break;
      case 115: // s
        putFlag(o, 115);
        putUint(o, vlen);
        break;
      case 116: // t
        putFlag(o, 116);
        putInt(o, ttlLeft(exp, now, ctx.started));
        break;
      case 99: // c
        putFlag(o, 99);
        putUint(o, store.casOf(h));
        break;
      case 102: // f
        putFlag(o, 102);
        putUint(o, store.flagsOf(h));
        break;
      case 108: // l
        putFlag(o, 108);
        putUint(o, Math.max(0, now - store.lastAccessOf(h)));
        break;
      case 104: // h
        putFlag(o, 104);
        putByte(o, (bits & Bits.Fetched) !== 0 ? 49 : 48);
        break;
      case 79: // O
        if (!putOpaque(o, buf, ts, t.end[i])) return opaqueError(s, mark);
        break;
      case 107: // k
        putKey(
          o,
          store.keyBytes(h),
          store.keyStart(h),
          store.keyLen(h),
          (bits & KEY_BINARY) !== 0,
        );
        break;
    }
  }
  // Z before X, and never W with Z: a win goes to one client only.
  if ((bits & Bits.WinSent) !== 0) putFlag(o, 90);
  if ((bits & Bits.Stale) !== 0) {
    putFlag(o, 88);
    if ((bits & Bits.WinSent) === 0) won = true;
  }
  if (won) {
    putFlag(o, 87);
    bits |= Bits.WinSent;
    store.setBits(h, bits);
  }
  putCrlf(o);
  if (mf.value) {
    const vs = store.valueStart(h);
    putStored(o, store.valueBytes(h), vs, vlen, h, store.casOf(h));
    putCrlf(o);
  }
  // The delayed LRU bump of "locked" fetches, after h/l read the old state.
  if (locked && !mf.noUpdate) store.find(key, ks, kl);
  if (ttlSet) {
    c.cmd_touch++;
    c.touch_hits++;
  } else {
    c.get_hits++;
    c.cmd_get++;
  }
  return 0;
}

/** Drops the partial reply and sends the opaque-length error instead. */
function opaqueError(s: Session, mark: number): number {
  s.out.len = mark;
  putBytes(s.out, ME.OPAQUE_LONG);
  return 0;
}
