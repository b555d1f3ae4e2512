/**
 * The portable transport: `Deno.listen`/`Deno.listenTls` listeners and
 * `Deno.Conn`/`Deno.TlsConn` sockets driving the connection core
 * (`core.ts`). Works on every platform with `--allow-net` alone.
 *
 * The accept loop never stalls on a connection reset before it was
 * accepted (Deno reports it as an error of `accept()`): such errors are
 * skipped at once. Only fd exhaustion (EMFILE/ENFILE) backs off, while the
 * open connections keep being served.
 * @module
 */

import { type Conn, type Core, TOO_MANY, type Transport } from "./core.ts";
import type { ListenProto } from "../listen.ts";

/** Back-off after EMFILE/ENFILE, before accepting again. */
const FD_BACKOFF_MS = 50;

/** A listener whose accept loop is running. */
export interface PortableListener {
  /** Stops accepting (idempotent). */
  close(): void;
  /** Resolves when the accept loop has returned. */
  readonly done: Promise<void>;
}

/** True for accept errors that mean "out of file descriptors". */
export function isFdExhaustion(e: unknown): boolean {
  return /os error (23|24)\b|too many open files/i.test(
    (e as Error)?.message ?? "",
  );
}

/**
 * Serves connections accepted from `l` through `core`. `addrOf` names a
 * connection for `stats conns`, `name` the listener itself; `proto` is its
 * `-l proto[...]:` (absent: `-B`'s).
 */
export function servePortable(
  core: Core,
  l: Deno.Listener,
  addrOf: (c: Deno.Conn) => string,
  name: string,
  proto?: ListenProto,
): PortableListener {
  let closed = false;
  const shown = core.listening(name, proto);
  const tasks = new Set<Promise<void>>();
  const tcp = l.addr.transport === "tcp";
  async function loop(): Promise<void> {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (closed || e instanceof Deno.errors.BadResource) return;
        // A reset before accept (NotConnected, ECONNABORTED...) concerns
        // that one connection only: go on at once.
        if (isFdExhaustion(e)) {
          await new Promise((r) => setTimeout(r, FD_BACKOFF_MS));
        }
        continue;
      }
      if (closed) {
        closeQuietly(conn);
        return;
      }
      if (!core.admit()) {
        conn.write(TOO_MANY).catch(() => {}).finally(() => closeQuietly(conn));
        continue;
      }
      if (tcp) {
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          // not a plain TCP socket (TLS sets it on the inner one)
        }
      }
      let addr: string;
      try {
        addr = addrOf(conn);
      } catch {
        closeQuietly(conn); // reset already: no peer address
        continue;
      }
      const t = pump(core, conn, addr, name, proto).finally(() =>
        tasks.delete(t)
      );
      tasks.add(t);
    }
  }
  const done = loop().then(() => Promise.allSettled([...tasks])).then(
    () => {},
  );
  return {
    close() {
      if (closed) return;
      closed = true;
      closeQuietly(l);
      core.unlisten(shown);
    },
    done,
  };
}

/** The socket side of one connection: reads into the core, writes for it. */
async function pump(
  core: Core,
  conn: Deno.Conn,
  addr: string,
  listenAddr: string,
  proto: ListenProto | undefined,
): Promise<void> {
  let pending: Promise<void> | null = null;
  /** Set while the core stopped reads (memory budget spent). */
  let held: Promise<void> | null = null;
  let resume = () => {};
  const transport: Transport = {
    send(buf, len) {
      pending = writeAll(conn, buf, len).then(
        () => core.flushed(c),
        () => core.gone(c),
      );
      return false;
    },
    hold(on) {
      if (on && held === null) held = new Promise((r) => (resume = r));
      else if (!on && held !== null) {
        held = null;
        resume();
      }
    },
    close() {
      conn.close();
      resume(); // a stopped reader ends too
    },
    resumesItself: true,
  };
  // The transport's callbacks only run after open returns.
  const c: Conn = core.open(transport, addr, listenAddr, isTls(conn), proto);
  try {
    while (!c.dead) {
      // A reply is on its way: input waits until it is out (backpressure).
      while (pending !== null) {
        const p: Promise<void> = pending;
        await p;
        if (pending === p) pending = null;
      }
      if (c.dead) break;
      if (held !== null) {
        await held;
        continue;
      }
      if (core.waiting(c)) {
        // A reply answered a turn at a time: its next turn, not a read.
        await new Promise((r) => setTimeout(r, 0));
        core.resume(c);
        continue;
      }
      const room = core.room(c);
      if (room.length === 0) continue; // stopped now: wait for memory
      const n = await conn.read(room);
      if (n === null) break;
      core.received(c, n);
    }
  } catch {
    // Reset, broken pipe, or closed by the server: the client is gone.
  } finally {
    core.gone(c);
  }
}

function isTls(conn: Deno.Conn): boolean {
  return typeof (conn as Partial<Deno.TlsConn>).handshake === "function";
}

async function writeAll(conn: Deno.Conn, b: Uint8Array, len: number) {
  let off = 0;
  while (off < len) {
    off += await conn.write(
      off === 0 && len === b.length ? b : b.subarray(off, len),
    );
  }
}

/** Closes `r`, ignoring "already closed". */
export function closeQuietly(r: { close(): void }): void {
  try {
    r.close();
  } catch {
    // already closed
  }
}
