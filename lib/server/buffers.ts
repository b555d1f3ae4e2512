/**
 * Connection buffers under the process-wide memory budget (`../budget.ts`):
 * the connection core's input and reply buffers, and what it does when the
 * budget is spent.
 *
 * - Input: a buffer's first {@link INITIAL} bytes are the connection's own
 *   (bounded by `-c`); growth draws from the budget. A data block still
 *   arriving asks once for its exact room (`Session.input`): granted, the
 *   buffer is sized to it at once (no doubling, no second copy while it
 *   arrives); refused, the set is answered `SERVER_ERROR out of memory
 *   storing object` and its bytes are swallowed unbuffered, as memcached
 *   does when item_alloc fails. A command line that would grow the buffer
 *   past the budget stops that connection's reads instead.
 * - Replies: what a batch added to the reply buffer is charged after the
 *   batch; the bound on pending replies (`Session.outLimit`) shrinks as the
 *   budget runs short, so the overshoot stays within one reply of a small
 *   value (large values go by reference and cost nothing here).
 * - Spent (within {@link headroom} of the limit): reads stop on the
 *   connections that hold the most, and resume once use falls below twice
 *   the headroom; if it stays spent for {@link STUCK_SECONDS}, the heaviest
 *   connection that sent nothing meanwhile is closed, one per second.
 * @module
 */

import {
  type Budget,
  createBudget,
  defaultBudgetBytes,
  Kind,
} from "../budget.ts";
import { budgetWords } from "../protocol/shared_counters.ts";
import type { Context } from "../protocol/context.ts";
import { STAGE_SLICE } from "./sendout.ts";
import { freeNow } from "../free_now.ts";
import {
  clearRefs,
  idleOut,
  OUT_BASE,
  type OutBuf,
  pendingBytes,
} from "../protocol/outbuf.ts";

/** Bytes of input buffer every connection has, outside the budget. */
export const INITIAL = 16 * 1024;
/** Input buffers kept for reuse (per event loop: each is its own isolate). */
const POOL_MAX = 64;
const inPool: Uint8Array[] = [];
/** Input buffers larger than this are released when they empty. */
const KEEP = 256 * 1024;
/** Smallest bound on pending replies, however short the budget. */
const OUT_FLOOR = 64 * 1024;
/** Estimated TLS buffers per TLS connection (record buffers both ways). */
export const TLS_ESTIMATE = 64 * 1024;
/** Connections holding less than this are never stopped. */
const HOLD_MIN = 64 * 1024;
/** Seconds the budget may stay spent before the worst offender is closed. */
export const STUCK_SECONDS = 5;

/** The input buffer of a connection that holds none (it takes one to read). */
export const EMPTY = new Uint8Array(0);

/** Gives an idle connection's own input buffer to the pool. */
function poolIn(b: Uint8Array): void {
  if (b.length === INITIAL && inPool.length < POOL_MAX) inPool.push(b);
}

/** What the buffers need of a connection (the core's Conn). */
export interface Buffered {
  readonly info: { readonly id: number };
  readonly session: { readonly out: OutBuf; readonly sink: object | null };
  readonly transport: { hold(on: boolean): void };
  inBuf: Uint8Array;
  start: number;
  end: number;
  inCharged: number;
  want: number;
  outCharged: number;
  held: boolean;
  stage: Uint8Array | null;
  blocked: boolean;
  dead: boolean;
  lastActive: number;
}

/** The core's side of the budget. */
export interface Buffers {
  readonly budget: Budget;
  /** The bound on pending replies for the next batch. */
  outLimit(): number;
  /** The buffer region to read into next; empty while reads are stopped. */
  room(c: Buffered): Uint8Array;
  /** `Session.input`: may the input buffer hold `total` bytes from the command's start? */
  input(c: Buffered, total: number): boolean;
  /** Charges the reply buffer's growth after a batch. */
  chargeOut(c: Buffered): void;
  /** `Session.charge`: a value going straight into the store (negative: done). */
  chargeSink(c: Buffered, n: number): boolean;
  /** The batch's replies are all out: resets the buffer; returns the bytes sent. */
  sent(c: Buffered): number;
  /** All input consumed: drops a large input buffer. */
  idleInput(c: Buffered): void;
  /**
   * A send is blocked with all input consumed: the input buffer goes until
   * the client can take replies again (a client that never reads holds only
   * its queued replies, as in memcached, which frees idle read buffers).
   */
  parkInput(c: Buffered): void;
  /** After a batch: stop reading `c` if the budget is spent and it holds much. */
  afterBatch(c: Buffered): void;
  /** A staging buffer of at least `n` bytes for `c`, charged, until the batch is out. */
  stage(c: Buffered, n: number): Uint8Array;
  /** Charges a TLS connection's estimated buffers. */
  chargeTls(c: Buffered): void;
  /** The connection closed: everything it held returns. */
  release(c: Buffered): void;
  /** Once a second: closes the worst offender when the budget stays spent. */
  everySecond(): void;
}

/** Creates the buffers' budget for `ctx` (sets `ctx.budget` for `stats`). */
export function createBuffers<C extends Buffered>(
  ctx: Context,
  conns: ReadonlySet<C>,
  close: (c: C) => void,
): Buffers {
  const cfg = ctx.config;
  const limit = cfg.connMemoryMb > 0
    ? cfg.connMemoryMb * 1024 * 1024
    : defaultBudgetBytes(cfg.memoryLimitMb);
  // With -t N every loop draws from one total: the bound is server-wide.
  const shared = ctx.counters.shared;
  const budget = createBudget(
    limit,
    shared === undefined ? undefined : budgetWords(shared),
  );
  ctx.budget = budget;
  /** Within this of the limit the budget counts as spent. */
  const headroom = Math.max(INITIAL, Math.floor(limit / 16));
  const held = new Set<Buffered>();
  let spentFor = 0;

  const spent = () => budget.used > limit - headroom;

  function hold(c: Buffered): void {
    if (c.held || c.dead) return;
    c.held = true;
    held.add(c);
    c.transport.hold(true);
  }

  /** Memory came back: resume every stopped connection once use is low. */
  function relieve(): void {
    if (held.size === 0 || budget.used > limit - 2 * headroom) return;
    for (const c of held) {
      c.held = false;
      if (!c.dead) c.transport.hold(false);
    }
    held.clear();
  }

  /** Makes the input charge cover `cap` bytes of buffer; false if refused. */
  function coverIn(c: Buffered, cap: number): boolean {
    const extra = cap - INITIAL - c.inCharged;
    if (extra <= 0) return true;
    if (!budget.take(c.info.id, Kind.ReadBuf, extra)) return false;
    c.inCharged += extra;
    return true;
  }

  function chargeOut(c: Buffered): void {
    const want = Math.max(0, c.session.out.buf.length - OUT_BASE);
    const d = want - c.outCharged;
    if (d > 0) budget.charge(c.info.id, Kind.Response, d);
    else if (d < 0) budget.give(c.info.id, Kind.Response, -d);
    c.outCharged = want;
  }

  return {
    budget,
    outLimit() {
      const left = (limit - budget.used) >> 3;
      return Math.min(cfg.maxOutputBytes, Math.max(OUT_FLOOR, left));
    },
    room(c) {
      // Idle or parked: one from the pool.
      if (c.inBuf.length === 0) {
        c.inBuf = inPool.pop() ?? new Uint8Array(INITIAL);
      }
      if (c.want > c.inBuf.length) {
        // A data block was granted its room: size the buffer to it once.
        const nb = new Uint8Array(c.want);
        nb.set(c.inBuf.subarray(c.start, c.end));
        c.end -= c.start;
        c.start = 0;
        c.inBuf = nb;
      } else if (c.end === c.inBuf.length) {
        if (c.start > 0) {
          c.inBuf.copyWithin(0, c.start, c.end);
          c.end -= c.start;
          c.start = 0;
        } else {
          const size = c.inBuf.length * 2;
          if (!coverIn(c, size)) {
            hold(c); // a line longer than what is left: wait for memory
            return EMPTY;
          }
          const nb = new Uint8Array(size);
          nb.set(c.inBuf);
          c.inBuf = nb;
        }
      }
      // Usually everything was consumed: the whole buffer, no new view.
      return c.end === 0 ? c.inBuf : c.inBuf.subarray(c.end);
    },
    input(c, total) {
      if (total <= c.inBuf.length || total <= c.want) return true;
      if (!coverIn(c, total)) return false;
      c.want = total;
      return true;
    },
    chargeOut,
    chargeSink(c, n) {
      if (n < 0) {
        budget.give(c.info.id, Kind.ReadBuf, -n);
        relieve();
        return true;
      }
      return budget.take(c.info.id, Kind.ReadBuf, n);
    },
    sent(c) {
      const o = c.session.out;
      const n = pendingBytes(o);
      o.len = 0;
      clearRefs(o);
      idleOut(o);
      if (c.stage !== null) {
        budget.give(c.info.id, Kind.Response, c.stage.length);
        c.stage = null;
      }
      chargeOut(c);
      relieve();
      return n;
    },
    idleInput(c) {
      c.want = 0;
      // All consumed: an idle connection holds no input buffer (epoll takes
      // one again when the socket is readable; portable at its next read).
      if (c.inBuf.length === INITIAL || c.inBuf.length > KEEP) {
        poolIn(c.inBuf);
        c.inBuf = EMPTY;
      }
      const keep = Math.max(0, c.inBuf.length - INITIAL);
      if (c.inCharged > keep) {
        budget.give(c.info.id, Kind.ReadBuf, c.inCharged - keep);
        c.inCharged = keep;
        relieve();
      }
    },
    parkInput(c) {
      if (c.start !== c.end || c.inBuf.length === 0) return;
      c.start = c.end = 0;
      c.want = 0;
      poolIn(c.inBuf);
      c.inBuf = EMPTY;
      if (c.inCharged > 0) {
        budget.give(c.info.id, Kind.ReadBuf, c.inCharged);
        c.inCharged = 0;
        relieve();
      }
    },
    afterBatch(c) {
      // A connection whose granted block is still arriving needs no more:
      // stopping it would only keep its memory longer.
      if (!spent() || c.want > 0 || c.dead || c.session.sink !== null) return;
      if (budget.held(c.info.id) >= HOLD_MIN) hold(c);
    },
    stage(c, n) {
      if (c.stage !== null && c.stage.length >= n) return c.stage;
      if (c.stage !== null) {
        budget.give(c.info.id, Kind.Response, c.stage.length);
      }
      // One slice at most: sendout.ts never stages more.
      c.stage = new Uint8Array(Math.max(n, Math.min(STAGE_SLICE, 2 * n)));
      budget.charge(c.info.id, Kind.Response, c.stage.length);
      return c.stage;
    },
    chargeTls(c) {
      budget.charge(c.info.id, Kind.Tls, TLS_ESTIMATE);
    },
    release(c) {
      budget.release(c.info.id);
      c.inCharged = c.outCharged = 0;
      // Freed now rather than at a major GC: after a storm of hundreds of
      // connections their buffers stayed resident ~20 s. Not pooled: the
      // portable transport may still have a read in flight into inBuf.
      freeNow(c.inBuf);
      c.inBuf = EMPTY;
      c.start = c.end = 0;
      if (c.stage !== null) freeNow(c.stage);
      c.stage = null;
      if (held.delete(c)) c.held = false;
      relieve();
    },
    everySecond() {
      if (!spent()) {
        spentFor = 0;
        relieve(); // another loop may have given the memory back
        return;
      }
      if (++spentFor < STUCK_SECONDS) return;
      // Spent for a while: close the heaviest connection that sent nothing
      // meanwhile (a live upload or reader keeps its memory moving).
      const quiet = ctx.clock.now() - STUCK_SECONDS;
      let worst: C | null = null;
      let most = 0;
      for (const c of conns) {
        const h = budget.held(c.info.id);
        if (h > most && c.lastActive <= quiet) {
          worst = c;
          most = h;
        }
      }
      if (worst !== null) {
        budget.closes++;
        close(worst);
      }
    },
  };
}
