/**
 * Meta commands: routes `mg`, `ms`, `md`, `ma` to their modules and runs
 * `mn` (no-op marker) and `me` (debug dump of one item) here, as memcached's
 * process_command_ascii and process_meta_command do.
 * @module
 */

import { Bits } from "../store/types.ts";
import { base64Decode, putBase64 } from "./base64.ts";
import { putBytes, putCrlf, putInt, putRange, putUint } from "./outbuf.ts";
import type { Tokens } from "./tokens.ts";
import { KEY_BINARY, ME } from "./meta_flags.ts";
import { KEY_MAX, type Session } from "./types.ts";
import { logReply } from "./reply.ts";
import { metaGet } from "./meta_get.ts";
import { metaSet } from "./meta_set.ts";
import { metaArith, metaDelete } from "./meta_mod.ts";

const enc = new TextEncoder();
const P = {
  ME: enc.encode("ME "),
  exp: enc.encode(" exp="),
  la: enc.encode(" la="),
  cas: enc.encode(" cas="),
  fetchYes: enc.encode(" fetch=yes cls="),
  fetchNo: enc.encode(" fetch=no cls="),
  size: enc.encode(" size="),
};
const keyScratch = new Uint8Array(256);

/**
 * Runs a meta command (any two-byte command starting with `m`); returns the
 * bytes consumed after the line (ms's data block) or NEED_MORE.
 */
export function metaCommand(
  s: Session,
  buf: Uint8Array,
  t: Tokens,
  ds: number,
  end: number,
): number {
  switch (buf[t.start[0] + 1]) {
    case 103: // g
      return metaGet(s, buf, t);
    case 115: // s
      return metaSet(s, buf, t, ds, end);
    case 100: // d
      return metaDelete(s, buf, t);
    case 110: // n
      if (s.ctx.verbose > 1) logReply(s, ME.MN);
      putBytes(s.out, ME.MN);
      return 0;
    case 97: // a
      return metaArith(s, buf, t);
    case 101: // e
      return metaDebug(s, buf, t);
    default:
      putBytes(s.out, ME.ERROR);
      return 0;
  }
}

/** `me <key> [b]`: `ME <key> exp=… la=… cas=… fetch=… cls=… size=…` or `EN`. */
function metaDebug(s: Session, buf: Uint8Array, t: Tokens): number {
  const o = s.out;
  if (t.n < 2 || t.end[1] - t.start[1] > KEY_MAX) {
    putBytes(o, ME.BAD_FORMAT);
    return 0;
  }
  let key = buf;
  let ks = t.start[1];
  let kl = t.end[1] - ks;
  if (t.n >= 3 && t.end[2] - t.start[2] === 1 && buf[t.start[2]] === 98) {
    kl = base64Decode(buf, ks, ks + kl, keyScratch);
    if (kl === 0) {
      putBytes(o, ME.BAD_FORMAT);
      return 0;
    }
    key = keyScratch;
    ks = 0;
  }
  const ctx = s.ctx;
  const store = ctx.store;
  const h = store.peek(key, ks, kl);
  ctx.counters.cmd_meta++;
  if (h < 0) {
    putBytes(o, ME.EN);
    return 0;
  }
  const now = ctx.clock.now();
  const bits = store.bitsOf(h);
  const kb = store.keyBytes(h);
  const kst = store.keyStart(h);
  putBytes(o, P.ME);
  if ((bits & KEY_BINARY) !== 0) putBase64(o, kb, kst, kst + store.keyLen(h));
  else putRange(o, kb, kst, kst + store.keyLen(h));
  const exp = store.expOf(h);
  putBytes(o, P.exp);
  putInt(o, exp === 0 ? -1 : now - exp);
  putBytes(o, P.la);
  putUint(o, Math.max(0, now - store.lastAccessOf(h)));
  putBytes(o, P.cas);
  putUint(o, store.casOf(h));
  putBytes(o, (bits & Bits.Fetched) !== 0 ? P.fetchYes : P.fetchNo);
  putUint(o, store.classOf(h));
  putBytes(o, P.size);
  putUint(o, store.sizeOf(h));
  putCrlf(o);
  return 0;
}
