/**
 * One event loop of `-t N`, run in a Worker (docs/multicore.md section 5).
 * The main thread (`cluster.ts`) posts a {@link LoopInit}; the loop attaches
 * to the shared store and counters, serves its own SO_REUSEPORT socket per
 * `-l` address (bound by the main thread, listening once all loops are ready) and
 * watches the main thread's unix socket fd with EPOLLEXCLUSIVE, serves through the epoll transport and the connection
 * core as a one-loop server does, and answers `ready` or `error`. On `stop`
 * it drains like a one-loop server and answers `drained`.
 *
 * The same module is the worker's entry whichever file the Worker loads:
 * `main.ts` (and the bundle, which is one file) loads itself with the name
 * {@link LOOP_WORKER_NAME}, and importing this module there starts the loop
 * body; `mod.ts` loads this file directly.
 * @module
 */

import { type Config, defaultConfig } from "../config.ts";
import { createContext } from "./context.ts";
import { createCore, drainCore } from "./core.ts";
import { serveEpoll } from "./ffi/epoll.ts";
import { openEpollLibc } from "./ffi/backend.ts";
import type { ListenAddr } from "../listen.ts";
import { attachStore, type SharedStoreHandle } from "../store/shared.ts";
import {
  attachCounters,
  type CountersHandle,
  publishCounters,
} from "../protocol/shared_counters.ts";
import { createAuthStore, type Credential } from "../authfile.ts";
import { createLatency } from "../metrics/latency.ts";
import { openMonotonicClock } from "../metrics/clock.ts";
import { sharedClock } from "../clock.ts";

/** The Worker name that tells a module it runs as an event loop. */
export const LOOP_WORKER_NAME = "denocached-loop";

/** The structured-cloneable part of {@link Config} a loop is given. */
export type WireConfig = Omit<
  Config,
  "clock" | "auth" | "sasl" | "tls" | "metrics"
>;

/** Main thread → loop, first message. */
export interface LoopInit {
  type: "init";
  /** 1..N (0 is the main thread). */
  loopId: number;
  store: SharedStoreHandle;
  counters: CountersHandle;
  config: WireConfig;
  /** Plain TCP addresses, ports resolved, each with this loop's socket (`fd`). */
  tcp: ListenAddr[];
  /** The main thread's unix socket listener, or null. */
  unixFd: number | null;
  /** `--metrics`: every loop's latency histograms, or null. */
  latency: SharedArrayBuffer | null;
  /** A manual clock's time (tests), or null for the system clock. */
  clock: SharedArrayBuffer | null;
  /** `-Y` / `-S` credentials (the main thread forwards SIGHUP reloads). */
  auth: Credential[] | null;
  sasl: Credential[] | null;
}

/** Main thread → loop, later messages. */
export type LoopCommand =
  | { type: "stop" }
  | { type: "stop-accepting" }
  | {
    type: "credentials";
    auth: Credential[] | null;
    sasl: Credential[] | null;
  };

/** Loop → main thread. */
export type LoopReport =
  | { type: "ready"; loopId: number }
  | { type: "error"; loopId: number; message: string }
  | { type: "shutdown"; loopId: number }
  | { type: "single"; loopId: number }
  | { type: "drained"; loopId: number };

/** The Worker global scope, as far as a loop uses it. */
interface LoopScope {
  postMessage(m: LoopReport): void;
  onmessage: ((e: MessageEvent<LoopInit | LoopCommand>) => void) | null;
  close(): void;
  name?: string;
}

/** Is this module running as an event loop's Worker? */
export function isLoopWorker(): boolean {
  return (globalThis as unknown as LoopScope).name === LOOP_WORKER_NAME;
}

/**
 * How long a loop blocks in epoll_wait before yielding to its Worker's event
 * loop (a stop message or the tick then waits at most this long).
 */
const LOOP_BLOCK_MS = 20;

/** Turns a {@link WireConfig} back into a Config with the loop's own hooks. */
function configOf(init: LoopInit): Config {
  const config: Config = { ...defaultConfig(), ...init.config };
  config.auth = init.auth && createAuthStore(init.auth).check;
  config.sasl = init.sasl && createAuthStore(init.sasl).check;
  if (init.clock !== null) config.clock = sharedClock(init.clock);
  return config;
}

/** Runs one loop from `init`; resolves once it has drained after `stop`. */
function runLoop(init: LoopInit, scope: LoopScope): void {
  const report = (m: LoopReport) => scope.postMessage(m);
  const id = init.loopId;
  const config = configOf(init);
  const counters = attachCounters(init.counters, id);
  const ctx = createContext(
    config,
    () => report({ type: "shutdown", loopId: id }),
    { store: (clock) => attachStore(init.store, id, clock), counters },
  );
  if (init.latency !== null) {
    // The vDSO clock over FFI (granted: this loop runs the epoll
    // transport), as on the main loop; see clock.ts for what
    // performance.now() would cost.
    ctx.latency = createLatency(openMonotonicClock(), {
      all: new Float64Array(init.latency),
      loop: id,
    });
  }
  const core = createCore(ctx, {
    stopAccepting: () => report({ type: "single", loopId: id }),
    requestStop: () => report({ type: "shutdown", loopId: id }),
  });
  const libc = openEpollLibc();
  let epoll;
  try {
    epoll = serveEpoll(core, libc, config, init.tcp, {
      reusePort: true,
      unixFd: init.unixFd,
      blockMs: LOOP_BLOCK_MS,
    });
  } catch (e) {
    libc.close();
    ctx.latency?.closeClock();
    report({ type: "error", loopId: id, message: (e as Error).message });
    return;
  }
  const transport = epoll;
  // The once-a-second tick: clock and idle kicks here; the expiry sweep,
  // crawler and snapshots run on the main thread only.
  const timer = setInterval(() => {
    ctx.tick();
    core.everySecond();
    ctx.store.release();
    publishCounters(counters);
  }, 1000);
  let stopping = false;
  scope.onmessage = (e) => {
    const m = e.data;
    if (m.type === "stop-accepting") transport.closeListeners();
    else if (m.type === "credentials") {
      // SIGHUP reloaded -Y/-S on the main thread: swap the checkers.
      ctx.auth = m.auth && createAuthStore(m.auth).check;
      ctx.sasl = m.sasl && createAuthStore(m.sasl).check;
      config.auth = ctx.auth;
      config.sasl = ctx.sasl;
    } else if (m.type === "stop" && !stopping) {
      stopping = true;
      void stop();
    }
  };
  async function stop(): Promise<void> {
    transport.closeListeners();
    clearInterval(timer);
    await drainCore(core);
    transport.stop();
    await transport.done;
    libc.close();
    ctx.latency?.closeClock();
    ctx.store.release();
    publishCounters(counters);
    report({ type: "drained", loopId: id });
    scope.onmessage = null;
  }
  report({ type: "ready", loopId: id });
}

/** Waits for the main thread's {@link LoopInit}, then runs the loop. */
function startLoopWorker(): void {
  const scope = globalThis as unknown as LoopScope;
  scope.onmessage = (e) => {
    const m = e.data;
    if (m.type !== "init") return;
    scope.onmessage = null;
    try {
      runLoop(m, scope);
    } catch (err) {
      scope.postMessage({
        type: "error",
        loopId: m.loopId,
        message: (err as Error).message,
      });
    }
  };
}

if (isLoopWorker()) startLoopWorker();
