/**
 * Per-second rates of a few counters (evictions, expirations, bytes in and
 * out, commands), from a ring of once-a-second samples, so that `/metrics`
 * and the status page can show "per second" without a Prometheus `rate()`.
 * @module
 */

import { totalCounters } from "../protocol/shared_counters.ts";
import type { Context } from "../protocol/context.ts";

/** The counters sampled, in column order. */
export const RATE_NAMES = [
  "evictions",
  "expirations",
  "bytes_read",
  "bytes_written",
  "cmd_get",
  "cmd_set",
] as const;

/** Seconds the rates are averaged over. */
export const WINDOW = 10;

/** A ring of samples: WINDOW + 1 rows of [time, ...counters]. */
export interface Rates {
  rows: Float64Array;
  /** Samples taken so far (the ring's write position is n % (WINDOW + 1)). */
  n: number;
}

const COLS = RATE_NAMES.length + 1;

/** Creates an empty ring. */
export function createRates(): Rates {
  return { rows: new Float64Array((WINDOW + 1) * COLS), n: 0 };
}

/** Takes one sample of the context's counters (call about once a second). */
export function sampleRates(r: Rates, ctx: Context, nowMs: number): void {
  const c = totalCounters(ctx.counters); // every loop's, with -t N
  const st = ctx.store.stats;
  const o = (r.n % (WINDOW + 1)) * COLS;
  r.rows[o] = nowMs;
  r.rows[o + 1] = st.evictions;
  r.rows[o + 2] = st.reclaimed;
  r.rows[o + 3] = c.bytes_read;
  r.rows[o + 4] = c.bytes_written;
  r.rows[o + 5] = c.cmd_get;
  r.rows[o + 6] = c.cmd_set;
  r.n++;
}

/**
 * Per-second rate of each counter over the samples in the ring (0 until
 * two samples exist; a counter that went down, after `stats reset`,
 * reads 0).
 */
export function currentRates(
  r: Rates,
): Record<typeof RATE_NAMES[number], number> {
  const out = {} as Record<typeof RATE_NAMES[number], number>;
  const last = r.n - 1;
  const first = Math.max(0, r.n - 1 - WINDOW);
  const a = (first % (WINDOW + 1)) * COLS;
  const b = (last % (WINDOW + 1)) * COLS;
  const secs = (r.rows[b] - r.rows[a]) / 1000;
  RATE_NAMES.forEach((name, i) => {
    const d = r.rows[b + 1 + i] - r.rows[a + 1 + i];
    out[name] = r.n < 2 || secs <= 0 || d < 0 ? 0 : d / secs;
  });
  return out;
}
