/**
 * The server: listeners, the accept loop, connection limits, idle timeouts,
 * the background expiry sweep and graceful shutdown.
 * @module
 */

import { createContext } from "./context.ts";
import type { Config } from "../config.ts";
import type { Context } from "../protocol/context.ts";
import { createSession } from "../protocol/session.ts";
import { listenTls } from "../tls.ts";
import { type Client, serveClient } from "./connection.ts";

const TOO_MANY = new TextEncoder().encode(
  "ERROR Too many open connections\r\n",
);
/** Items the sweep looks at per tick; small so the loop is never held long. */
const SWEEP_BUDGET = 20_000;

/** A running server. */
export interface Server {
  /** Bound TCP port (0 when only a unix socket is served). */
  readonly port: number;
  /** Bound TCP address. */
  readonly hostname: string;
  /** Shared state, for in-process inspection. */
  readonly ctx: Context;
  /** Stops accepting, lets replies in flight go out, closes everything. */
  close(): Promise<void>;
  /** Resolves once the server has fully stopped (shutdown command, --single). */
  readonly finished: Promise<void>;
  /** Port of the TLS listener (the main port with `-Z` alone); 0 = no TLS. */
  readonly tlsPort: number;
}

/** Optional steps run at fixed points of the server's life (e.g. snapshots). */
export interface ServerHooks {
  /** Runs once the store exists, before any listener opens (load a snapshot). */
  beforeListen?(ctx: Context): void;
  /** Runs when a graceful stop begins, before the listeners close. */
  onDrain?(ctx: Context): void;
  /** Runs during close, after every client is gone (write a final snapshot). */
  onClose?(ctx: Context): Promise<void>;
}

/** Starts listening according to `config`. */
export function startServer(config: Config, hooks: ServerHooks = {}): Server {
  const clients = new Set<Client>();
  const tasks = new Set<Promise<void>>();
  let stopping: Promise<void> | null = null;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  const ctx = createContext(config, () => {
    void close();
  });
  const { store, clock, tick } = ctx;
  hooks.beforeListen?.(ctx);

  const listeners: Deno.Listener[] = [];
  let port = 0;
  let tlsPort = 0;
  const tls = config.tls;
  if (config.port >= 0) {
    // `-Z` alone makes the main port TLS, as in memcached.
    const l = tls !== null && tls.port === null
      ? listenTls(config.listen, config.port, tls)
      : Deno.listen({ hostname: config.listen, port: config.port });
    listeners.push(l);
    port = (l.addr as Deno.NetAddr).port;
    config.port = port; // `stats settings` reports the bound port
    if (tls !== null && tls.port === null) tlsPort = port;
  }
  if (tls !== null && tls.port !== null) {
    try {
      const l = listenTls(config.listen, tls.port, tls);
      listeners.push(l);
      tlsPort = (l.addr as Deno.NetAddr).port;
    } catch (e) {
      for (const l of listeners) closeQuietly(l);
      throw e;
    }
  }
  if (config.unixSocket) {
    const path = config.unixSocket;
    try {
      // Like memcached: replace a stale socket, but never delete a file
      // that is not one (a typo in -s must not remove someone's data).
      if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
    } catch {
      // nothing there
    }
    try {
      const l = Deno.listen({ transport: "unix", path });
      listeners.push(l);
      Deno.chmodSync(path, config.unixMask);
    } catch (e) {
      for (const l of listeners) closeQuietly(l);
      throw e;
    }
  }

  let nextId = 1;
  let served = 0;
  const timers: ReturnType<typeof setInterval>[] = [];
  timers.push(setInterval(() => {
    tick();
    store.sweep(SWEEP_BUDGET);
    if (config.idleTimeout > 0) {
      const limit = clock.now() - config.idleTimeout;
      for (const c of clients) {
        if (c.idle && c.lastActive < limit) {
          ctx.counters.idle_kicks++;
          closeQuietly(c.conn);
        }
      }
    }
  }, 1000));

  async function acceptLoop(l: Deno.Listener) {
    const unix = l.addr.transport === "unix";
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (stopping || e instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: back off instead of spinning or dying.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (stopping) {
        closeQuietly(conn);
        return;
      }
      const counters = ctx.counters;
      if (clients.size >= config.maxConnections) {
        counters.rejected_connections++;
        conn.write(TOO_MANY).catch(() => {}).finally(() => closeQuietly(conn));
        continue;
      }
      if (!unix) {
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          // not a TCP socket
        }
      }
      const id = nextId++;
      const ra = conn.remoteAddr;
      const addr = ra.transport === "unix"
        ? `unix:${config.unixSocket}`
        : `tcp:${(ra as Deno.NetAddr).hostname}:${(ra as Deno.NetAddr).port}`;
      const client: Client = {
        info: { id, addr, state: "conn_new_cmd", lastCmd: clock.now() },
        conn,
        session: createSession(ctx, id),
        idle: false,
        closing: false,
        lastActive: clock.now(),
      };
      clients.add(client);
      ctx.conns.set(id, client.info);
      counters.curr_connections++;
      counters.total_connections++;
      if (ctx.verbose > 0) console.error(`<${id} new client connection`);
      const task = serveClient(client, ctx).finally(() => {
        clients.delete(client);
        ctx.conns.delete(id);
        ctx.counters.curr_connections--;
        tasks.delete(task);
        if (ctx.verbose > 0) console.error(`<${id} connection closed.`);
        if (config.single && !stopping) void close();
      });
      tasks.add(task);
      served++;
      if (config.single && served === 1) {
        for (const other of listeners) closeQuietly(other);
        return;
      }
    }
  }

  const loops = listeners.map(acceptLoop);

  function close(): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      hooks.onDrain?.(ctx);
      for (const l of listeners) closeQuietly(l);
      for (const t of timers) clearInterval(t);
      for (const c of clients) {
        c.closing = true;
        // Idle readers hold no replies: close them now. Busy ones close
        // themselves once their pending replies are written.
        if (c.idle) closeQuietly(c.conn);
      }
      const deadline = new Promise<void>((r) => {
        const id = setTimeout(r, 1000);
        Promise.all([...tasks]).then(() => {
          clearTimeout(id);
          r();
        });
      });
      await deadline;
      for (const c of clients) closeQuietly(c.conn);
      await Promise.allSettled([...tasks, ...loops]);
      if (hooks.onClose) {
        try {
          await hooks.onClose(ctx);
        } catch (e) {
          console.error(`denocached: ${(e as Error).message}`);
        }
      }
      if (config.unixSocket) {
        try {
          Deno.removeSync(config.unixSocket);
        } catch {
          // gone already
        }
      }
      resolveFinished();
    })();
    return stopping;
  }

  return {
    port,
    hostname: config.listen,
    ctx,
    close,
    finished,
    tlsPort,
  };
}

function closeQuietly(r: { close(): void }): void {
  try {
    r.close();
  } catch {
    // already closed
  }
}
