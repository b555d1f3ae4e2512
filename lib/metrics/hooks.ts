/**
 * Attaches the metrics listener to a server's life, through its hooks, the
 * same way for both I/O backends and for `mod.ts`: it opens before the
 * cache listeners (so a taken metrics port stops the start), `/healthz`
 * turns 503 when a graceful stop begins, and it closes after the last
 * cache client is gone.
 * @module
 */

import type { MetricsAddress } from "../config.ts";
import type { ServerHooks } from "../server/server.ts";
import { type MetricsServer, startMetricsServer } from "./server.ts";
import { type Latency, setClock } from "./latency.ts";
import { openMonotonicClock, PERFORMANCE_CLOCK } from "./clock.ts";

/** Handle on the attached listener. */
export interface MetricsAttachment {
  /** The listener, once the server started. */
  server(): MetricsServer | null;
  /** Closes the listener if open (for a start that failed later). */
  close(): Promise<void>;
}

/**
 * Adds the metrics steps to `hooks` (keeping the ones already there:
 * the listener opens after them and closes after them).
 */
export function attachMetrics(
  addr: MetricsAddress,
  hooks: ServerHooks,
): MetricsAttachment {
  let m: MetricsServer | null = null;
  let timed: Latency | null = null;
  const releaseClock = () => {
    if (timed !== null) setClock(timed, PERFORMANCE_CLOCK);
    timed = null;
  };
  const { beforeListen, onDrain, onClose } = hooks;
  hooks.beforeListen = (ctx) => {
    beforeListen?.(ctx);
    try {
      m = startMetricsServer(ctx, addr);
      // The histograms' cheap clock (an FFI handle) lives while we do.
      timed = ctx.latency;
      if (timed !== null) setClock(timed, openMonotonicClock());
    } catch (e) {
      throw new Error(
        `metrics listener on ${addr.hostname}:${addr.port}: ${
          (e as Error).message
        }`,
      );
    }
  };
  hooks.onDrain = (ctx) => {
    m?.drain();
    onDrain?.(ctx);
  };
  hooks.onClose = async (ctx) => {
    try {
      await onClose?.(ctx);
    } finally {
      await m?.close();
      m = null;
      releaseClock();
    }
  };
  return {
    server: () => m,
    async close() {
      await m?.close();
      m = null;
      releaseClock();
    },
  };
}
