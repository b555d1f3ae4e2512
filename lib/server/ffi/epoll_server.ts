/**
 * The epoll event loop: level-triggered, non-blocking sockets driven through
 * synchronous libc calls (see `libc.ts`), so a request costs one `recv` and
 * one `send` with no promise in between. It runs on the main thread: while
 * events keep coming it polls with a synchronous `epoll_wait(…, 0)`; when
 * there are none, or every {@link YIELD_MS} under load, it awaits a
 * *nonblocking* `epoll_wait` (run by Deno on a helper thread), which lets
 * Deno's event loop handle signals meanwhile. (A Worker would need
 * `--allow-read` for its modules and breaks `deno bundle`.)
 *
 * Same behaviour as the portable backend (`../server.ts`, `../connection.ts`):
 * one `send` per batch of replies; a client whose replies cannot be sent
 * (EAGAIN) is not read again until they are (the fd waits for EPOLLOUT
 * only); connection limit, idle timeout, `--single`, the once-a-second
 * clock tick and expiry sweep (inside this loop, off any timer queue), and
 * graceful stop: stop accepting, flush pending replies, close, within 1 s.
 * @module
 */

import { createContext } from "../context.ts";
import type { ServerHooks } from "../server.ts";
import type { Config } from "../../config.ts";
import type { ConnInfo, Context } from "../../protocol/context.ts";
import { shrink } from "../../protocol/outbuf.ts";
import { createSession, feed, type Session } from "../../protocol/session.ts";
import { C, type Libc } from "./libc.ts";
import {
  listenTcp,
  listenUnix,
  peerName,
  SOCKADDR_SIZE,
  unlinkPath,
} from "./sockets.ts";

const TOO_MANY = new TextEncoder().encode(
  "ERROR Too many open connections\r\n",
);
/** Items the sweep looks at per second (as the portable server). */
const SWEEP_BUDGET = 20_000;
const INITIAL = 16 * 1024;
/** Input buffers larger than this are released when they empty. */
const KEEP = 256 * 1024;
const MAX_EVENTS = 256;
/** Longest wait in epoll_wait: bounds how late a stop request is noticed. */
const WAIT_MS = 50;
/** Under load, give Deno's event loop (signals) a turn at least this often. */
const YIELD_MS = 5;
/** How long the main thread may block in a synchronous epoll_wait. */
const SPIN_MS = 1;
/** How long a graceful stop waits for pending replies. */
const STOP_GRACE_MS = 1000;

/** One client connection. */
interface Conn {
  fd: number;
  info: ConnInfo;
  session: Session;
  inBuf: Uint8Array;
  start: number;
  end: number;
  /** Bytes of `session.out` already sent. */
  sent: number;
  /** Waiting for EPOLLOUT with unsent replies; input is not read meanwhile. */
  blocked: boolean;
  /** The server is stopping: close once the pending replies are out. */
  closing: boolean;
  dead: boolean;
  /** Unix seconds (server clock) of the last bytes received. */
  lastActive: number;
}

/** A running epoll server. */
export interface EpollLoop {
  /** Bound TCP port (0 when only a unix socket is served). */
  readonly port: number;
  /** Shared state, for in-process inspection. */
  readonly ctx: Context;
  /** Stops accepting, lets replies in flight go out, closes everything. */
  close(): Promise<void>;
  /** Resolves once stopped (close, `shutdown` command, `--single`). */
  readonly finished: Promise<void>;
}

/**
 * Binds the listeners from `config` (throws if that fails), then serves
 * until a stop is requested: `close()`, the `shutdown` command, or the
 * `--single` client leaving.
 */
export function startEpollLoop(
  libc: Libc,
  config: Config,
  hooks: ServerHooks = {},
): EpollLoop {
  const s = libc.sym;
  let stopRequested = false;
  const ctx = createContext(config, () => {
    stopRequested = true; // acted on between batches, never inside feed
  });
  const { store, clock } = ctx;
  const counters = ctx.counters;
  hooks.beforeListen?.(ctx);

  const ep = s.epoll_create1(C.EPOLL_CLOEXEC);
  if (ep < 0) throw new Error(`epoll_create1: ${libc.strerror(libc.errno())}`);
  const ev = new Uint8Array(libc.eventSize);
  const evView = new DataView(ev.buffer);
  function ctl(op: number, fd: number, events: number): void {
    evView.setUint32(0, events, true);
    evView.setInt32(libc.dataOffset, fd, true);
    s.epoll_ctl(ep, op, fd, ev);
  }

  /** Listening fds → "unix" or "tcp". */
  const listeners = new Map<number, boolean>();
  let port = 0;
  try {
    if (config.port >= 0) {
      const l = listenTcp(libc, config.listen, config.port);
      listeners.set(l.fd, false);
      port = l.port;
      config.port = port; // `stats settings` reports the bound port
    }
    if (config.unixSocket) {
      listeners.set(
        listenUnix(libc, config.unixSocket, config.unixMask),
        true,
      );
    }
  } catch (e) {
    for (const fd of listeners.keys()) s.close(fd);
    s.close(ep);
    throw e;
  }
  for (const fd of listeners.keys()) ctl(C.EPOLL_CTL_ADD, fd, C.EPOLLIN);

  const conns: (Conn | undefined)[] = [];
  let open = 0;
  let nextId = 1;
  let served = 0;
  let stopping = false;
  let stopDeadline = 0;
  /** Listeners taken out of epoll after EMFILE; re-armed next second. */
  let acceptPaused = false;
  const addr = new Uint8Array(SOCKADDR_SIZE);
  const addrLen = new Uint8Array(4);
  const addrLenView = new DataView(addrLen.buffer);

  function closeListeners(): void {
    for (const fd of listeners.keys()) s.close(fd);
    listeners.clear();
  }

  function closeConn(c: Conn): void {
    if (c.dead) return;
    c.dead = true;
    s.close(c.fd); // also removes it from the epoll set
    conns[c.fd] = undefined;
    open--;
    ctx.conns.delete(c.info.id);
    counters.curr_connections--;
    if (ctx.verbose > 0) console.error(`<${c.info.id} connection closed.`);
    if (config.single && !stopping) stopRequested = true;
  }

  /** Sends pending replies; false if they could not all go (or c died). */
  function flush(c: Conn): boolean {
    const out = c.session.out;
    while (c.sent < out.len) {
      const left = out.len - c.sent;
      const r = s.send(
        c.fd,
        c.sent === 0 ? out.buf : out.buf.subarray(c.sent),
        left,
        C.MSG_NOSIGNAL,
      );
      if (r > 0) {
        c.sent += r;
        if (r < left) break; // socket buffer full: EAGAIN would follow
        continue;
      }
      const e = r < 0 ? libc.errno() : 0;
      if (e === C.EINTR) continue;
      if (e === C.EAGAIN) break;
      closeConn(c); // EPIPE, ECONNRESET…: the client is gone
      return false;
    }
    if (c.sent < out.len) {
      if (!c.blocked) {
        c.blocked = true;
        c.info.state = "conn_mwrite";
        ctl(C.EPOLL_CTL_MOD, c.fd, C.EPOLLOUT);
      }
      return false;
    }
    counters.bytes_written += out.len;
    out.len = 0;
    c.sent = 0;
    shrink(out);
    if (c.blocked) {
      c.blocked = false;
      ctl(C.EPOLL_CTL_MOD, c.fd, C.EPOLLIN);
    }
    return true;
  }

  /** Runs buffered input through the protocol, sending after each batch. */
  function process(c: Conn): void {
    const sess = c.session;
    c.info.state = "conn_parse_cmd";
    for (;;) {
      const used = feed(sess, c.inBuf, c.start, c.end);
      c.start += used;
      if (sess.out.len > 0 && !flush(c)) return; // blocked or dead
      if (used === 0 || c.start === c.end || sess.close) break;
      counters.conn_yields++;
    }
    c.info.lastCmd = clock.now();
    c.info.state = "conn_waiting";
    if (c.start === c.end) {
      c.start = c.end = 0;
      if (c.inBuf.length > KEEP) c.inBuf = new Uint8Array(INITIAL);
    }
    if (sess.close || c.closing) closeConn(c);
  }

  function onReadable(c: Conn): void {
    if (c.end === c.inBuf.length) {
      if (c.start > 0) {
        c.inBuf.copyWithin(0, c.start, c.end);
        c.end -= c.start;
        c.start = 0;
      } else {
        const nb = new Uint8Array(c.inBuf.length * 2);
        nb.set(c.inBuf);
        c.inBuf = nb;
      }
    }
    const room = c.inBuf.length - c.end;
    const n = s.recv(
      c.fd,
      c.end === 0 ? c.inBuf : c.inBuf.subarray(c.end),
      room,
      0,
    );
    if (n > 0) {
      c.end += n;
      counters.bytes_read += n;
      c.lastActive = clock.now();
      process(c);
      return;
    }
    if (n < 0) {
      const e = libc.errno();
      if (e === C.EAGAIN || e === C.EINTR) return;
    }
    closeConn(c); // EOF or reset
  }

  function onWritable(c: Conn): void {
    if (!flush(c)) return;
    // Drained: input left over from when output was full is parsed now,
    // since no new data may ever arrive to wake us for it.
    if (c.start < c.end) process(c);
    else {
      c.info.state = "conn_waiting";
      if (c.session.close || c.closing) closeConn(c);
    }
  }

  function acceptAll(lfd: number, unix: boolean): void {
    for (let k = 0; k < 64 && listeners.has(lfd); k++) {
      addrLenView.setUint32(0, SOCKADDR_SIZE, true);
      const fd = s.accept4(
        lfd,
        addr,
        addrLen,
        C.SOCK_NONBLOCK | C.SOCK_CLOEXEC,
      );
      if (fd < 0) {
        const e = libc.errno();
        if (e === C.EINTR) continue;
        if (e === C.EMFILE || e === C.ENFILE) {
          // Out of fds: stop polling listeners for a second, don't spin.
          for (const l of listeners.keys()) ctl(C.EPOLL_CTL_DEL, l, 0);
          acceptPaused = true;
        }
        return;
      }
      if (open >= config.maxConnections) {
        counters.rejected_connections++;
        s.send(fd, TOO_MANY, TOO_MANY.length, C.MSG_NOSIGNAL);
        s.close(fd);
        continue;
      }
      if (!unix) {
        s.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, ONE, 4);
      }
      const id = nextId++;
      const now = clock.now();
      const c: Conn = {
        fd,
        info: {
          id,
          addr: unix ? `unix:${config.unixSocket}` : `tcp:${peerName(addr)}`,
          state: "conn_waiting",
          lastCmd: now,
        },
        session: createSession(ctx, id),
        inBuf: new Uint8Array(INITIAL),
        start: 0,
        end: 0,
        sent: 0,
        blocked: false,
        closing: false,
        dead: false,
        lastActive: now,
      };
      conns[fd] = c;
      open++;
      ctx.conns.set(id, c.info);
      counters.curr_connections++;
      counters.total_connections++;
      if (ctx.verbose > 0) console.error(`<${id} new client connection`);
      ctl(C.EPOLL_CTL_ADD, fd, C.EPOLLIN);
      served++;
      if (config.single && served === 1) {
        closeListeners();
        return;
      }
    }
  }

  function everySecond(): void {
    ctx.tick();
    store.sweep(SWEEP_BUDGET);
    if (acceptPaused && !stopping) {
      acceptPaused = false;
      for (const l of listeners.keys()) ctl(C.EPOLL_CTL_ADD, l, C.EPOLLIN);
    }
    if (config.idleTimeout > 0) {
      const limit = clock.now() - config.idleTimeout;
      for (const c of conns) {
        if (c && !c.blocked && c.lastActive < limit) {
          counters.idle_kicks++;
          closeConn(c);
        }
      }
    }
  }

  function beginStop(now: number): void {
    stopping = true;
    stopDeadline = now + STOP_GRACE_MS;
    hooks.onDrain?.(ctx);
    closeListeners();
    for (const c of conns) {
      if (!c) continue;
      c.closing = true;
      // Between batches a connection holds replies only if it is blocked.
      if (!c.blocked) closeConn(c);
    }
  }

  const events = new Uint8Array(MAX_EVENTS * libc.eventSize);
  const evs = new DataView(events.buffer);
  const stride = libc.eventSize;
  const dataOff = libc.dataOffset;

  async function loop(): Promise<void> {
    let nextSecond = Date.now() + 1000;
    let lastYield = Date.now();
    for (;;) {
      let now = Date.now();
      if (!stopping && stopRequested) beginStop(now);
      if (stopping && (open === 0 || now >= stopDeadline)) break;
      let n = 0;
      if (now - lastYield < YIELD_MS) {
        n = s.epoll_wait(ep, events, MAX_EVENTS, 0);
        // Caught up: the next request usually comes within microseconds, so
        // block briefly here rather than pay a thread hand-off for it.
        if (n === 0) n = s.epoll_wait(ep, events, MAX_EVENTS, SPIN_MS);
      }
      if (n === 0) {
        // Nothing ready (or our turn is up): wait off-thread, so signal
        // handlers and close() callers run meanwhile.
        n = await libc.epollWaitAsync(
          ep,
          events,
          MAX_EVENTS,
          stopping ? 10 : WAIT_MS,
        );
        lastYield = Date.now();
        if (!stopping && stopRequested) beginStop(lastYield);
      }
      ctx.tick(); // once per batch, as the portable server per read
      for (let i = 0; i < n; i++) {
        const flags = evs.getUint32(i * stride, true);
        const fd = evs.getInt32(i * stride + dataOff, true);
        const c = conns[fd];
        if (c !== undefined) {
          if (c.blocked) onWritable(c);
          else if (flags & (C.EPOLLIN | C.EPOLLERR | C.EPOLLHUP)) {
            onReadable(c);
          }
        } else {
          const unix = listeners.get(fd);
          if (unix !== undefined) acceptAll(fd, unix);
        }
      }
      now = Date.now();
      if (now >= nextSecond) {
        nextSecond = now + 1000;
        everySecond();
      }
    }
    for (const c of conns) if (c) closeConn(c);
    closeListeners();
    s.close(ep);
    if (config.unixSocket) unlinkPath(libc, config.unixSocket);
  }

  const finished = loop().then(async () => {
    if (!hooks.onClose) return;
    try {
      await hooks.onClose(ctx);
    } catch (e) {
      console.error(`denocached: ${(e as Error).message}`);
    }
  });
  return {
    port,
    ctx,
    close() {
      stopRequested = true;
      return finished;
    },
    finished,
  };
}

const ONE = new Uint8Array([1, 0, 0, 0]);
