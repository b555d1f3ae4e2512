/**
 * Builds the state every backend shares: the clock (cached when it is the
 * system clock, so the hot path never asks the OS for the time), the store
 * sized from the configuration, and zeroed counters.
 * @module
 */

import { cachedClock, type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Context } from "../protocol/context.ts";
import { type Counters, createCounters } from "../protocol/counters.ts";
import { createStore } from "../store/store.ts";
import type { Store } from "../store/types.ts";
import { runSliced } from "../slices.ts";
import { createLatency } from "../metrics/latency.ts";

/**
 * What one event loop of `-t N` brings instead of its own: its view of the
 * shared store (built on the loop's clock) and its counters in shared memory.
 */
export interface LoopParts {
  store(clock: Clock): Store;
  counters: Counters;
}

/**
 * Creates the Context for a server; `requestShutdown` serves `shutdown`.
 * `parts` (with `-t N`) replaces the private store and counters.
 */
export function createContext(
  config: Config,
  requestShutdown: (graceful: boolean) => void,
  parts: LoopParts | null = null,
): Context {
  const cached = config.clock === systemClock ? cachedClock() : null;
  const clock = cached ?? config.clock;
  const store = parts !== null ? parts.store(clock) : createStore({
    limitBytes: config.memoryLimitMb * 1024 * 1024,
    maxItemSize: config.maxItemSize,
    clock,
    growthFactor: config.growthFactor,
  });
  const ctx: Context = {
    config,
    store,
    counters: parts?.counters ?? createCounters(),
    clock,
    started: clock.now(),
    conns: new Map(),
    requestShutdown,
    verbose: config.verbose,
    auth: config.auth,
    sasl: config.sasl,
    tick: cached ? cached.tick : () => {},
    // Each step lets go of the key lock it may hold (a shared store's other
    // loops wait on it), as a batch of commands does.
    background: (step) =>
      runSliced(() => {
        const more = step();
        store.release();
        return more;
      }),
    latency: config.metrics !== null ? createLatency() : null,
  };
  return ctx;
}
