/**
 * `-t N` (N > 1): N event loops over one shared store
 * (`../store/shared.ts`): the main thread's own epoll loop (loop 0, as a
 * one-loop server runs) and N − 1 Workers running the epoll transport
 * (`loop_worker.ts`); design in docs/multicore.md sections 4–6.
 *
 * The main thread creates the shared store (its view is loop 0's: it also
 * loads and saves snapshots, sweeps expired items and serves `--metrics`),
 * binds every loop's SO_REUSEPORT socket for each `-l` address (so port 0
 * and a clash are resolved and reported once) and makes them all listen
 * once every loop is ready (so the first clients spread over every loop), opens the unix socket the loops share by fd
 * number, serves TLS with the portable transport (a Deno listener cannot
 * be shared across isolates), starts its own loop, then the Workers, and
 * waits for each one's `ready`. A graceful stop
 * sets the shared stop word, posts `stop` to every Worker, drains its own
 * connections and waits for each Worker's `drained`.
 * @module
 */

import type { Config } from "../config.ts";
import { clockBuffer, systemClock } from "../clock.ts";
import type { Context } from "../protocol/context.ts";
import type { Credential } from "../authfile.ts";
import { createContext } from "./context.ts";
import { createCore } from "./core.ts";
import { fitTask, sweepTask } from "../protocol/admin.ts";
import {
  closeQuietly,
  type PortableListener,
  servePortable,
} from "./portable.ts";
import { listenTls } from "../tls.ts";
import {
  hostPort,
  type ListenAddr,
  type ListenProto,
  parseListen,
} from "../listen.ts";
import { epollUnavailableReason, openEpollLibc } from "./ffi/backend.ts";
import { type EpollTransport, serveEpoll } from "./ffi/epoll.ts";
import { listenTcp, listenUnix, unlinkPath } from "./ffi/sockets.ts";
import { createSharedStore } from "../store/shared.ts";
import { createLatency, LATENCY_DOUBLES } from "../metrics/latency.ts";
import { PERFORMANCE_CLOCK } from "../metrics/clock.ts";
import {
  attachCounters,
  createCountersHandle,
  CTL,
  publishCounters,
} from "../protocol/shared_counters.ts";
import {
  LOOP_WORKER_NAME,
  type LoopCommand,
  type LoopInit,
  type LoopReport,
  type WireConfig,
} from "./loop_worker.ts";
import type { Server, ServerHooks } from "./server.ts";

/** Chunks the sweep looks at per tick (as server.ts). */
const SWEEP_BUDGET = 20_000;
/** A stop waits this long for every loop to drain (their grace + margin). */
const STOP_WAIT_MS = 3000;

/** Where the loops' code comes from, and the credentials they check. */
export interface ClusterOptions {
  /** The module each Worker loads (main.ts's own URL, or loop_worker.ts). */
  workerUrl: string;
  /** `-Y` credentials, when `config.auth` is set. */
  auth?: Credential[] | null;
  /** `-S` credentials, when `config.sasl` is set. */
  sasl?: Credential[] | null;
}

/** A cluster's extra controls beside {@link Server}. */
export interface Cluster extends Server {
  /** Hands new `-Y`/`-S` credentials to every loop (SIGHUP reload). */
  credentials(auth: Credential[] | null, sasl: Credential[] | null): void;
}

/**
 * Why `-t N` cannot start N loops here (one line for stderr), or null.
 * The caller then runs one loop.
 */
export function clusterUnavailable(
  config: Config,
  opts: ClusterOptions,
): string | null {
  const n = config.threads;
  const why = epollUnavailableReason();
  if (why !== null) return `-t ${n} needs the epoll transport (epoll ${why})`;
  const list = config.port >= 0 ? parseListen(config.listen, config.port) : [];
  const tlsOnly = config.tls !== null && config.tls.port === null;
  const plain = typeof list === "string" ||
    list.some((a) => !tlsOnly || a.notls);
  if (!plain && !config.unixSocket) {
    return `-t ${n}: every listener is TLS, which the main thread serves`;
  }
  const url = new URL(opts.workerUrl);
  if (
    url.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: url }).state !== "granted"
  ) {
    return `-t ${n} needs --allow-read (to load its worker module)`;
  }
  if (config.auth !== null && !opts.auth) {
    return `-t ${n}: no credentials for -Y`;
  }
  if (config.sasl !== null && !opts.sasl) {
    return `-t ${n}: no credentials for -S`;
  }
  if (config.clock !== systemClock && clockBuffer(config.clock) === null) {
    return `-t ${n} needs the system clock or a manual one`;
  }
  return null;
}

/** The serializable part of `config`, for the loops. */
function wire(config: Config): WireConfig {
  const { clock: _c, auth: _a, sasl: _s, tls: _t, metrics: _m, ...rest } =
    config;
  return rest;
}

/**
 * Starts `config.threads` loops. Rejects if a listener cannot be bound or
 * a loop fails to start (every loop started is stopped first).
 */
export async function startCluster(
  config: Config,
  hooks: ServerHooks,
  opts: ClusterOptions,
): Promise<Cluster> {
  const n = config.threads;
  /** Worker loops beside the main thread's (ids 1..workersWanted). */
  const workersWanted = n - 1;
  const libc = openEpollLibc();
  const s = libc.sym;
  const { store, handle } = createSharedStore({
    limitBytes: config.memoryLimitMb * 1024 * 1024,
    maxItemSize: config.maxItemSize,
    clock: config.clock,
    growthFactor: config.growthFactor,
  }, workersWanted);
  // Rows for -c connections, plus listeners of every loop (and slack for
  // those a loop accepts before refusing them over -c).
  const countersHandle = createCountersHandle(
    workersWanted,
    config.maxConnections + 64 * n,
  );
  const counters = attachCounters(countersHandle, 0);
  const ctl = counters.shared!.ctl;
  Atomics.store(ctl, CTL.VERBOSE, config.verbose);
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  let stopping: Promise<void> | null = null;
  const later = () => setTimeout(() => void close(), 0);
  const ctx: Context = createContext(config, later, {
    store: () => store,
    counters,
  });
  // --metrics: every loop times its commands into its block of one buffer.
  const latencySab = ctx.latency !== null
    ? new SharedArrayBuffer(n * LATENCY_DOUBLES * 8)
    : null;
  if (latencySab !== null) {
    ctx.latency = createLatency(PERFORMANCE_CLOCK, {
      all: new Float64Array(latencySab),
      loop: 0,
    });
  }
  const core = createCore(ctx, {
    stopAccepting: () => stopAccepting(),
    requestStop: later,
  });
  hooks.beforeListen?.(ctx);
  // The snapshot load took key locks as a batch does: let go of them
  // before any loop runs, or the first loop to need one waits forever.
  ctx.store.release();

  const tls = config.tls;
  const mainIsTls = tls !== null && tls.port === null;
  const list = config.port >= 0 ? parseListen(config.listen, config.port) : [];
  if (typeof list === "string") throw new Error(list);
  const addrs: ListenAddr[] = list;
  /** Listening sockets not yet owned by a running loop (closed on failure). */
  const reserved: number[] = [];
  const tcp: ListenAddr[] = [];
  /** Per address, loop i's listening socket at index i. */
  const tcpFds: number[][] = [];
  /** Loop `i`'s addresses, each with its own socket. */
  const tcpOf = (i: number): ListenAddr[] =>
    tcp.map((a, j) => ({ ...a, fd: tcpFds[j][i] }));
  const opened: Deno.Listener[] = [];
  /** The `-l proto[...]:` of each TLS listener in `opened` that has one. */
  const protoOf = new Map<Deno.Listener, ListenProto>();
  const portable: PortableListener[] = [];
  const workers: Worker[] = [];
  /** Loop 0's plain listeners and connections (the main thread's). */
  let epoll: EpollTransport | null = null;
  let unixFd: number | null = null;
  let tlsPort = 0;
  let started = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  // Declared before the first await: a loop's `shutdown` or `single`
  // (--single's first client may come while the others start) can call
  // close() before startCluster returns.
  const waitingDrain = new Map<Worker, () => void>();
  function drained(w: Worker): void {
    waitingDrain.get(w)?.();
  }
  function post(m: LoopCommand): void {
    for (const w of workers) w.postMessage(m);
  }
  function stopAccepting(): void {
    post({ type: "stop-accepting" });
    epoll?.closeListeners();
    for (const p of portable) p.close();
  }
  /** Loops not yet ready: told when the server gives up on them. */
  const starting = new Set<(why: string | null) => void>();
  let libcOpen = true;
  const closeLibc = () => {
    if (libcOpen) libc.close();
    libcOpen = false;
  };
  const cleanup = () => {
    for (const r of starting) r("stopped while starting");
    for (const w of workers) w.terminate();
    epoll?.closeListeners();
    epoll?.stop();
    for (const fd of reserved.splice(0)) s.close(fd);
    for (const l of opened) closeQuietly(l);
    if (unixFd !== null) {
      s.close(unixFd);
      unlinkPath(libc, config.unixSocket!);
      unixFd = null;
    }
  };
  try {
    for (const a of addrs) {
      if (mainIsTls && !a.notls) {
        const l = listenTls(a.host, a.port, tls!);
        opened.push(l);
        if (a.proto !== undefined) protoOf.set(l, a.proto);
        if (tlsPort === 0) tlsPort = (l.addr as Deno.NetAddr).port;
        continue;
      }
      // A plain bind first: it fails against any listener on the port,
      // reuseport ones included (another -t N server).
      const probe = listenTcp(libc, a.host, a.port, { bindOnly: true });
      s.close(probe.fd);
      // Then every loop's socket, bound now and listening only once every
      // loop is ready, all at once: the port opens when the server can
      // serve, and the kernel spreads even the first clients over them all.
      const fds: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = listenTcp(libc, a.host, probe.port, {
          bindOnly: true,
          reusePort: true,
        });
        reserved.push(r.fd);
        fds.push(r.fd);
      }
      tcp.push({ ...a, port: probe.port });
      tcpFds.push(fds);
    }
    if (tls !== null && tls.port !== null) {
      const host = addrs[0]?.host ?? "127.0.0.1";
      const l = listenTls(host, tls.port, tls);
      opened.push(l);
      tlsPort = (l.addr as Deno.NetAddr).port;
    }
    if (config.unixSocket) {
      unixFd = listenUnix(libc, config.unixSocket, config.unixMask);
    }
    const first = addrs[0];
    if (config.port >= 0) {
      config.port = first === undefined
        ? 0
        : tcp.find((a) => a.host === first.host)?.port ??
          (opened[0]?.addr as Deno.NetAddr | undefined)?.port ?? 0;
    }
    // Loop 0 first, so its listener lines (-vv) come before any client's.
    epoll = serveEpoll(core, libc, config, tcpOf(0), {
      reusePort: true,
      unixFd,
      // Not LOOP_BLOCK_MS as the Workers: blocking this thread 20 ms at a
      // time made a cas race across loops 16× slower (tests/race_test.ts).
    });
    for (const fds of tcpFds) reserved.splice(reserved.indexOf(fds[0]), 1);
    const ready = await Promise.all(
      Array.from({ length: workersWanted }, (_, i) =>
        spawn({
          type: "init",
          loopId: i + 1,
          store: handle,
          counters: countersHandle,
          config: wire(config),
          tcp: tcpOf(i + 1),
          unixFd,
          latency: latencySab,
          clock: clockBuffer(config.clock),
          auth: opts.auth ?? null,
          sasl: opts.sasl ?? null,
        })),
    );
    const bad = ready.find((m) => m !== null);
    if (bad) throw new Error(bad);
    if (stopping === null) {
      for (const fds of tcpFds) {
        for (const fd of fds) {
          if (s.listen(fd, 1024) < 0) throw new Error("listen failed");
        }
      }
    }
  } catch (e) {
    core.closeAll(); // clients loop 0 took while the Workers started
    cleanup();
    if (epoll !== null) await epoll.done;
    closeLibc();
    throw e;
  }
  // Every loop runs and owns (closes) its sockets now.
  reserved.length = 0;
  started = true;
  if (stopping === null) {
    for (const l of opened) {
      const a = l.addr as Deno.NetAddr;
      portable.push(
        servePortable(
          core,
          l,
          tcpAddr,
          `tcp:${hostPort(a.hostname, a.port)}`,
          protoOf.get(l),
        ),
      );
    }
    timer = setInterval(() => {
      ctx.tick();
      ctx.background!(sweepTask(ctx.store, SWEEP_BUDGET));
      ctx.background!(fitTask(ctx.store));
      core.everySecond();
      ctx.store.release();
      publishCounters(counters);
    }, 1000);
  }

  /** Starts loop `init.loopId`; resolves null once ready, or the error. */
  function spawn(init: LoopInit): Promise<string | null> {
    const w = new Worker(opts.workerUrl, {
      type: "module",
      name: LOOP_WORKER_NAME,
    });
    workers.push(w);
    return new Promise((done) => {
      const resolve = (why: string | null) => {
        starting.delete(resolve);
        done(why);
      };
      starting.add(resolve);
      w.onerror = (e) => {
        e.preventDefault();
        resolve(`loop ${init.loopId}: ${e.message}`);
        if (started) later(); // a loop died: stop the whole server
      };
      w.onmessage = (e: MessageEvent<LoopReport>) => {
        const m = e.data;
        if (m.type === "ready") resolve(null);
        else if (m.type === "error") resolve(m.message);
        else if (m.type === "shutdown") later();
        else if (m.type === "single") stopAccepting();
        else if (m.type === "drained") drained(w);
      };
      w.postMessage(init);
    });
  }

  function close(): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      hooks.onDrain?.(ctx);
      Atomics.store(ctl, CTL.STOP, 1);
      Atomics.notify(ctl, CTL.STOP);
      const all = workers.map((w) =>
        new Promise<void>((r) => waitingDrain.set(w, r))
      );
      post({ type: "stop" });
      for (const p of portable) p.close();
      epoll?.closeListeners();
      clearInterval(timer);
      core.beginStop();
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...all, core.idle()]),
        new Promise<void>((r) => (t = setTimeout(r, STOP_WAIT_MS))),
      ]);
      clearTimeout(t);
      core.closeAll();
      await Promise.allSettled(portable.map((p) => p.done));
      if (epoll !== null) {
        epoll.stop();
        await epoll.done;
      }
      cleanup();
      closeLibc();
      if (hooks.onClose) {
        try {
          await hooks.onClose(ctx);
        } catch (e) {
          console.error(`denocached: ${(e as Error).message}`);
        }
      }
      resolveFinished();
    })();
    return stopping;
  }

  return {
    port: config.port < 0 ? 0 : config.port,
    hostname: addrs[0]?.host ?? config.listen,
    ctx,
    close,
    finished,
    tlsPort,
    io: "epoll",
    credentials(auth, sasl) {
      post({ type: "credentials", auth, sasl });
    },
  };
}

function tcpAddr(c: Deno.Conn): string {
  const ra = c.remoteAddr as Deno.NetAddr;
  return `tcp:${hostPort(ra.hostname, ra.port)}`;
}
