/**
 * The connection core, shared by every transport: it owns each
 * connection's input buffer, the feed/flush loop, backpressure, the
 * registry and its counters, the connection limit, `--single`, idle kicks
 * and graceful stop. Transports (`portable.ts` over `Deno.Conn`/`TlsConn`,
 * `ffi/epoll.ts` over raw fds) only move bytes:
 *
 * - on accept they call {@link Core.admit}, then {@link Core.open};
 * - to read they ask {@link Core.room} for a buffer, read into it and
 *   report the count with {@link Core.received} (or {@link Core.gone});
 * - the core hands replies to {@link Transport.send}; a transport that
 *   cannot take them all at once returns false, stops reading that
 *   connection, and calls {@link Core.flushed} once they are out;
 * - the core ends a connection with {@link Transport.close}.
 *
 * Processing is synchronous between these calls, so between calls a
 * connection is either idle (nothing pending: safe to close) or blocked
 * on a send.
 *
 * Memory beside the store is bounded by one process-wide budget (see
 * `budget.ts` and `buffers.ts`): input buffers beyond their first 16 KiB,
 * reply buffers beyond theirs and an estimate per TLS connection draw from
 * it; a value still arriving is given its exact room once (or answered out
 * of memory); large stored values are sent by reference from the store's
 * pages in slices (`sendout.ts`), never copied per client.
 * @module
 */

import type { ConnInfo, Context } from "../protocol/context.ts";
import { clearRefs, freeOut, pendingBytes } from "../protocol/outbuf.ts";
import { endSink, sinkRoom, sinkTook } from "../protocol/sink.ts";
import {
  awaitsLine,
  createSession,
  feed,
  type Session,
} from "../protocol/session.ts";
import { type Buffers, createBuffers, EMPTY as NO_INPUT } from "./buffers.ts";
import { advance, type SendEnv, sendPieces } from "./sendout.ts";
import { CTL, publishCounters } from "../protocol/shared_counters.ts";
import { publishConns } from "../protocol/conn_table.ts";
import type { ListenProto } from "../listen.ts";

/** memcached's reply to a connection past `-c`. */
export const TOO_MANY: Uint8Array = new TextEncoder().encode(
  "ERROR Too many open connections\r\n",
);

/** memcached's -vv line for a new client, by `-B`. */
const NEW_CONN = {
  auto: "new auto-negotiating client connection",
  ascii: "new ascii client connection.",
  binary: "new binary client connection.",
} as const;
/** memcached's prot_text(), for its "server listening" line. */
const PROTO = {
  auto: "auto-negotiate",
  ascii: "ascii",
  binary: "binary",
} as const;

/** What the core needs from one accepted socket. */
export interface Transport {
  /**
   * Sends `buf[0, len)`. Returns true when all of it was handed to the
   * kernel now; false when the rest goes later: the transport then stops
   * reading this connection, must not let `buf` be reused meanwhile (the
   * core does not touch it), and calls {@link Core.flushed} when done. On
   * a dead peer it calls {@link Core.gone} (and may return either).
   */
  send(buf: Uint8Array, len: number): boolean;
  /**
   * Optional: writes what the socket takes right now and returns how many
   * bytes that was (never keeps `buf`). Lets a referenced stored value go
   * out without a copy (`sendout.ts`).
   */
  sendNow?(buf: Uint8Array, len: number): number;
  /** With {@link sendNow}: calls {@link Core.flushed} once the socket has room. */
  awaitWritable?(): void;
  /**
   * Stops (true) or resumes (false) reading this connection: the memory
   * budget is spent. While stopped, {@link Core.room} may return an empty
   * buffer, which the transport must not read into.
   */
  hold(on: boolean): void;
  /** Closes the socket; later reads fail and no callback follows. */
  close(): void;
  /**
   * True for a transport that may have a read in flight while the core
   * still has input to go back to (the portable one: its reads complete
   * later). Such a transport checks {@link Core.waiting} before each read
   * and calls {@link Core.resume} itself, since input must not be touched
   * under a read; for the others the core resumes from a timer.
   */
  resumesItself?: boolean;
}

/** One connection as the core tracks it. */
export interface Conn {
  readonly info: ConnInfo;
  readonly session: Session;
  readonly transport: Transport;
  /** Input buffer; unread bytes are `inBuf[start, end)`. */
  inBuf: Uint8Array;
  start: number;
  end: number;
  /** A send is pending: do not read; the core resumes on `flushed`. */
  blocked: boolean;
  /** The server is stopping: close once the pending replies are out. */
  closing: boolean;
  /** Closed; every later call about it is ignored. */
  dead: boolean;
  /** Unix seconds (server clock) of the last bytes received. */
  lastActive: number;
  /** Input bytes beyond the first 16 KiB (`INITIAL`, buffers.ts) drawn from the budget (≥ what inBuf uses). */
  inCharged: number;
  /** Input capacity a data block still arriving was granted (0 = none). */
  want: number;
  /** Reply buffer bytes drawn from the budget. */
  outCharged: number;
  /** Reading is stopped because the budget is spent. */
  held: boolean;
  /** Sending: the output piece in flight (`sendout.ts`) and its offset. */
  seg: number;
  off: number;
  inflight: number;
  /** Staging copy of a referenced value's slice the socket did not take at once. */
  stage: Uint8Array | null;
  /**
   * Bytes from `start` known to hold no newline while the session waits for
   * a command line (0 = unknown): a trickled line is scanned once, not per byte.
   */
  clean: number;
  /** The last {@link Core.room} was a reserved item's value, not `inBuf`. */
  direct: boolean;
  /** A sliced `stats cachedump` is to be fed again in a later turn. */
  deferred: boolean;
}

/** Server-level reactions to connection events. */
export interface CoreEvents {
  /** `--single`: the first connection was opened; stop accepting. */
  stopAccepting(): void;
  /** `--single`: that connection closed; stop the server. */
  requestStop(): void;
}

/** The connection core; one per server, shared by all its transports. */
export interface Core {
  readonly ctx: Context;
  /** Open connections. */
  readonly conns: ReadonlySet<Conn>;
  /**
   * May one more connection be served? False (and `rejected_connections`
   * counted) past `-c` or while stopping: the transport then writes
   * {@link TOO_MANY} (unless stopping) and closes the socket.
   */
  admit(): boolean;
  /**
   * Registers an accepted socket; `addr` and `listenAddr` (its listener's
   * name) as `stats conns` shows them; `tls` charges the budget an estimate
   * of its TLS buffers; `proto` is its listener's `-l proto[...]:`.
   */
  open(
    transport: Transport,
    addr: string,
    listenAddr?: string,
    tls?: boolean,
    proto?: ListenProto,
  ): Conn;
  /**
   * Shows a listener (`tcp:HOST:PORT`) in `stats conns`; returns its id.
   * `proto` is its `-l proto[...]:`, for the `-vv` line.
   */
  listening(name: string, proto?: ListenProto): number;
  /** Removes a listener shown by {@link listening}. */
  unlisten(id: number): void;
  /**
   * The buffer region a transport should read into next. A transport whose
   * reads complete before it returns (epoll) passes `direct`: the rest of a
   * large value then goes straight into its reserved item (`sink.ts`).
   */
  room(c: Conn, direct?: boolean): Uint8Array;
  /** `n` bytes were read into {@link room}: parse and reply. */
  received(c: Conn, n: number): void;
  /** A send that returned false has completed: continue. */
  flushed(c: Conn): void;
  /**
   * A command answered a turn at a time (`stats cachedump`) waits for its
   * next turn. A transport that {@link Transport.resumesItself} reads
   * nothing meanwhile and calls {@link resume} on a later turn; for the
   * others the core resumes it from a timer (new input continues it sooner).
   */
  waiting(c: Conn): boolean;
  /** Answers the next turn of a {@link waiting} command. */
  resume(c: Conn): void;
  /** EOF, reset or write error: forget the connection. */
  gone(c: Conn): void;
  /** Once a second: idle kicks (`-o idle_timeout`). */
  everySecond(): void;
  /** Starts a graceful stop: idle connections close now, busy ones after their replies. */
  beginStop(): void;
  /** Closes every connection still open (end of the stop grace period). */
  closeAll(): void;
  /** Resolves when no connection is open. */
  idle(): Promise<void>;
}

/** How long a graceful stop waits for replies in flight. */
export const STOP_GRACE_MS = 1000;

/**
 * The graceful part of a stop, the same for every loop: no new commands,
 * replies in flight get up to {@link STOP_GRACE_MS} to go out, then every
 * connection is closed.
 */
export async function drainCore(core: Core): Promise<void> {
  core.beginStop();
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    core.idle(),
    new Promise<void>((r) => (t = setTimeout(r, STOP_GRACE_MS))),
  ]);
  clearTimeout(t);
  core.closeAll();
}

/** Creates the connection core for `ctx`. */
export function createCore(ctx: Context, events: CoreEvents): Core {
  const { config, counters, clock } = ctx;
  /** With -t N: the counters shared by all loops (`-c` word, publishing). */
  const shared = counters.shared;
  const conns = new Set<Conn>();
  const mem: Buffers = createBuffers(ctx, conns, close);
  const env: SendEnv<Conn> = {
    get store() {
      return ctx.store;
    },
    close,
    stage: (c, n) => mem.stage(c, n),
  };
  // -t N: ids stay unique across loops in -vv logs (loop L counts from
  // L * 1e6 + 1; memcached's ids are fds, unique per process).
  let nextId = shared !== undefined ? shared.id * 1_000_000 + 1 : 1;
  let served = 0;
  let stopping = false;
  let waiters: (() => void)[] = [];

  function close(c: Conn): void {
    if (c.dead) return;
    c.dead = true;
    try {
      c.transport.close();
    } catch {
      // already closed
    }
    conns.delete(c);
    clearRefs(c.session.out); // its holds on stored values end here
    freeOut(c.session.out);
    endSink(c.session); // a value it was still sending goes back
    mem.release(c);
    ctx.conns.delete(c.info.id);
    if (c.info.slot !== undefined && c.info.slot >= 0) {
      shared!.conns.remove(c.info.slot);
    }
    counters.curr_connections--;
    if (shared !== undefined) Atomics.sub(shared.ctl, CTL.CONNS, 1);
    if (ctx.verbose > 1) console.error(`<${c.info.id} connection closed.`);
    if (conns.size === 0) {
      const w = waiters;
      waiters = [];
      for (const r of w) r();
    }
    if (config.single && !stopping) events.requestStop();
  }

  /** Runs buffered input through the protocol, sending after each batch. */
  function process(c: Conn): void {
    const s = c.session;
    c.clean = 0;
    c.info.state = "conn_parse_cmd";
    for (;;) {
      s.outLimit = mem.outLimit();
      const used = feed(s, c.inBuf, c.start, c.end);
      ctx.store.release();
      // Before the reply goes out: a client that got it and then asks
      // another loop's `stats` sees this batch counted.
      if (shared !== undefined) publishCounters(counters);
      c.start += used;
      mem.chargeOut(c);
      if (pendingBytes(s.out) > 0) {
        c.info.state = "conn_mwrite";
        c.seg = c.off = 0;
        if (!sendPieces(c, env)) {
          if (!c.dead) mem.parkInput(c);
          return;
        }
        sent(c);
      }
      if (s.dump !== null) {
        if (c.transport.resumesItself !== true) resumeLater(c);
        break;
      }
      if (used === 0 || c.start === c.end || s.close) break;
      counters.conn_yields++;
    }
    settled(c);
    mem.afterBatch(c);
    if (shared !== undefined) publishCounters(counters); // bytes_written
  }

  /**
   * Feeds `c` again once other connections and timers have had a turn: a
   * `stats cachedump` answers a slice per turn (`stats.ts`). A send still
   * pending resumes it through `flushed` instead, as any paused input.
   */
  function resumeLater(c: Conn): void {
    if (c.deferred) return;
    c.deferred = true;
    setTimeout(() => {
      c.deferred = false;
      resume(c);
    }, 0);
  }

  function resume(c: Conn): void {
    if (!c.dead && !c.blocked && c.session.dump !== null) process(c);
  }

  function sent(c: Conn): void {
    counters.bytes_written += mem.sent(c);
  }

  /** Between batches with nothing pending: tidy up, maybe close. */
  function settled(c: Conn): void {
    c.info.lastCmd = clock.now();
    c.info.state = "conn_waiting";
    if (c.start === c.end) {
      c.start = c.end = 0;
      mem.idleInput(c);
    }
    if (c.session.close || c.closing) close(c);
  }

  /** `-c` (and `--single`) counted across every loop, with atomics. */
  function admitShared(): boolean {
    const ctl = shared!.ctl;
    if (stopping || Atomics.load(ctl, CTL.STOP) !== 0) return false;
    const was = Atomics.add(ctl, CTL.CONNS, 1);
    const first = !config.single || Atomics.add(ctl, CTL.SERVED, 1) === 0;
    if (was < config.maxConnections && first) return true;
    Atomics.sub(ctl, CTL.CONNS, 1);
    counters.rejected_connections++;
    publishCounters(counters);
    return false;
  }

  return {
    ctx,
    conns,
    admit() {
      if (shared !== undefined) return admitShared();
      if (!stopping && conns.size < config.maxConnections) return true;
      if (!stopping) counters.rejected_connections++;
      return false;
    },
    open(transport, addr, listenAddr, tls = false, proto = config.protocol) {
      const id = nextId++;
      const now = clock.now();
      const c: Conn = {
        info: { id, addr, listenAddr, state: "conn_waiting", lastCmd: now },
        session: createSession(ctx, id, proto),
        transport,
        inBuf: NO_INPUT, // taken from a pool to read (buffers.ts)
        start: 0,
        end: 0,
        blocked: false,
        closing: false,
        dead: false,
        lastActive: now,
        inCharged: 0,
        want: 0,
        outCharged: 0,
        held: false,
        seg: 0,
        off: 0,
        inflight: 0,
        stage: null,
        clean: 0,
        direct: false,
        deferred: false,
      };
      // Large values go from the pages, held (store holds.ts) in every
      // loop, so many readers of one value share its bytes.
      c.session.out.byRef = true;
      c.session.out.holder = ctx.store;
      c.session.input = (total) => mem.input(c, total);
      c.session.charge = (n) => mem.chargeSink(c, n);
      if (shared !== undefined) c.info.slot = shared.conns.add(c.info);
      if (tls) mem.chargeTls(c);
      conns.add(c);
      ctx.conns.set(id, c.info);
      counters.curr_connections++;
      counters.total_connections++;
      if (shared !== undefined) publishCounters(counters); // per connection
      if (ctx.verbose > 1) console.error(`<${id} ${NEW_CONN[proto]}`);
      served++;
      if (config.single && served === 1) events.stopAccepting();
      return c;
    },
    room(c, direct = false) {
      // Nothing buffered and a large value arriving: read into its item.
      if (direct && c.start === c.end && c.session.sink !== null) {
        const r = sinkRoom(c.session);
        if (r !== null) {
          c.direct = true;
          return r;
        }
      }
      return mem.room(c);
    },
    received(c, n) {
      if (c.dead) return;
      if (c.direct) {
        c.direct = false;
        ctx.tick();
        counters.bytes_read += n;
        c.lastActive = clock.now();
        sinkTook(c.session, n);
        process(c); // sends the reply if that completed the value
        return;
      }
      ctx.tick();
      const from = c.start + c.clean;
      c.end += n;
      counters.bytes_read += n;
      c.lastActive = clock.now();
      // A slow client's partial line: nothing to parse until its newline.
      if (awaitsLine(c.session, c.inBuf, c.start, from, c.end)) {
        c.clean = c.end - c.start;
        return;
      }
      process(c);
    },
    flushed(c) {
      if (c.dead || !c.blocked) return;
      c.blocked = false;
      advance(c);
      if (!sendPieces(c, env)) return;
      sent(c);
      // Input left over from when output was full is parsed now, since no
      // new data may ever arrive to wake us for it.
      if (c.start < c.end && !c.session.close) process(c);
      else settled(c);
    },
    waiting: (c) => c.session.dump !== null,
    resume,
    gone: close,
    listening(name, proto = config.protocol) {
      const id = nextId++;
      const lastCmd = clock.now();
      const info: ConnInfo = {
        id,
        addr: name,
        state: "conn_listening",
        lastCmd,
      };
      if (shared !== undefined) info.slot = shared.conns.add(info);
      ctx.conns.set(id, info);
      // -t N: each loop binds its own socket for an address; memcached has
      // one, so loop 0 alone says so.
      if (ctx.verbose > 1 && (shared === undefined || shared.id === 0)) {
        console.error(`<${id} server listening (${PROTO[proto]})`);
      }
      return id;
    },
    unlisten(id) {
      const slot = ctx.conns.get(id)?.slot;
      if (slot !== undefined && slot >= 0) shared!.conns.remove(slot);
      ctx.conns.delete(id);
    },
    everySecond() {
      mem.everySecond();
      // -t N: `verbosity` sent to another loop (a plain field here: the
      // per-command checks stay a property load).
      if (shared !== undefined) {
        ctx.verbose = Atomics.load(shared.ctl, CTL.VERBOSE);
        publishConns(ctx);
      }
      if (config.idleTimeout <= 0) return;
      const limit = clock.now() - config.idleTimeout;
      for (const c of conns) {
        if (!c.blocked && c.lastActive < limit) {
          counters.idle_kicks++;
          close(c);
        }
      }
    },
    beginStop() {
      stopping = true;
      for (const c of conns) {
        c.closing = true;
        if (!c.blocked) close(c);
      }
    },
    closeAll() {
      for (const c of conns) close(c);
    },
    idle() {
      if (conns.size === 0) return Promise.resolve();
      return new Promise((r) => waiters.push(r));
    },
  };
}
