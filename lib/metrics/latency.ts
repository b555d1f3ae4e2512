/**
 * Per-command latency histograms: fixed arrays of bucket counters, filled
 * by the protocol's feed loop only when `--metrics` is on (the loop checks
 * `ctx.latency !== null`, so with metrics off the cost is that null check).
 *
 * What is measured: for each command the protocol answers, the time from
 * the start of the `feed` call that completes it (the moment its last input
 * bytes are handed to the parser) to the end of that call, when the last
 * reply of the batch is queued: replies leave in one socket write per
 * batch, so that is when this command's reply can go out. Every command of
 * a pipelined batch gets the batch's time, as its client sees it; socket
 * and kernel time are not included. One batch in {@link SAMPLE_EVERY} is
 * timed, with two clock readings (not per command), from `clock_gettime`
 * over FFI where it is granted (`clock.ts`: `performance.now()` alone would
 * cost a few per cent of a small request); the batches between take the
 * last timed one's duration, so counts stay exact and the shape is that of
 * the sampled batches. Per command only a name lookup and a counter
 * increment.
 * Buckets are powers of two of microseconds.
 * @module
 */

import { type MonotonicClock, PERFORMANCE_CLOCK } from "./clock.ts";
import { Op } from "../protocol/binary/constants.ts";

/** Command labels, in index order; the last collects everything else. */
export const COMMANDS = [
  "get",
  "gets",
  "gat",
  "gats",
  "set",
  "add",
  "replace",
  "append",
  "prepend",
  "cas",
  "incr",
  "decr",
  "delete",
  "touch",
  "mg",
  "ms",
  "md",
  "ma",
  "mn",
  "me",
  "stats",
  "flush_all",
  "version",
  "other",
] as const;

/** Number of finite buckets; upper bounds are 2^i microseconds. */
export const BUCKETS = 22;
/** Finite bucket upper bounds in seconds: 1 µs … ~2.1 s. */
export const BOUNDS_SECONDS: readonly number[] = Array.from(
  { length: BUCKETS },
  (_, i) => 2 ** i / 1e6,
);
const STRIDE = BUCKETS + 1; // + the +Inf bucket
const OTHER = COMMANDS.length - 1;
const GET = 0;
const GETS = 1;
const SET = 4;
const CAS = COMMANDS.indexOf("cas");

/** The histograms of every command: plain typed arrays, never resized. */
export interface Latency {
  /** counts[cmd * (BUCKETS + 1) + bucket], non-cumulative; last is +Inf. */
  counts: Float64Array;
  /** Sum of observed seconds per command. */
  sums: Float64Array;
  /** Commands of each kind in the batch being parsed (scratch). */
  pending: Float64Array;
  /** Kinds with a non-zero `pending`, in the first `touchedLen` slots. */
  touched: Int32Array;
  touchedLen: number;
  /** Batches with commands to go before the next timed one ({@link beginBatch}). */
  skip: number;
  /** The last timed batch's bucket and duration (ms), for the untimed ones. */
  lastBucket: number;
  lastMs: number;
  /** Monotonic milliseconds (see `clock.ts`: a vDSO call where FFI is granted). */
  now: () => number;
  /** Releases the clock's handle. */
  closeClock: () => void;
  /** The clock's name (see `clock.ts`). */
  clockName: string;
  /**
   * With `-t N`: every loop's histograms (blocks of {@link LATENCY_DOUBLES},
   * one per loop, this one's included), summed by {@link totalLatency}.
   */
  all?: Float64Array;
}

/** Doubles of one loop's histograms in shared memory: counts, then sums. */
export const LATENCY_DOUBLES = COMMANDS.length * (BUCKETS + 2);

/**
 * Creates zeroed histograms timed by `clock` (by default
 * `performance.now()`, which holds nothing; the metrics hooks install the
 * cheaper FFI clock with {@link setClock} while the server runs).
 */
export function createLatency(
  clock: MonotonicClock = PERFORMANCE_CLOCK,
  shared: { all: Float64Array; loop: number } | null = null,
): Latency {
  const n = COMMANDS.length * STRIDE;
  const block = shared?.all.subarray(
    shared.loop * LATENCY_DOUBLES,
    (shared.loop + 1) * LATENCY_DOUBLES,
  );
  return {
    now: clock.now,
    closeClock: clock.close,
    clockName: clock.name,
    // -t N: this loop's block of the shared histograms (written only here).
    counts: block ? block.subarray(0, n) : new Float64Array(n),
    sums: block ? block.subarray(n) : new Float64Array(COMMANDS.length),
    ...(shared ? { all: shared.all } : {}),
    pending: new Float64Array(COMMANDS.length),
    touched: new Int32Array(COMMANDS.length),
    touchedLen: 0,
    skip: 0,
    lastBucket: 0,
    lastMs: 0,
  };
}

/**
 * Notes one answered command of the current batch, whose line starts at
 * `buf[p]`. `getMore` is the session's paused-multiget state: a
 * continuation counts as `get`.
 */
export function countCommand(
  lat: Latency,
  buf: Uint8Array,
  p: number,
  le: number,
  getMore: number,
): void {
  const cmd = getMore !== 0 ? GET : commandIndex(buf, p, le);
  if (lat.pending[cmd]++ === 0) lat.touched[lat.touchedLen++] = cmd;
}

/**
 * Notes one answered binary request of the current batch: `cmd` is its
 * opcode with the quiet bit folded away (GETQ counts as GET), `cas` its
 * request cas (a SET with one is a `cas`, as in the text protocol).
 */
export function countBinary(lat: Latency, cmd: number, cas: number): void {
  const i = cas !== 0 && cmd === Op.Set ? CAS : BINARY_LABEL[cmd];
  if (lat.pending[i]++ === 0) lat.touched[lat.touchedLen++] = i;
}

/**
 * Binary opcodes (loud ones; the quiet ones fold onto them) under the text
 * protocol's label for the same command; NOOP, QUIT, SASL and unknown
 * opcodes are `other`.
 */
export const BINARY_LABEL: Uint8Array = (() => {
  const m = new Uint8Array(256).fill(OTHER);
  const at = (name: typeof COMMANDS[number]) => COMMANDS.indexOf(name);
  const pairs: [number, typeof COMMANDS[number]][] = [
    [Op.Get, "get"],
    [Op.GetK, "get"],
    [Op.Set, "set"],
    [Op.Add, "add"],
    [Op.Replace, "replace"],
    [Op.Append, "append"],
    [Op.Prepend, "prepend"],
    [Op.Delete, "delete"],
    [Op.Increment, "incr"],
    [Op.Decrement, "decr"],
    [Op.Touch, "touch"],
    [Op.Gat, "gat"],
    [Op.GatK, "gat"],
    [Op.Stat, "stats"],
    [Op.Flush, "flush_all"],
    [Op.Version, "version"],
  ];
  for (const [op, name] of pairs) m[op] = at(name);
  return m;
})();

/**
 * One batch in this many is timed; the others take the last timed batch's
 * duration (sample and hold). Two clock readings per batch cost ~4% of a
 * small request's server CPU (measured by `deno task bench --metrics`);
 * one batch in 8 keeps the histograms' shape, exact counts included, for
 * a quarter of that.
 */
export const SAMPLE_EVERY = 8;

/**
 * Starts a batch: its start time when this batch is to be timed, else -1
 * (see {@link SAMPLE_EVERY}). Pass the result to {@link endBatch}.
 */
export function beginBatch(lat: Latency): number {
  return lat.skip > 0 ? -1 : lat.now();
}

/**
 * Ends a batch that {@link beginBatch} started (`t0`): every command
 * counted since gets the batch's duration, since its reply leaves with the
 * batch's one socket write — or, in an untimed batch, the last timed one's.
 */
export function endBatch(lat: Latency, t0: number): void {
  if (lat.touchedLen === 0) return;
  let ms: number;
  let b: number;
  if (t0 < 0) {
    lat.skip--;
    ms = lat.lastMs;
    b = lat.lastBucket;
  } else {
    ms = lat.now() - t0;
    const us = ms * 1000;
    // Bucket i holds (2^(i-1), 2^i] µs; clz32 finds the power of two.
    b = us <= 1 ? 0 : 32 - Math.clz32(Math.ceil(us) - 1);
    if (b > BUCKETS) b = BUCKETS;
    lat.lastMs = ms;
    lat.lastBucket = b;
    lat.skip = SAMPLE_EVERY - 1;
  }
  for (let i = 0; i < lat.touchedLen; i++) {
    const cmd = lat.touched[i];
    const n = lat.pending[cmd];
    lat.counts[cmd * STRIDE + b] += n;
    lat.sums[cmd] += n * ms / 1000;
    lat.pending[cmd] = 0;
  }
  lat.touchedLen = 0;
}

/** Index into {@link COMMANDS} of the command named by the line's first token. */
export function commandIndex(buf: Uint8Array, p: number, le: number): number {
  while (p < le && buf[p] === 32) p++;
  // get, set and gets without the scan below: this runs once per command,
  // and the name-by-name search cost a few per cent of a pipelined get.
  if (p + 3 <= le && buf[p + 1] === 101 && buf[p + 2] === 116) {
    const c0 = buf[p];
    const end3 = p + 3 === le || buf[p + 3] === 32;
    if (c0 === 103) {
      if (end3) return GET;
      if (buf[p + 3] === 115 && (p + 4 === le || buf[p + 4] === 32)) {
        return GETS;
      }
    } else if (c0 === 115 && end3) return SET;
  }
  let e = p;
  while (e < le && buf[e] !== 32 && e - p < 10) e++;
  const n = e - p;
  const c0 = buf[p];
  if (n === 2 && c0 === 109) { // m?
    switch (buf[p + 1]) {
      case 103:
        return 14;
      case 115:
        return 15;
      case 100:
        return 16;
      case 97:
        return 17;
      case 110:
        return 18;
      case 101:
        return 19;
    }
    return OTHER;
  }
  for (let i = 0; i < OTHER; i++) {
    const name = NAMES[i];
    if (name.length !== n || name[0] !== c0) continue;
    let k = 1;
    while (k < n && name[k] === buf[p + k]) k++;
    if (k === n) return i;
  }
  return OTHER;
}

const NAMES = COMMANDS.map((c) => new TextEncoder().encode(c));

/** Count of samples of command `cmd` (index into {@link COMMANDS}). */
export function commandCount(lat: Latency, cmd: number): number {
  let n = 0;
  for (let b = 0; b < STRIDE; b++) n += lat.counts[cmd * STRIDE + b];
  return n;
}

/** Non-cumulative bucket counts of command `cmd` (a copy, for export). */
export function commandBuckets(lat: Latency, cmd: number): number[] {
  return Array.from(lat.counts.subarray(cmd * STRIDE, (cmd + 1) * STRIDE));
}

/**
 * Times `lat` by `clock` from now on and releases the clock it had
 * (`setClock(lat, PERFORMANCE_CLOCK)` when the server stops: a batch that
 * still ends later is timed with `performance.now()`). Call it between
 * batches only, since a batch's two readings must come from one clock.
 */
export function setClock(lat: Latency, clock: MonotonicClock): void {
  const close = lat.closeClock;
  lat.now = clock.now;
  lat.closeClock = clock.close;
  lat.clockName = clock.name;
  close();
}

/**
 * The histograms to export: `lat` itself with one loop, else a copy
 * summing every loop's block.
 */
export function totalLatency(lat: Latency): Latency {
  const all = lat.all;
  if (all === undefined) return lat;
  const t = createLatency();
  const n = COMMANDS.length * STRIDE;
  for (let o = 0; o < all.length; o += LATENCY_DOUBLES) {
    for (let i = 0; i < n; i++) t.counts[i] += all[o + i];
    for (let i = 0; i < COMMANDS.length; i++) t.sums[i] += all[o + n + i];
  }
  t.clockName = lat.clockName;
  return t;
}

/** Zeroes every histogram (`stats reset` leaves them: they are ours). */
export function resetLatency(lat: Latency): void {
  lat.counts.fill(0);
  lat.sums.fill(0);
}
