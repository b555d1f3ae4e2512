/**
 * Counters across the event loops of `-t N` (docs/multicore.md section 4):
 * one SharedArrayBuffer holds a control block of Int32 words (the stop
 * flag, the connection count `-c` is checked against, `--single`'s served
 * count) and one Float64 block per loop. A loop keeps moving its own plain
 * {@link Counters} object on the hot path and copies the scalar fields into
 * its block at the end of each batch ({@link publishCounters}); its
 * per-class `stats slabs` arrays are views straight into its block. `stats`
 * sums every block on demand, so each counter is exact once the batch that
 * moved it has replied. `stats reset` records the current sums as a
 * baseline that later sums subtract (no loop writes another's block).
 *
 * With one loop none of this exists: `Counters.shared` is absent and the
 * counters are read as they are.
 * @module
 */

import { MAX_CLASSES } from "../store/types.ts";
import {
  type Counters,
  createCounters,
  type SlabCounters,
} from "./counters.ts";
import {
  attachConnTable,
  type ConnTable,
  createConnTable,
} from "./conn_table.ts";

/** Control words (Int32) at the start of the buffer. */
export const CTL = {
  /** 1 once a graceful stop began. */
  STOP: 0,
  /** Open client connections, all loops (`curr_connections`, `-c`). */
  CONNS: 1,
  /** `--single`: connections admitted so far. */
  SERVED: 2,
  /** Lock of the shared connection memory budget ({@link budgetWords}). */
  BUDGET_LOCK: 3,
  /** `-v` level, changed by the `verbosity` command in any loop. */
  VERBOSE: 4,
  /** Words reserved (64 bytes: blocks start on their own cache line). */
  SIZE: 16,
} as const;

/** The scalar counters, in block order (every field except `slab`). */
export const SCALARS = [
  "cmd_get",
  "cmd_set",
  "cmd_flush",
  "cmd_touch",
  "cmd_meta",
  "get_hits",
  "get_misses",
  "get_expired",
  "get_flushed",
  "delete_misses",
  "delete_hits",
  "incr_misses",
  "incr_hits",
  "decr_misses",
  "decr_hits",
  "cas_misses",
  "cas_hits",
  "cas_badval",
  "touch_hits",
  "touch_misses",
  "store_too_large",
  "store_no_memory",
  "auth_cmds",
  "auth_errors",
  "bytes_read",
  "bytes_written",
  "rejected_connections",
  "total_connections",
  "curr_connections",
  "conn_yields",
  "idle_kicks",
] as const satisfies readonly (Exclude<keyof Counters, "slab">)[];

const SLAB_NAMES = [
  "get_hits",
  "cmd_set",
  "delete_hits",
  "incr_hits",
  "decr_hits",
  "cas_hits",
  "cas_badval",
  "touch_hits",
] as const satisfies readonly (keyof SlabCounters)[];

/** Scalars rounded up to a cache line (8 doubles). */
const HEAD = Math.ceil(SCALARS.length / 8) * 8;
const ROW = MAX_CLASSES + 1;
/** Doubles per loop block: scalars, then one row per slab counter. */
const BLOCK = HEAD + SLAB_NAMES.length * ROW;

/** The cluster's shared counter memory; structured-cloneable. */
export interface CountersHandle {
  readonly sab: SharedArrayBuffer;
  /** Blocks 0..loops (0 = the main thread), then the reset baseline. */
  readonly loops: number;
  /** Every loop's `stats conns` rows (`conn_table.ts`). */
  readonly conns: SharedArrayBuffer;
}

/** What a loop's {@link Counters} carries when there are several loops. */
export interface SharedCounters {
  /** Worker loops beside the main thread's (`threads` is this + 1). */
  readonly loops: number;
  /** This loop's block index (0 = the main thread). */
  readonly id: number;
  /** Control words, see {@link CTL}. */
  readonly ctl: Int32Array;
  /** Every block, this loop's included; the last one is the baseline. */
  readonly all: Float64Array;
  /** This loop's block. */
  readonly mine: Float64Array;
  /** Every loop's connections, for `stats conns`. */
  readonly conns: ConnTable;
}

/**
 * Creates the shared counter memory for `loops` worker loops plus the main
 * thread, with `connSlots` rows of connection table (`-c` plus listeners).
 */
export function createCountersHandle(
  loops: number,
  connSlots: number,
): CountersHandle {
  const bytes = CTL.SIZE * 4 + (loops + 2) * BLOCK * 8 + BUDGET_WORDS * 8;
  return {
    sab: new SharedArrayBuffer(bytes),
    loops,
    conns: createConnTable(connSlots),
  };
}

/**
 * Counters for loop `id` (0 = main thread) of a cluster: plain scalar
 * fields, slab arrays living in the loop's shared block.
 */
export function attachCounters(h: CountersHandle, id: number): Counters {
  const all = new Float64Array(h.sab, CTL.SIZE * 4, (h.loops + 2) * BLOCK);
  const mine = all.subarray(id * BLOCK, (id + 1) * BLOCK);
  const c = createCounters();
  const row = (i: number) =>
    mine.subarray(HEAD + i * ROW, HEAD + (i + 1) * ROW);
  c.slab = {
    get_hits: row(0),
    cmd_set: row(1),
    delete_hits: row(2),
    incr_hits: row(3),
    decr_hits: row(4),
    cas_hits: row(5),
    cas_badval: row(6),
    touch_hits: row(7),
  };
  c.shared = {
    loops: h.loops,
    id,
    ctl: new Int32Array(h.sab, 0, CTL.SIZE),
    all,
    mine,
    conns: attachConnTable(h.conns),
  };
  return c;
}

/** Doubles of the shared budget: used, four kinds, refusals, closes, spare. */
export const BUDGET_WORDS = 8;

/**
 * The words of the server-wide connection memory budget (`lib/budget.ts`)
 * that every loop draws from: Float64 [used, by kind ×4, refusals, closes],
 * taken under `ctl[CTL.BUDGET_LOCK]`.
 */
export function budgetWords(
  s: SharedCounters,
): { ctl: Int32Array; lock: number; f: Float64Array } {
  const off = s.all.byteOffset + s.all.byteLength;
  return {
    ctl: s.ctl,
    lock: CTL.BUDGET_LOCK,
    f: new Float64Array(s.all.buffer, off, BUDGET_WORDS),
  };
}

/**
 * Copies a loop's scalar counters into its shared block. Called at the end
 * of each batch when there are several loops; plain stores (only this loop
 * writes its block).
 */
export function publishCounters(c: Counters): void {
  const b = c.shared!.mine;
  b[0] = c.cmd_get;
  b[1] = c.cmd_set;
  b[2] = c.cmd_flush;
  b[3] = c.cmd_touch;
  b[4] = c.cmd_meta;
  b[5] = c.get_hits;
  b[6] = c.get_misses;
  b[7] = c.get_expired;
  b[8] = c.get_flushed;
  b[9] = c.delete_misses;
  b[10] = c.delete_hits;
  b[11] = c.incr_misses;
  b[12] = c.incr_hits;
  b[13] = c.decr_misses;
  b[14] = c.decr_hits;
  b[15] = c.cas_misses;
  b[16] = c.cas_hits;
  b[17] = c.cas_badval;
  b[18] = c.touch_hits;
  b[19] = c.touch_misses;
  b[20] = c.store_too_large;
  b[21] = c.store_no_memory;
  b[22] = c.auth_cmds;
  b[23] = c.auth_errors;
  b[24] = c.bytes_read;
  b[25] = c.bytes_written;
  b[26] = c.rejected_connections;
  b[27] = c.total_connections;
  b[28] = c.curr_connections;
  b[29] = c.conn_yields;
  b[30] = c.idle_kicks;
}

/** Sum of blocks `0..loops`, minus the baseline, into `out`. */
function sumInto(sh: SharedCounters, out: Float64Array): void {
  const all = sh.all;
  const base = all.subarray((sh.loops + 1) * BLOCK, (sh.loops + 2) * BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    let v = 0;
    for (let l = 0; l <= sh.loops; l++) v += all[l * BLOCK + i];
    out[i] = v - base[i];
  }
}

/** A plain Counters object read from a block (slab rows copied). */
function fromBlock(b: Float64Array): Counters {
  const c = createCounters();
  const rec = c as unknown as Record<string, number>;
  SCALARS.forEach((name, i) => (rec[name] = b[i]));
  SLAB_NAMES.forEach((name, i) =>
    c.slab[name].set(b.subarray(HEAD + i * ROW, HEAD + (i + 1) * ROW))
  );
  return c;
}

/**
 * The counters `stats` reports: `c` itself with one loop; with several the
 * sum over every loop (this loop's latest values included), with
 * `curr_connections` from the shared connection word.
 */
export function totalCounters(c: Counters): Counters {
  const sh = c.shared;
  if (sh === undefined) return c;
  publishCounters(c);
  const sum = new Float64Array(BLOCK);
  sumInto(sh, sum);
  const t = fromBlock(sum);
  t.curr_connections = Atomics.load(sh.ctl, CTL.CONNS);
  return t;
}

/** Each loop's own counters (index = loop id, 0 = the main thread). */
export function loopCounters(c: Counters): Counters[] {
  const sh = c.shared;
  if (sh === undefined) return [c];
  publishCounters(c);
  const out: Counters[] = [];
  for (let l = 0; l <= sh.loops; l++) {
    out.push(fromBlock(sh.all.subarray(l * BLOCK, (l + 1) * BLOCK)));
  }
  return out;
}

/**
 * `stats reset` across loops: the current sums become the baseline later
 * sums subtract, except the live connection count.
 */
export function resetShared(c: Counters): void {
  const sh = c.shared!;
  publishCounters(c);
  const base = sh.all.subarray((sh.loops + 1) * BLOCK, (sh.loops + 2) * BLOCK);
  const sum = new Float64Array(BLOCK);
  sumInto(sh, sum); // current minus old baseline
  for (let i = 0; i < BLOCK; i++) base[i] += sum[i];
  // curr_connections goes up and down: never part of the reset.
  base[SCALARS.indexOf("curr_connections")] -= sum[
    SCALARS.indexOf("curr_connections")
  ];
}
