/**
 * Get, GetK, Touch, GAT and GATK (and their quiet forms): memcached's
 * process_bin_get_or_touch. A hit replies with the flags as extras, the key
 * for the K forms, and the value (not for Touch); a miss replies Not found
 * (with the key for the K forms), except that quiet forms stay silent on a
 * miss. Hits are always sent, quiet or not.
 * @module
 */

import { countHit, countMiss } from "../counters.ts";
import { absoluteExpiry } from "../exptime.ts";
import { putRange, putStored } from "../outbuf.ts";
import type { Session } from "../types.ts";
import { Op, St } from "./constants.ts";
import { error, header, putU32 } from "./encode.ts";
import { type BinRequest, u32 } from "./request.ts";

/** Get/GetK/Touch/GAT/GATK. Consumes nothing after the key. */
export function getOrTouch(
  s: Session,
  buf: Uint8Array,
  r: BinRequest,
): number {
  const cmd = r.cmd;
  const touch = cmd === Op.Touch || cmd === Op.Gat || cmd === Op.GatK;
  const withKey = cmd === Op.GetK || cmd === Op.GatK;
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const ks = r.ks;
  const kl = r.keylen;
  if (s.ctx.verbose > 1) {
    console.error(
      `<${s.id} ${touch ? "TOUCH" : "GET"} ${
        new TextDecoder().decode(buf.subarray(ks, ks + kl))
      }`,
    );
  }
  const h = store.find(buf, ks, kl, s.res);
  if (h < 0) {
    countMiss(c, touch, s.res.miss);
    if (r.quiet) return 0;
    if (withKey) {
      header(s, r, St.KeyEnoent, 0, kl, kl, 0);
      putRange(s.out, buf, ks, ks + kl);
    } else error(s, r, St.KeyEnoent);
    return 0;
  }
  if (touch) {
    store.setExp(
      h,
      absoluteExpiry(u32(buf, r.es), ctx.clock.now(), ctx.started),
    );
  }
  countHit(c, touch, store.classOf(h));
  const vlen = cmd === Op.Touch ? 0 : store.valueLen(h);
  const keyOut = withKey ? kl : 0;
  header(s, r, 0, 4, keyOut, 4 + keyOut + vlen, store.casOf(h));
  putU32(s, store.flagsOf(h));
  if (withKey) putRange(s.out, buf, ks, ks + kl);
  if (vlen > 0) {
    const vs = store.valueStart(h);
    putStored(s.out, store.valueBytes(h), vs, vlen, h, store.casOf(h));
  }
  return 0;
}
