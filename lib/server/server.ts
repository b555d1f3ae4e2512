/**
 * The server: one connection core (`core.ts`) fed by one or two transports
 * — epoll (`ffi/epoll.ts`, `--io=epoll`) for plain TCP and the unix socket,
 * and the portable one (`portable.ts`) for everything else, TLS included —
 * plus the once-a-second tick (clock, expiry sweep, idle kicks) and
 * graceful shutdown. Whichever transports serve, the same {@link Server}
 * comes back.
 * @module
 */

import { createContext } from "./context.ts";
import type { Config } from "../config.ts";
import type { Context } from "../protocol/context.ts";
import { listenTls } from "../tls.ts";
import { createCore, drainCore } from "./core.ts";
import { fitTask, sweepTask } from "../protocol/admin.ts";
import {
  closeQuietly,
  type PortableListener,
  servePortable,
} from "./portable.ts";
import { type EpollTransport, serveEpoll } from "./ffi/epoll.ts";
import {
  hostPort,
  type ListenAddr,
  type ListenProto,
  parseListen,
} from "../listen.ts";
import {
  type ClusterOptions,
  clusterUnavailable,
  startCluster,
} from "./cluster.ts";
import {
  EpollUnavailable,
  epollUnavailableReason,
  openEpollLibc,
} from "./ffi/backend.ts";

/** Chunks the sweep looks at per tick, in slices (see `lib/slices.ts`). */
const SWEEP_BUDGET = 20_000;

export { EpollUnavailable };

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
  /** The transport serving plain TCP and the unix socket. */
  readonly io: "portable" | "epoll";
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

/**
 * The transport `config.io` means here: "auto" is epoll where it can run
 * (Linux x86_64/aarch64, `--allow-ffi` granted, a numeric `-l` address or
 * localhost), else portable.
 */
export function resolveIo(config: Config): "portable" | "epoll" {
  if (config.io !== "auto") return config.io;
  return autoFallbackReason(config) === null ? "epoll" : "portable";
}

/** Why "auto" does not pick epoll here, or null when it does. */
export function autoFallbackReason(config: Config): string | null {
  const why = epollUnavailableReason();
  if (why) return `epoll ${why}`;
  const list = config.port >= 0 ? parseListen(config.listen, 0) : [];
  for (const { host } of typeof list === "string" ? [] : list) {
    if (!/^(localhost|[\d.]+|[\da-fA-F:.]*:[\da-fA-F:.]*)$/.test(host)) {
      return `epoll needs a numeric -l address (got '${host}')`;
    }
  }
  return null;
}

/**
 * Starts the server with `config.threads` event loops: N > 1 runs the
 * loops in Workers (`cluster.ts`) loading `opts.workerUrl`; where they
 * cannot run, one line on stderr says why and one loop serves. Rejects as
 * {@link startServer} throws.
 */
export async function startServers(
  config: Config,
  hooks: ServerHooks = {},
  opts: ClusterOptions = { workerUrl: LOOP_WORKER_URL },
): Promise<Server> {
  if (config.threads <= 1) return startServer(config, hooks);
  const why = resolveIo(config) !== "epoll"
    ? `-t ${config.threads} needs the epoll transport (${
      config.io === "portable" ? "--io=portable" : autoFallbackReason(config)
    })`
    : clusterUnavailable(config, opts);
  if (why === null) return await startCluster(config, hooks, opts);
  // The default -t quietly becomes 1 (the portable fallback has its own note).
  if (!config.threadsAuto) console.error(`denocached: ${why}; running 1 loop`);
  config.threads = 1;
  return startServer(config, hooks);
}

/** The loop module, for callers that are not a bundle (mod.ts). */
const LOOP_WORKER_URL = new URL("./loop_worker.ts", import.meta.url).href;

/** The `-l` interfaces of `config`; throws on a malformed list. */
function listenAddrs(config: Config): ListenAddr[] {
  const list = parseListen(config.listen, config.port);
  if (typeof list === "string") throw new Error(list);
  return list;
}

/**
 * Starts listening according to `config`. Throws if a listener cannot be
 * bound, or {@link EpollUnavailable} when `config.io` is "epoll" and epoll
 * cannot run here.
 */
export function startServer(config: Config, hooks: ServerHooks = {}): Server {
  const libc = resolveIo(config) === "epoll" ? openEpollLibc() : null;
  let stopping: Promise<void> | null = null;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  const ctx = createContext(config, () => {
    // Acted on after the current batch, never inside feed.
    setTimeout(() => void close(), 0);
  });
  const core = createCore(ctx, {
    stopAccepting: () => closeListeners(),
    requestStop: () => setTimeout(() => void close(), 0),
  });
  hooks.beforeListen?.(ctx);

  const portable: PortableListener[] = [];
  /** Bound listeners, each with its `stats conns` name and `proto[...]`. */
  const opened: [Deno.Listener, string, ListenProto?][] = [];
  let epoll: EpollTransport | null = null;
  const tls = config.tls;
  // `-Z` alone makes the `-l` interfaces TLS, as in memcached, except
  // those marked `notls:`; `-o ssl_port=` adds TLS beside plain ones.
  const mainIsTls = tls !== null && tls.port === null;
  const addrs = config.port >= 0 ? listenAddrs(config) : [];
  const secure = (a: ListenAddr) => mainIsTls && !a.notls;
  /** Bound port of each of `addrs`, in order. */
  const bound = new Map<ListenAddr, number>();
  let tlsPort = 0;
  const tcpAddr = (c: Deno.Conn) => {
    const ra = c.remoteAddr as Deno.NetAddr;
    return `tcp:${hostPort(ra.hostname, ra.port)}`;
  };
  const open = (l: Deno.Listener, host: string, a: ListenAddr | null) => {
    const port = (l.addr as Deno.NetAddr).port;
    opened.push([l, `tcp:${hostPort(host, port)}`, a?.proto]);
    if (a !== null) bound.set(a, port);
    return port;
  };
  try {
    const plain = addrs.filter((a) => !secure(a));
    if (libc !== null) {
      epoll = serveEpoll(core, libc, config, plain);
      plain.forEach((a, i) => bound.set(a, epoll!.ports[i]));
    }
    for (const a of addrs) {
      if (secure(a)) {
        const port = open(listenTls(a.host, a.port, tls!), a.host, a);
        if (tlsPort === 0) tlsPort = port;
      } else if (epoll === null) {
        open(Deno.listen({ hostname: a.host, port: a.port }), a.host, a);
      }
    }
    if (tls !== null && tls.port !== null) {
      const host = addrs[0]?.host ?? "127.0.0.1";
      tlsPort = open(listenTls(host, tls.port, tls), host, null);
    }
    if (config.unixSocket && epoll === null) {
      const path = config.unixSocket;
      try {
        // Like memcached: replace a stale socket, but never delete a file
        // that is not one (a typo in -s must not remove someone's data).
        if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
      } catch {
        // nothing there
      }
      const l = Deno.listen({ transport: "unix", path });
      opened.push([l, `unix:${path}`]);
      Deno.chmodSync(path, config.unixMask);
    }
  } catch (e) {
    for (const [l] of opened) closeQuietly(l);
    if (epoll) {
      epoll.closeListeners();
      epoll.stop();
    }
    libc?.close();
    throw e;
  }
  // The first `-l` interface's port is the server's (`stats settings`).
  const port = addrs.length > 0 ? bound.get(addrs[0]) ?? 0 : 0;
  if (config.port >= 0) config.port = port;
  const unixAddr = `unix:${config.unixSocket}`;
  for (const [l, name, proto] of opened) {
    const addrOf = l.addr.transport === "unix" ? () => unixAddr : tcpAddr;
    portable.push(servePortable(core, l, addrOf, name, proto));
  }

  const timer = setInterval(() => {
    ctx.tick();
    ctx.background!(sweepTask(ctx.store, SWEEP_BUDGET));
    ctx.background!(fitTask(ctx.store));
    core.everySecond();
  }, 1000);

  function closeListeners(): void {
    for (const p of portable) p.close();
    epoll?.closeListeners();
  }

  function close(): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      hooks.onDrain?.(ctx);
      closeListeners();
      clearInterval(timer);
      await drainCore(core);
      epoll?.stop();
      await Promise.allSettled([
        ...portable.map((p) => p.done),
        epoll?.done,
      ]);
      libc?.close();
      if (hooks.onClose) {
        try {
          await hooks.onClose(ctx);
        } catch (e) {
          console.error(`denocached: ${(e as Error).message}`);
        }
      }
      if (config.unixSocket && epoll === null) {
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
    hostname: addrs[0]?.host ?? config.listen,
    ctx,
    close,
    finished,
    tlsPort,
    io: epoll ? "epoll" : "portable",
  };
}
