/**
 * Data blocks that go straight into the store. A large value whose block
 * has not all arrived gets its item reserved in the store when its command
 * line is read (`Store.reserve`, memcached's `item_alloc` before the read),
 * and the bytes are copied into it as they come: the connection's input
 * buffer stays small however large the value, and a half-sent value takes
 * cache memory under `-m`, as in memcached, not memory beside it (issue
 * #14). Its size is drawn from the connection memory budget too, so the
 * budget still bounds and sees what uploads hold.
 *
 * Pure over bytes like the rest of the protocol: {@link drainSink} takes
 * input from the feed loop and never touches sockets.
 * @module
 */

import { Mode, Status } from "../store/types.ts";
import { countStore } from "./counters.ts";
import type { Session, Sink } from "./types.ts";

/** Values at least this long whose block is still arriving are reserved. */
export const SINK_MIN = 16 * 1024;

/**
 * Reserves the item and points the session's input at it. False when the
 * budget or the store has no room: the caller answers as memcached does
 * when item_alloc fails.
 */
export function startSink(
  s: Session,
  key: Uint8Array,
  ks: number,
  kl: number,
  flags: number,
  exp: number,
  vlen: number,
  tailLen: number,
  mode: Mode,
  cas: number,
  done: (s: Session, k: Sink) => void,
): boolean {
  if (!s.charge(vlen)) return false;
  const h = s.ctx.store.reserve(key, ks, kl, flags, exp, vlen);
  if (h < 0) {
    s.charge(-vlen);
    return false;
  }
  s.sink = {
    handle: h,
    vlen,
    got: 0,
    tailLen,
    tail: 0,
    bad: false,
    mode,
    cas,
    done,
  };
  return true;
}

/**
 * Feeds `buf[p, end)` to the block in progress; returns the bytes it took.
 * Once value and trailer are in, the block's `done` runs (and the session's
 * sink is cleared first, so `done` may reply and the feed loop go on).
 */
export function drainSink(
  s: Session,
  buf: Uint8Array,
  p: number,
  end: number,
): number {
  const k = s.sink!;
  const from = p;
  const n = Math.min(k.vlen - k.got, end - p);
  if (n > 0) {
    s.ctx.store.fillReserved(k.handle, k.got, buf, p, n);
    k.got += n;
    p += n;
  }
  while (k.got === k.vlen && k.tail < k.tailLen && p < end) {
    if (buf[p] !== (k.tail === 0 ? 13 : 10)) k.bad = true;
    k.tail++;
    p++;
  }
  finishIfDone(s, k);
  return p - from;
}

/** Value and trailer are in: the sink ends and the command completes. */
function finishIfDone(s: Session, k: Sink): void {
  if (k.got !== k.vlen || k.tail !== k.tailLen) return;
  s.sink = null;
  s.charge(-k.vlen);
  k.done(s, k);
}

/**
 * Where the next read may go straight (no copy): the rest of the value in
 * its reserved item (shared pages too: the chunk is this connection's alone
 * until committed); null when none is left to read.
 */
export function sinkRoom(s: Session): Uint8Array | null {
  const k = s.sink;
  if (k === null || k.got === k.vlen) return null;
  return s.ctx.store.reservedRoom(k.handle, k.got, k.vlen - k.got);
}

/** `n` bytes were read into {@link sinkRoom}'s region. */
export function sinkTook(s: Session, n: number): void {
  const k = s.sink!;
  k.got += n;
  finishIfDone(s, k); // binary: no trailer to wait for
}

/**
 * Commits a completed text or binary block under its mode and counts it as
 * the buffered path does (`countStore`, with the key read from the item);
 * a reservation that was not stored goes back. The handle and cas are in
 * `s.res` on {@link Status.Stored}.
 */
export function commitSink(s: Session, k: Sink): Status {
  const store = s.ctx.store;
  const res = s.res;
  const st = store.commitReserved(k.mode, k.handle, k.cas, res);
  const h = st === Status.Stored ? res.handle : k.handle;
  countStore(
    s.ctx.counters,
    store,
    st,
    k.mode === Mode.Cas,
    h,
    store.keyBytes(h),
    store.keyStart(h),
    store.keyLen(h),
  );
  if (st !== Status.Stored) store.dropReserved(k.handle);
  return st;
}

/** The connection is gone mid-block: the reservation goes back. */
export function endSink(s: Session): void {
  const k = s.sink;
  if (k === null) return;
  s.sink = null;
  s.ctx.store.dropReserved(k.handle);
}
