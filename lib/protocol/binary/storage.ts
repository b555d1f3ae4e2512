/**
 * Set, Add, Replace, Append, Prepend, Delete, Increment and Decrement (and
 * their quiet forms): memcached's process_bin_update, process_bin_delete
 * and complete_incr_bin over the shared store and counters.
 *
 * A request cas turns Set/Add/Replace into a compare-and-swap and guards
 * Append/Prepend, Delete and Increment/Decrement, as in memcached.
 * @module
 */

import { Mode, Status } from "../../store/types.ts";
import { countStore } from "../counters.ts";
import { absoluteExpiry } from "../exptime.ts";
import { NEED_MORE, type Session, type Sink } from "../types.ts";
import { commitSink, SINK_MIN, startSink } from "../sink.ts";
import { OOM, Op, St } from "./constants.ts";
import { error, header, putU64, success } from "./encode.ts";
import { type BinRequest, u32, u64 } from "./request.ts";

const enc = new TextEncoder();
/** Expiration that tells Increment/Decrement not to create a missing key. */
const NO_CREATE = 0xffffffff;

/**
 * Set/Add/Replace/Append/Prepend. Returns the value bytes consumed, or
 * NEED_MORE until the whole value is here. A value over `-I` is answered at
 * once and swallowed (a Set also drops the old item, as memcached does).
 */
export function update(
  s: Session,
  buf: Uint8Array,
  end: number,
  r: BinRequest,
): number {
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const cmd = r.cmd;
  const append = cmd === Op.Append || cmd === Op.Prepend;
  const flags = append ? 0 : u32(buf, r.es);
  const vlen = r.vlen;
  const ks = r.ks;
  const kl = r.keylen;
  if (!store.fits(kl, vlen, flags)) {
    if (cmd === Op.Set) store.remove(buf, ks, kl);
    error(s, r, St.E2big, null, vlen);
    return 0;
  }
  if (end - r.vs < vlen) {
    if (vlen >= SINK_MIN && !append) {
      // Large and still arriving: into its reserved item as it comes.
      const mode = r.cas !== 0
        ? Mode.Cas
        : cmd === Op.Set
        ? Mode.Set
        : cmd === Op.Add
        ? Mode.Add
        : Mode.Replace;
      const exp = absoluteExpiry(
        u32(buf, r.es + 4),
        ctx.clock.now(),
        ctx.started,
      );
      // The framer's request record is shared: the reply needs its own.
      const saved: BinRequest = { ...r };
      const done = (s: Session, k: Sink) => sinkDone(s, k, saved);
      if (startSink(s, buf, ks, kl, flags, exp, vlen, 0, mode, r.cas, done)) {
        return 0;
      }
    } else if (s.input(r.vs + vlen - s.lineStart)) return NEED_MORE;
    // No memory to buffer the value: memcached's failed item_alloc.
    c.store_no_memory++;
    if (cmd === Op.Set) store.remove(buf, ks, kl);
    error(s, r, St.Enomem, null, vlen);
    return 0;
  }
  c.cmd_set++;
  let mode: Mode;
  if (append) {
    mode = cmd === Op.Append ? Mode.Append : Mode.Prepend;
    if (r.cas !== 0) {
      const h = store.peek(buf, ks, kl);
      if (h >= 0 && store.casOf(h) !== r.cas) {
        error(s, r, St.KeyEexists);
        return vlen;
      }
    }
  } else if (r.cas !== 0) mode = Mode.Cas;
  else if (cmd === Op.Set) mode = Mode.Set;
  else mode = cmd === Op.Add ? Mode.Add : Mode.Replace;
  const exp = append
    ? 0
    : absoluteExpiry(u32(buf, r.es + 4), ctx.clock.now(), ctx.started);
  const res = s.res;
  const st = store.store(
    mode,
    buf,
    ks,
    kl,
    flags,
    exp,
    buf,
    r.vs,
    vlen,
    r.cas,
    res,
  );
  countStore(c, store, st, mode === Mode.Cas, res.handle, buf, ks, kl);
  updateReply(s, r, st, res.cas);
  return vlen;
}

/** A large value went into its reservation: as {@link update} ends. */
function sinkDone(s: Session, k: Sink, r: BinRequest): void {
  s.ctx.counters.cmd_set++;
  const st = commitSink(s, k);
  updateReply(s, r, st, s.res.cas);
}

/** The response to a Set/Add/Replace/Append/Prepend's store status. */
function updateReply(s: Session, r: BinRequest, st: Status, cas: number): void {
  const cmd = r.cmd;
  switch (st) {
    case Status.Stored:
      success(s, r, cas);
      break;
    case Status.Exists:
      error(s, r, St.KeyEexists);
      break;
    case Status.NotFound:
      error(s, r, St.KeyEnoent);
      break;
    case Status.NoMemory:
      error(s, r, St.Enomem, OOM.item);
      break;
    default: // NotStored, TooLarge: the status memcached picks per command
      error(
        s,
        r,
        cmd === Op.Add
          ? St.KeyEexists
          : cmd === Op.Replace
          ? St.KeyEnoent
          : St.NotStored,
      );
  }
}

/** Delete (with an optional cas guard). */
export function del(s: Session, buf: Uint8Array, r: BinRequest): number {
  const store = s.ctx.store;
  const c = s.ctx.counters;
  const h = store.peek(buf, r.ks, r.keylen);
  if (h < 0) {
    c.delete_misses++;
    error(s, r, St.KeyEnoent);
    return 0;
  }
  if (r.cas !== 0 && r.cas !== store.casOf(h)) {
    error(s, r, St.KeyEexists);
    return 0;
  }
  c.delete_hits++;
  c.slab.delete_hits[store.classOf(h)]++;
  store.removeHandle(h);
  success(s, r, 0);
  return 0;
}

/**
 * Increment/Decrement: extras are delta (64 bits), initial value (64 bits)
 * and expiration (32 bits). A missing key is created with the initial value
 * unless the expiration is 0xffffffff.
 */
export function arith(s: Session, buf: Uint8Array, r: BinRequest): number {
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const incr = r.cmd === Op.Increment;
  const ks = r.ks;
  const kl = r.keylen;
  if (r.cas !== 0) {
    // memcached checks an empty value, then the cas, then the digits.
    const h = store.peek(buf, ks, kl);
    if (h >= 0 && store.valueLen(h) > 0 && store.casOf(h) !== r.cas) {
      error(s, r, St.KeyEexists);
      return 0;
    }
  }
  const delta = u64(buf, r.es);
  const res = s.res;
  switch (store.incrDecr(buf, ks, kl, incr, delta, res)) {
    case Status.Stored: {
      const h = res.handle;
      if (incr) {
        c.incr_hits++;
        c.slab.incr_hits[store.classOf(h)]++;
      } else {
        c.decr_hits++;
        c.slab.decr_hits[store.classOf(h)]++;
      }
      counterReply(s, r, res.number, res.cas);
      return 0;
    }
    case Status.NonNumeric:
      error(s, r, St.DeltaBadval);
      return 0;
    case Status.NotFound:
      break;
    default:
      error(s, r, St.Enomem, OOM.incr);
      return 0;
  }
  const exptime = u32(buf, r.es + 16);
  if (exptime === NO_CREATE) {
    if (incr) c.incr_misses++;
    else c.decr_misses++;
    error(s, r, St.KeyEnoent);
    return 0;
  }
  const initial = u64(buf, r.es + 8);
  const digits = enc.encode(initial.toString());
  const exp = absoluteExpiry(exptime, ctx.clock.now(), ctx.started);
  const st = store.store(
    Mode.Add,
    buf,
    ks,
    kl,
    0,
    exp,
    digits,
    0,
    digits.length,
    0,
    res,
  );
  if (st === Status.Stored) counterReply(s, r, initial, res.cas);
  else if (st === Status.NoMemory) error(s, r, St.Enomem, OOM.newItem);
  else error(s, r, St.NotStored);
  return 0;
}

/** The 8-byte counter value reply (dropped for quiet forms). */
function counterReply(
  s: Session,
  r: BinRequest,
  value: bigint,
  cas: number,
): void {
  if (r.quiet) return;
  header(s, r, 0, 0, 0, 8, cas);
  putU64(s, value);
}
