/**
 * Sending one batch of replies: the reply buffer's own bytes, with the
 * stored values it references (`putStored` in `../protocol/outbuf.ts`)
 * sent in between, straight from the store's pages, in slices of
 * {@link REF_SLICE} — many clients reading one big value share its bytes
 * instead of holding a copy each.
 *
 * The reply holds each referenced item (`Store.hold`, memcached's item
 * reference count): a rewrite makes a new version and an unlinked item
 * keeps its chunk until the reply is out or the connection closes. As a
 * safety net the item is still checked before every write of its bytes: a
 * transport with synchronous writes (epoll: `sendNow`, `awaitWritable`)
 * writes straight from the page and asks to be woken when the socket has
 * room, then checks again; one with asynchronous writes (portable) gets a
 * copy of each {@link STAGE_SLICE} in the connection's staging buffer. The
 * bytes that reach the client are always those just checked; when the item
 * changed mid-reply the connection is closed: the client sees a dropped
 * connection, never a wrong or mixed value.
 * @module
 */

import type { Store } from "../store/types.ts";
import type { OutBuf } from "../protocol/outbuf.ts";

/** Largest piece of a referenced value handed to the transport at once. */
export const REF_SLICE = 256 * 1024;
/**
 * Bytes one connection may write per turn on a synchronous transport before
 * it waits for the next writable event: a client fetching a big pipeline
 * cannot hold the loop while others wait (memcached's reqs_per_event).
 */
export const TURN_BYTES = 1024 * 1024;
/** `inflight` when the transport was only asked to wake us (no piece out). */
const WOKEN = -1;
/** Largest copy staged for a transport that writes asynchronously. */
export const STAGE_SLICE = 32 * 1024;

/** What sending needs of the core. */
export interface SendEnv<C> {
  readonly store: Store;
  close(c: C): void;
  /** A staging buffer of at least `n` bytes for `c` (kept until the batch is out). */
  stage(c: C, n: number): Uint8Array;
}

/** What sending needs of a connection (the core's Conn). */
export interface Sending {
  readonly session: { readonly out: OutBuf };
  readonly transport: {
    send(buf: Uint8Array, len: number): boolean;
    /** Writes what the socket takes now, synchronously; bytes taken. */
    sendNow?(buf: Uint8Array, len: number): number;
    /** Calls the core's `flushed` once the socket has room again. */
    awaitWritable?(): void;
  };
  blocked: boolean;
  dead: boolean;
  /** Piece in flight: even = own bytes before ref seg/2 (or the tail), odd = ref seg>>1. */
  seg: number;
  /** Offset sent so far within the ref being sent. */
  off: number;
  /** Length of the piece handed to the transport. */
  inflight: number;
}

/** Whether ref `k` still names the bytes it named when it was queued. */
function refValid(store: Store, o: OutBuf, k: number): boolean {
  const h = o.refHandle[k];
  try {
    return store.casOf(h) === o.refCas[k] &&
      store.valueBytes(h) === o.refSrc[k] &&
      store.valueStart(h) === o.refStart[k];
  } catch {
    return false; // the page went away
  }
}

/**
 * Sends pieces from `c.seg` on. Returns true once everything is out; false
 * when the transport took a piece to finish later (then `c.blocked`), or
 * the connection was closed.
 */
export function sendPieces<C extends Sending>(c: C, env: SendEnv<C>): boolean {
  const o = c.session.out;
  const t = c.transport;
  let turn = 0;
  while (c.seg <= 2 * o.nrefs) {
    if (turn > TURN_BYTES && t.awaitWritable !== undefined) {
      t.awaitWritable(); // the rest on a later turn
      c.inflight = WOKEN;
      c.blocked = true;
      return false;
    }
    const k = c.seg >> 1;
    let piece: Uint8Array;
    let n: number;
    if ((c.seg & 1) === 0) {
      const from = k === 0 ? 0 : o.refAt[k - 1];
      const to = k === o.nrefs ? o.len : o.refAt[k];
      n = to - from;
      if (n === 0) {
        c.seg++;
        continue;
      }
      // Without refs this is the whole buffer: no view is made.
      piece = from === 0 ? o.buf : o.buf.subarray(from, to);
    } else {
      if (!refValid(env.store, o, k)) {
        env.close(c);
        return false;
      }
      const direct = t.sendNow !== undefined && t.awaitWritable !== undefined;
      n = Math.min(direct ? REF_SLICE : STAGE_SLICE, o.refLen[k] - c.off);
      const s0 = o.refStart[k] + c.off;
      const src = o.refSrc[k];
      if (direct) {
        const now = t.sendNow!(src.subarray(s0, s0 + n), n);
        if (c.dead) return false;
        turn += now;
        c.off += now;
        if (now < n) {
          c.inflight = WOKEN;
          // Socket full: wait for room, then check the item again.
          t.awaitWritable!();
          c.blocked = true;
          return false;
        }
        advance(c);
        continue;
      }
      // The write reads the bytes later: freeze them (the item may change).
      piece = env.stage(c, n);
      piece.set(src.subarray(s0, s0 + n));
    }
    c.inflight = n;
    turn += n;
    if (!t.send(piece, n)) {
      if (!c.dead) c.blocked = true;
      return false;
    }
    if (c.dead) return false;
    advance(c);
  }
  return true;
}

/** The piece in flight (`c.inflight` bytes) is out: moves to the next one. */
export function advance(c: Sending): void {
  if (c.inflight === WOKEN) {
    c.inflight = 0; // nothing was in flight: go on where we stopped
    return;
  }
  if ((c.seg & 1) === 1) {
    const o = c.session.out;
    c.off += c.inflight;
    c.inflight = 0;
    if (c.off < o.refLen[c.seg >> 1]) return;
    c.off = 0;
  }
  c.inflight = 0;
  c.seg++;
}
