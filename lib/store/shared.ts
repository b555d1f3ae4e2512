/**
 * The store shared by every event loop of `-t N`: its state lives in
 * SharedArrayBuffers that each loop attaches to, with striped key locks so
 * every command stays atomic per key (design: docs/multicore.md; lock rules:
 * sync.ts).
 *
 * Sizes are fixed by `-m` at creation: the pages and the index are growable
 * buffers reserved for the limit (plus one page per size class, which
 * memcached also allows past `-m`), so growing never moves them and the
 * untouched reservation costs address space only. `cache_memlimit` may
 * lower the limit at run time; raising it past the reservation makes no
 * new pages (restart with a larger `-m`).
 * @module
 */

import type { Clock } from "../clock.ts";
import { CF, CI, LOCK_PAD, STATS_WORDS, STRIPES } from "./layout.ts";
import { META_BYTES, PagePool, SizeClasses } from "./slabs.ts";
import {
  type Backing,
  initControl,
  INITIAL_BUCKETS,
  pageSizeFor,
  perClassBytes,
  StoreState,
} from "./state.ts";
import { SlabStore } from "./store.ts";
import type { Store, StoreOptions } from "./types.ts";

/** What a loop needs to attach to a shared store; structured-cloneable. */
export interface SharedStoreHandle {
  readonly limitBytes: number;
  readonly maxItemSize: number;
  readonly growthFactor: number;
  /** Loops that may attach (ids 1..loops; 0 is the creating thread). */
  readonly loops: number;
  readonly backing: Backing;
}

/** Smallest chunk (slabs.ts MIN_CHUNK): bounds how many items fit. */
const MIN_ITEM = 64;

/**
 * Creates a store that `loops` other threads can attach to; the returned
 * store is the creator's own view (loop id 0: restore, snapshots, stats).
 */
export function createSharedStore(
  opts: StoreOptions,
  loops: number,
): { store: Store; handle: SharedStoreHandle } {
  const pageSize = pageSizeFor(opts.maxItemSize);
  const growthFactor = opts.growthFactor ?? 1.25;
  const sc = new SizeClasses(pageSize, growthFactor);
  const slots = Math.ceil(opts.limitBytes / pageSize) + sc.count + 1;
  const meta = PagePool.metaBuffer(pageSize, slots, true);
  const usable = meta.byteLength / META_BYTES - 1;
  let buckets = INITIAL_BUCKETS;
  while (buckets * 1.5 < (usable * pageSize) / MIN_ITEM) buckets *= 2;
  const growable = (n: number, max: number) =>
    new SharedArrayBuffer(n, { maxByteLength: Math.max(n, max) });
  const backing: Backing = {
    perClass: new SharedArrayBuffer(perClassBytes(sc.count)),
    ci: new SharedArrayBuffer(CI.WORDS * 4),
    cf: new SharedArrayBuffer(CF.WORDS * 8),
    stats: new SharedArrayBuffer((loops + 1) * STATS_WORDS * 8),
    buckets: growable(INITIAL_BUCKETS * 4, buckets * 4),
    ghost: growable(INITIAL_BUCKETS * 4, buckets * 4),
    locks: new SharedArrayBuffer((STRIPES + sc.count + 1) * LOCK_PAD * 4),
    pages: growable(pageSize, (usable + 1) * pageSize),
    pageMeta: meta,
  };
  initControl(
    new Int32Array(backing.ci),
    new Float64Array(backing.cf),
    opts.limitBytes,
  );
  const handle: SharedStoreHandle = {
    limitBytes: opts.limitBytes,
    maxItemSize: opts.maxItemSize,
    growthFactor,
    loops,
    backing,
  };
  return { store: new SlabStore(new StoreState(opts, backing, 0)), handle };
}

/** Attaches loop `loop` (1..handle.loops) to a shared store. */
export function attachStore(
  handle: SharedStoreHandle,
  loop: number,
  clock: Clock,
): Store {
  if (!(loop >= 1 && loop <= handle.loops)) throw new RangeError("loop id");
  const opts: StoreOptions = {
    limitBytes: handle.limitBytes,
    maxItemSize: handle.maxItemSize,
    clock,
    growthFactor: handle.growthFactor,
  };
  return new SlabStore(new StoreState(opts, handle.backing, loop));
}
