/**
 * The epoll transport: level-triggered, non-blocking sockets driven through
 * synchronous libc calls (see `libc.ts`), so a request costs one `recv` and
 * one `send` with no promise in between. Everything above the bytes (input
 * buffers, parsing, limits, idle kicks, stop) is the connection core's
 * (`../core.ts`).
 *
 * It runs on the main thread (and, with `-t N`, in each Worker): while
 * events keep coming it waits in a synchronous `epoll_wait` of at most
 * {@link SPIN_MS} ms (a Worker's: `blockMs`); when none came, or every
 * {@link YIELD_MS} under load, it awaits a *nonblocking* `epoll_wait` (run
 * by Deno on a helper thread), which lets Deno's event loop run timers,
 * signal handlers and the portable transport (TLS) meanwhile.
 * @module
 */

import type { Config } from "../../config.ts";
import { type Conn, type Core, TOO_MANY, type Transport } from "../core.ts";
import { C, type Libc } from "./libc.ts";
import { hostPort, type ListenAddr, type ListenProto } from "../../listen.ts";
import {
  EPOLLEXCLUSIVE,
  listenTcp,
  listenUnix,
  peerName,
  SOCKADDR_SIZE,
  unlinkPath,
} from "./sockets.ts";

const MAX_EVENTS = 256;
/** Under load, give Deno's event loop a turn at least this often. */
const YIELD_MS = 5;
/** How long the main thread may block in a synchronous epoll_wait. */
const SPIN_MS = 1;
/** Accepts per listener per wake-up, so a connect flood cannot starve clients. */
const ACCEPT_BATCH = 64;

/** A running epoll transport. */
export interface EpollTransport {
  /** Bound TCP port of each of the `tcp` addresses, in order. */
  readonly ports: number[];
  /** Stops accepting (idempotent). */
  closeListeners(): void;
  /** Ends the loop once every connection is closed by the core. */
  stop(): void;
  /** Resolves when the loop has ended and its fds are closed. */
  readonly done: Promise<void>;
}

/** How one loop of `-t N` shares the listening sockets with the others. */
export interface EpollShare {
  /** Bind each TCP listener with SO_REUSEPORT (one socket per loop). */
  reusePort: boolean;
  /**
   * The unix socket's listening fd, opened once by the main thread: watched
   * with EPOLLEXCLUSIVE, never closed or unlinked here (null = none).
   */
  unixFd: number | null;
  /**
   * How long the loop may block in a synchronous `epoll_wait` before it
   * waits off-thread (default {@link SPIN_MS}). A `-t N` loop's Worker has
   * nothing else to run but a once-a-second tick and a stop message, so it
   * blocks longer and saves the thread hand-off that an idle-then-busy loop
   * pays per wake-up.
   */
  blockMs?: number;
}

/** Per-socket state of the transport. */
interface Sock {
  fd: number;
  conn: Conn | null;
  /** Pending send: `buf[sent, len)` still to go. */
  buf: Uint8Array | null;
  len: number;
  sent: number;
  /** Reads stopped by the core (memory budget spent). */
  held: boolean;
}

/**
 * Binds the plain TCP listeners `tcp` and the unix socket of `config`, and
 * serves them through `core`. Throws if binding fails.
 */
export function serveEpoll(
  core: Core,
  libc: Libc,
  config: Config,
  tcp: readonly ListenAddr[],
  share: EpollShare | null = null,
): EpollTransport {
  const s = libc.sym;
  const ep = s.epoll_create1(C.EPOLL_CLOEXEC);
  if (ep < 0) throw new Error(`epoll_create1: ${libc.strerror(libc.errno())}`);
  // stop() writes here to end an off-thread wait, which otherwise lasts
  // until the next event: an idle loop that woke every few milliseconds
  // would get V8 to optimise it, ~3 MB of an idle server's RSS (issue #14).
  const wake = s.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
  if (wake < 0) {
    const why = libc.strerror(libc.errno());
    s.close(ep);
    throw new Error(`eventfd: ${why}`);
  }
  const ev = new Uint8Array(libc.eventSize);
  const evView = new DataView(ev.buffer);
  function ctl(op: number, fd: number, events: number): void {
    evView.setUint32(0, events, true);
    evView.setInt32(libc.dataOffset, fd, true);
    s.epoll_ctl(ep, op, fd, ev);
  }

  function shared(fd: number): boolean {
    return share !== null && fd === share.unixFd;
  }
  /** Listening fds → their `stats conns` name (`tcp:…` or `unix:…`). */
  const listeners = new Map<number, string>();
  /** The `-l proto[...]:` of each listening fd that has one. */
  const protoOf = new Map<number, ListenProto>();
  const ports: number[] = [];
  try {
    for (const a of tcp) {
      const l = a.fd !== undefined
        ? { fd: a.fd, port: a.port }
        : listenTcp(libc, a.host, a.port, { reusePort: share?.reusePort });
      listeners.set(l.fd, `tcp:${hostPort(a.host, l.port)}`);
      if (a.proto !== undefined) protoOf.set(l.fd, a.proto);
      ports.push(l.port);
    }
    if (share !== null && share.unixFd !== null) {
      listeners.set(share.unixFd, `unix:${config.unixSocket}`);
    } else if (config.unixSocket) {
      listeners.set(
        listenUnix(libc, config.unixSocket, config.unixMask),
        `unix:${config.unixSocket}`,
      );
    }
  } catch (e) {
    for (const fd of listeners.keys()) if (!shared(fd)) s.close(fd);
    s.close(wake);
    s.close(ep);
    throw e;
  }
  /** Listen flags: a fd other loops watch too wakes one loop per event. */
  const watch = (fd: number) =>
    shared(fd) ? C.EPOLLIN | EPOLLEXCLUSIVE : C.EPOLLIN;
  const shown: number[] = [];
  ctl(C.EPOLL_CTL_ADD, wake, C.EPOLLIN);
  for (const [fd, name] of listeners) {
    ctl(C.EPOLL_CTL_ADD, fd, watch(fd));
    shown.push(core.listening(name, protoOf.get(fd)));
  }

  const socks: (Sock | undefined)[] = [];
  let stopped = false;
  /** Listeners taken out of epoll after EMFILE; re-armed a moment later. */
  let acceptPausedUntil = 0;
  const addr = new Uint8Array(SOCKADDR_SIZE);
  const addrLen = new Uint8Array(4);
  const addrLenView = new DataView(addrLen.buffer);

  function closeListeners(): void {
    for (const fd of listeners.keys()) {
      // The shared unix fd is the main thread's: only stop watching it.
      if (shared(fd)) ctl(C.EPOLL_CTL_DEL, fd, 0);
      else s.close(fd);
    }
    listeners.clear();
    for (const id of shown.splice(0)) core.unlisten(id);
  }

  /** Writes as much of the pending reply as the socket takes. */
  function push(k: Sock): boolean {
    const buf = k.buf!;
    while (k.sent < k.len) {
      const left = k.len - k.sent;
      const r = s.send(
        k.fd,
        k.sent === 0 ? buf : buf.subarray(k.sent),
        left,
        C.MSG_NOSIGNAL,
      );
      if (r > 0) {
        k.sent += r;
        if (r < left) return false; // socket buffer full: EAGAIN would follow
        continue;
      }
      const e = r < 0 ? libc.errno() : 0;
      if (e === C.EINTR) continue;
      if (e === C.EAGAIN) return false;
      core.gone(k.conn!); // EPIPE, ECONNRESET…: the client is gone
      return false;
    }
    return true;
  }

  function transportFor(k: Sock): Transport {
    return {
      send(buf, len) {
        k.buf = buf;
        k.len = len;
        k.sent = 0;
        if (push(k)) {
          k.buf = null;
          return true;
        }
        // Wait for EPOLLOUT only: input is not read meanwhile.
        if (socks[k.fd] === k) ctl(C.EPOLL_CTL_MOD, k.fd, C.EPOLLOUT);
        return false;
      },
      sendNow(buf, len) {
        let off = 0;
        while (off < len) {
          const r = s.send(
            k.fd,
            off === 0 ? buf : buf.subarray(off),
            len - off,
            C.MSG_NOSIGNAL,
          );
          if (r > 0) {
            off += r;
            continue;
          }
          const e = r < 0 ? libc.errno() : 0;
          if (e === C.EINTR) continue;
          if (e !== C.EAGAIN) core.gone(k.conn!); // the client is gone
          break;
        }
        return off;
      },
      awaitWritable() {
        // An empty pending send: onWritable finds it done and reports.
        k.buf = NOTHING;
        k.len = k.sent = 0;
        if (socks[k.fd] === k) ctl(C.EPOLL_CTL_MOD, k.fd, C.EPOLLOUT);
      },
      hold(on) {
        k.held = on;
        // While a send is pending only EPOLLOUT is watched; onWritable
        // restores the right mask.
        if (socks[k.fd] === k && k.buf === null) {
          ctl(C.EPOLL_CTL_MOD, k.fd, on ? 0 : C.EPOLLIN);
        }
      },
      close() {
        if (socks[k.fd] !== k) return;
        socks[k.fd] = undefined;
        s.close(k.fd); // also removes it from the epoll set
      },
    };
  }

  function onReadable(k: Sock, flags: number): void {
    const c = k.conn!;
    const room = core.room(c, true); // recv completes here: direct is safe
    if (room.length === 0) {
      // Reads stopped (budget spent): only a dead peer is acted on.
      if (flags & (C.EPOLLERR | C.EPOLLHUP)) core.gone(c);
      return;
    }
    const n = s.recv(k.fd, room, room.length, 0);
    if (n > 0) return core.received(c, n);
    if (n < 0) {
      const e = libc.errno();
      if (e === C.EAGAIN || e === C.EINTR) return;
    }
    core.gone(c); // EOF or reset
  }

  function onWritable(k: Sock): void {
    if (!push(k) || socks[k.fd] !== k) return;
    k.buf = null;
    ctl(C.EPOLL_CTL_MOD, k.fd, k.held ? 0 : C.EPOLLIN);
    core.flushed(k.conn!);
  }

  function acceptAll(lfd: number, name: string): void {
    const unix = name.startsWith("unix:");
    for (let i = 0; i < ACCEPT_BATCH && listeners.has(lfd); i++) {
      addrLenView.setUint32(0, SOCKADDR_SIZE, true);
      const fd = s.accept4(
        lfd,
        addr,
        addrLen,
        C.SOCK_NONBLOCK | C.SOCK_CLOEXEC,
      );
      if (fd < 0) {
        const e = libc.errno();
        // A connection reset before accept: skip it, take the next.
        if (e === C.EINTR || e === C.ECONNABORTED || e === C.EPROTO) continue;
        if (e === C.EMFILE || e === C.ENFILE) {
          // Out of fds: stop polling listeners briefly, don't spin; open
          // connections keep being served meanwhile.
          for (const l of listeners.keys()) ctl(C.EPOLL_CTL_DEL, l, 0);
          acceptPausedUntil = Date.now() + 50;
        }
        return;
      }
      if (!core.admit()) {
        s.send(fd, TOO_MANY, TOO_MANY.length, C.MSG_NOSIGNAL);
        s.close(fd);
        continue;
      }
      if (!unix) s.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, ONE, 4);
      const k: Sock = {
        fd,
        conn: null,
        buf: null,
        len: 0,
        sent: 0,
        held: false,
      };
      socks[fd] = k;
      ctl(C.EPOLL_CTL_ADD, fd, C.EPOLLIN);
      k.conn = core.open(
        transportFor(k),
        unix ? `unix:${config.unixSocket}` : `tcp:${peerName(addr)}`,
        name,
        false,
        protoOf.get(lfd),
      );
    }
  }

  const events = new Uint8Array(MAX_EVENTS * libc.eventSize);
  const evs = new DataView(events.buffer);
  const stride = libc.eventSize;
  const dataOff = libc.dataOffset;

  const blockMs = share?.blockMs ?? SPIN_MS;
  const yieldMs = Math.max(YIELD_MS, blockMs);

  async function loop(): Promise<void> {
    let lastYield = Date.now();
    while (!stopped) {
      let n = 0;
      if (Date.now() - lastYield < yieldMs) {
        // One call whether or not events are ready: it returns at once if
        // they are, and when caught up the next request usually comes
        // within microseconds, so it blocks briefly here rather than pay a
        // thread hand-off for it (a poll with timeout 0 first cost a second
        // syscall on every wake-up that found nothing).
        n = s.epoll_wait(ep, events, MAX_EVENTS, blockMs);
      }
      if (n === 0) {
        // Nothing ready (or our turn is up): wait off-thread, so timers,
        // signal handlers and close() callers run meanwhile.
        const wait = acceptPausedUntil > 0
          ? Math.max(1, acceptPausedUntil - Date.now())
          : -1;
        n = await libc.epollWaitAsync(ep, events, MAX_EVENTS, wait);
        lastYield = Date.now();
        if (stopped) break;
      }
      core.ctx.tick(); // once per batch
      for (let i = 0; i < n; i++) {
        const flags = evs.getUint32(i * stride, true);
        const fd = evs.getInt32(i * stride + dataOff, true);
        const k = socks[fd];
        if (k !== undefined) {
          if (k.buf !== null) onWritable(k);
          else if (flags & (C.EPOLLIN | C.EPOLLERR | C.EPOLLHUP)) {
            onReadable(k, flags);
          }
        } else {
          const name = listeners.get(fd);
          if (name !== undefined) acceptAll(fd, name);
        }
      }
      if (acceptPausedUntil > 0 && Date.now() >= acceptPausedUntil) {
        acceptPausedUntil = 0;
        for (const l of listeners.keys()) ctl(C.EPOLL_CTL_ADD, l, watch(l));
      }
    }
    for (const k of socks) if (k?.conn) core.gone(k.conn);
    closeListeners();
    s.close(wake);
    s.close(ep);
    if (config.unixSocket && share === null) {
      unlinkPath(libc, config.unixSocket);
    }
  }

  const done = loop();
  return {
    ports,
    closeListeners,
    stop() {
      if (stopped) return;
      stopped = true;
      s.write(wake, WAKE, 8);
    },
    done,
  };
}

const ONE = new Uint8Array([1, 0, 0, 0]);
/** An eventfd increment of 1 (8 bytes, native order: 1 is 1 either way). */
const WAKE = new Uint8Array(new BigUint64Array([1n]).buffer);
const NOTHING = new Uint8Array(0);
