/**
 * The classic text commands: retrieval (get/gets/gat/gats), storage
 * (set/add/replace/append/prepend/cas), delete, incr/decr and touch.
 * Each handler reads the tokens already in the session and returns the bytes
 * it consumed after the command line (its data block), or NEED_MORE.
 * @module
 */

import { Mode, Status } from "../store/types.ts";
import { countHit, countMiss, countStore } from "./counters.ts";
import { absoluteExpiry } from "./exptime.ts";
import {
  pendingBytes,
  putByte,
  putCrlf,
  putRange,
  putStored,
  putText,
  putUint,
  rollback,
} from "./outbuf.ts";
import { R, reply } from "./reply.ts";
import { KEY_MAX, NEED_MORE, PAUSE, type Session, type Sink } from "./types.ts";
import { commitSink, SINK_MIN, startSink } from "./sink.ts";
import {
  parseCas,
  parseInt32,
  parseUint32,
  parseUint64,
  tokenize,
  type Tokens,
} from "./tokens.ts";

const NOREPLY = [110, 111, 114, 101, 112, 108, 121];

/** memcached's set_noreply_maybe: is the last token `noreply`? */
export function noreplyLast(buf: Uint8Array, t: Tokens): boolean {
  const k = t.n - 1;
  const st = t.start[k];
  if (t.end[k] - st !== 7) return false;
  for (let i = 0; i < 7; i++) if (buf[st + i] !== NOREPLY[i]) return false;
  return true;
}

/** get/gets/gat/gats over every key on the line (any number of keys). */
export function get(
  s: Session,
  buf: Uint8Array,
  le: number,
  withCas: boolean,
  touch: boolean,
): number {
  const t = s.t;
  const ctx = s.ctx;
  let k = 1;
  let exp = 0;
  if (touch) {
    const e = parseInt32(buf, t.start[1], t.end[1]);
    if (Number.isNaN(e)) {
      reply(s, R.BAD_EXPTIME);
      return 0;
    }
    exp = absoluteExpiry(e, ctx.clock.now(), ctx.started);
    k = 2;
  }
  return getKeys(s, buf, le, k, exp, withCas, touch);
}

/** Continues a paused get: `buf[ls, le)` holds only its remaining keys. */
export function getMore(
  s: Session,
  buf: Uint8Array,
  ls: number,
  le: number,
): number {
  const m = s.getMore;
  s.getMore = 0;
  tokenize(buf, ls, le, s.t);
  return getKeys(s, buf, le, 0, s.getExp, (m & 2) !== 0, (m & 4) !== 0);
}

/** Answers the keys from token `k` on; PAUSEs when the output passes its bound. */
function getKeys(
  s: Session,
  buf: Uint8Array,
  le: number,
  k: number,
  exp: number,
  withCas: boolean,
  touch: boolean,
): number {
  const t = s.t;
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const o = s.out;
  const mark = o.len;
  const maxOut = s.outLimit;
  for (;;) {
    for (; k < t.n; k++) {
      const ks = t.start[k];
      const kl = t.end[k] - ks;
      if (kl > KEY_MAX) {
        rollback(o, mark); // the whole command fails, earlier VALUEs included
        reply(s, R.BAD_FORMAT);
        return 0;
      }
      const h = store.find(buf, ks, kl, s.res);
      if (h < 0) {
        countMiss(c, touch, s.res.miss);
        continue;
      }
      if (touch) store.setExp(h, exp);
      countHit(c, touch, store.classOf(h));
      if (ctx.verbose > 1) {
        const key = new TextDecoder().decode(buf.subarray(ks, ks + kl));
        console.error(`>${s.id} sending key ${key}`);
      }
      const vlen = store.valueLen(h);
      putRange(o, R.VALUE, 0, 6);
      putRange(o, buf, ks, ks + kl);
      putByte(o, 32);
      putUint(o, store.flagsOf(h));
      putByte(o, 32);
      putUint(o, vlen);
      if (withCas) {
        putByte(o, 32);
        putUint(o, store.casOf(h));
      }
      putCrlf(o);
      const vs = store.valueStart(h);
      putStored(o, store.valueBytes(h), vs, vlen, h, store.casOf(h));
      putCrlf(o);
      if (pendingBytes(o) > maxOut && (k + 1 < t.n || t.rest >= 0)) {
        return pause(s, buf, t.end[k], le, mark, withCas, touch, exp);
      }
    }
    if (t.rest < 0) break;
    tokenize(buf, t.rest, le, t);
    k = 0;
  }
  if (ctx.verbose > 1) console.error(`>${s.id} END`);
  putRange(o, R.END, 0, 5);
  return 0;
}

/**
 * Stops a get whose replies passed the output bound with keys left: the line
 * is consumed up to `at` so the connection sends what we have before the rest
 * is looked up. A too-long key later on the line still fails the whole
 * command (earlier VALUEs dropped), as in memcached, so look for one first.
 */
function pause(
  s: Session,
  buf: Uint8Array,
  at: number,
  le: number,
  mark: number,
  withCas: boolean,
  touch: boolean,
  exp: number,
): number {
  let run = 0;
  for (let i = at; i < le && buf[i] !== 0; i++) {
    run = buf[i] === 32 ? 0 : run + 1;
    if (run > KEY_MAX) {
      rollback(s.out, mark);
      reply(s, R.BAD_FORMAT);
      return 0;
    }
  }
  s.getMore = 1 | (withCas ? 2 : 0) | (touch ? 4 : 0);
  s.getExp = exp;
  s.resumeAt = at;
  return PAUSE;
}

/**
 * Storage commands. `mode` is a store Mode (Set, Add, Replace, Append,
 * Prepend, Cas). A line that does not parse gets an error and its data block
 * is then read as commands (as memcached does); an item that is too large
 * gets an error and its data block is swallowed.
 */
export function update(
  s: Session,
  buf: Uint8Array,
  mode: Mode,
  ds: number,
  end: number,
): number {
  const t = s.t;
  const isCas = mode === Mode.Cas;
  const n = t.n;
  if (isCas ? n !== 6 && n !== 7 : n !== 5 && n !== 6) {
    reply(s, R.ERROR);
    return 0;
  }
  s.noreply = noreplyLast(buf, t);
  const ks = t.start[1];
  const kl = t.end[1] - ks;
  if (kl > KEY_MAX) {
    reply(s, R.BAD_FORMAT);
    return 0;
  }
  const flags = parseUint32(buf, t.start[2], t.end[2]);
  const exptime = parseInt32(buf, t.start[3], t.end[3]);
  const vlen = parseInt32(buf, t.start[4], t.end[4]);
  if (Number.isNaN(flags) || Number.isNaN(exptime) || Number.isNaN(vlen)) {
    reply(s, R.BAD_FORMAT);
    return 0;
  }
  let cas = 0;
  if (isCas) {
    cas = parseCas(buf, t.start[5], t.end[5]);
    if (cas < 0) {
      reply(s, R.BAD_FORMAT);
      return 0;
    }
  }
  if (vlen < 0 || vlen > 0x7ffffffd) {
    reply(s, R.BAD_FORMAT);
    return 0;
  }
  const ctx = s.ctx;
  const store = ctx.store;
  if (!store.fits(kl, vlen, flags)) {
    ctx.counters.store_too_large++;
    if (mode === Mode.Set) store.remove(buf, ks, kl);
    reply(s, R.TOO_LARGE);
    s.swallow = vlen + 2;
    return 0;
  }
  if (end - ds < vlen + 2) {
    const exp = absoluteExpiry(exptime, ctx.clock.now(), ctx.started);
    if (vlen >= SINK_MIN && mode !== Mode.Append && mode !== Mode.Prepend) {
      // Large and still arriving: into its reserved item as it comes.
      if (
        startSink(s, buf, ks, kl, flags, exp, vlen, 2, mode, cas, sinkDone)
      ) return 0;
    } else if (s.input(ds + vlen + 2 - s.lineStart)) return NEED_MORE;
    // No memory to buffer the block: memcached's failed item_alloc.
    ctx.counters.store_no_memory++;
    if (mode === Mode.Set) store.remove(buf, ks, kl);
    reply(s, R.OOM_STORE);
    s.swallow = vlen + 2;
    return 0;
  }
  const c = ctx.counters;
  // Counted once the data block is read, as memcached does: a bad chunk
  // counts, an item too large does not.
  c.cmd_set++;
  if (buf[ds + vlen] !== 13 || buf[ds + vlen + 1] !== 10) {
    reply(s, R.BAD_CHUNK);
    return vlen + 2;
  }
  const exp = absoluteExpiry(exptime, ctx.clock.now(), ctx.started);
  const res = s.res;
  const st = store.store(
    mode,
    buf,
    ks,
    kl,
    flags,
    exp,
    buf,
    ds,
    vlen,
    cas,
    res,
  );
  countStore(c, store, st, isCas, res.handle, buf, ks, kl);
  storeReply(s, st);
  return vlen + 2;
}

/** The reply to a storage command's store status. */
function storeReply(s: Session, st: Status): void {
  switch (st) {
    case Status.Stored:
      reply(s, R.STORED);
      break;
    case Status.NotStored:
    case Status.TooLarge:
      reply(s, R.NOT_STORED);
      break;
    case Status.Exists:
      reply(s, R.EXISTS);
      break;
    case Status.NotFound:
      reply(s, R.NOT_FOUND);
      break;
    default:
      s.ctx.counters.store_no_memory++;
      reply(s, R.OOM_STORE);
  }
}

/** A storage command's block went into its reservation: as {@link update} ends. */
function sinkDone(s: Session, k: Sink): void {
  s.ctx.counters.cmd_set++;
  if (k.bad) {
    s.ctx.store.dropReserved(k.handle);
    reply(s, R.BAD_CHUNK);
    return;
  }
  storeReply(s, commitSink(s, k));
}

/**
 * Checks the shape shared by `incr`, `decr` and `touch`:
 * `<cmd> <key> <arg> [noreply]`. Returns false once it has replied.
 */
function keyArgLine(s: Session, buf: Uint8Array): boolean {
  const t = s.t;
  if (t.n !== 3 && t.n !== 4) {
    reply(s, R.ERROR);
    return false;
  }
  s.noreply = noreplyLast(buf, t);
  if (t.end[1] - t.start[1] > KEY_MAX) {
    reply(s, R.BAD_FORMAT);
    return false;
  }
  return true;
}

/** incr/decr. */
export function arith(s: Session, buf: Uint8Array, incr: boolean): number {
  if (!keyArgLine(s, buf)) return 0;
  const t = s.t;
  const ks = t.start[1];
  const kl = t.end[1] - ks;
  const delta = parseUint64(buf, t.start[2], t.end[2]);
  if (delta < 0n) {
    reply(s, R.BAD_DELTA);
    return 0;
  }
  const store = s.ctx.store;
  const c = s.ctx.counters;
  const res = s.res;
  switch (store.incrDecr(buf, ks, kl, incr, delta, res)) {
    case Status.Stored:
      if (incr) {
        c.incr_hits++;
        c.slab.incr_hits[store.classOf(res.handle)]++;
      } else {
        c.decr_hits++;
        c.slab.decr_hits[store.classOf(res.handle)]++;
      }
      if (s.noreply) {
        s.noreply = false;
        if (s.ctx.verbose > 1) {
          console.error(`>${s.id} NOREPLY ${res.number}`);
        }
      } else {
        if (s.ctx.verbose > 1) console.error(`>${s.id} ${res.number}`);
        putText(s.out, res.number.toString());
        putCrlf(s.out);
      }
      break;
    case Status.NotFound:
      if (incr) c.incr_misses++;
      else c.decr_misses++;
      reply(s, R.NOT_FOUND);
      break;
    case Status.NonNumeric:
      reply(s, R.NON_NUMERIC);
      break;
    default:
      reply(s, R.OOM);
  }
  return 0;
}

const ZERO = 48;

/** delete <key> [0] [noreply]. */
export function del(s: Session, buf: Uint8Array): number {
  const t = s.t;
  const n = t.n;
  if (n < 2 || n > 4) {
    reply(s, R.ERROR);
    return 0;
  }
  if (n > 2) {
    const holdZero = t.end[2] - t.start[2] === 1 && buf[t.start[2]] === ZERO;
    s.noreply = noreplyLast(buf, t);
    const valid = (n === 3 && (holdZero || s.noreply)) ||
      (n === 4 && holdZero && s.noreply);
    if (!valid) {
      reply(s, R.DELETE_USAGE);
      return 0;
    }
  }
  const ks = t.start[1];
  const kl = t.end[1] - ks;
  if (kl > KEY_MAX) {
    reply(s, R.BAD_FORMAT);
    return 0;
  }
  const c = s.ctx.counters;
  const store = s.ctx.store;
  const h = store.peek(buf, ks, kl);
  if (h >= 0) {
    c.delete_hits++;
    c.slab.delete_hits[store.classOf(h)]++;
    store.removeHandle(h);
    reply(s, R.DELETED);
  } else {
    c.delete_misses++;
    reply(s, R.NOT_FOUND);
  }
  return 0;
}

/** touch <key> <exptime> [noreply]. */
export function touch(s: Session, buf: Uint8Array): number {
  if (!keyArgLine(s, buf)) return 0;
  const t = s.t;
  const ks = t.start[1];
  const kl = t.end[1] - ks;
  const e = parseInt32(buf, t.start[2], t.end[2]);
  if (Number.isNaN(e)) {
    reply(s, R.BAD_EXPTIME);
    return 0;
  }
  const ctx = s.ctx;
  const c = ctx.counters;
  c.cmd_touch++;
  const h = ctx.store.find(buf, ks, kl);
  if (h < 0) {
    c.touch_misses++;
    reply(s, R.NOT_FOUND);
    return 0;
  }
  ctx.store.setExp(h, absoluteExpiry(e, ctx.clock.now(), ctx.started));
  c.touch_hits++;
  c.slab.touch_hits[ctx.store.classOf(h)]++;
  reply(s, R.TOUCHED);
  return 0;
}
