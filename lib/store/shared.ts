/**
 * The store shared by every event loop of `-t N`: its state lives in
 * SharedArrayBuffers that each loop attaches to, with striped key locks so
 * every command stays atomic per key (design: docs/multicore.md).
 *
 * STUB (session 20, step 0): the seam the loop plumbing is built against.
 * `attachStore` still builds a private store per loop; the shared state
 * replaces it behind the same two functions.
 * @module
 */

import type { Clock } from "../clock.ts";
import { createStore } from "./store.ts";
import type { Store, StoreOptions } from "./types.ts";

/** What a loop needs to attach to a shared store; structured-cloneable. */
export interface SharedStoreHandle {
  readonly limitBytes: number;
  readonly maxItemSize: number;
  readonly growthFactor: number;
  /** Loops that may attach (ids 1..loops; 0 is the creating thread). */
  readonly loops: number;
}

/**
 * Creates a store that `loops` other threads can attach to; the returned
 * store is the creator's own view (loop id 0: restore, snapshots, stats).
 */
export function createSharedStore(
  opts: StoreOptions,
  loops: number,
): { store: Store; handle: SharedStoreHandle } {
  const handle: SharedStoreHandle = {
    limitBytes: opts.limitBytes,
    maxItemSize: opts.maxItemSize,
    growthFactor: opts.growthFactor ?? 1.25,
    loops,
  };
  return { store: createStore(opts), handle };
}

/** Attaches loop `loop` (1..handle.loops) to a shared store. */
export function attachStore(
  handle: SharedStoreHandle,
  loop: number,
  clock: Clock,
): Store {
  if (!(loop >= 1 && loop <= handle.loops)) throw new RangeError("loop id");
  return createStore({
    limitBytes: handle.limitBytes,
    maxItemSize: handle.maxItemSize,
    clock,
    growthFactor: handle.growthFactor,
  });
}
