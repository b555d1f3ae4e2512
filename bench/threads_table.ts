/**
 * The threaded comparison's figures and tables: per workload, per thread
 * count (-t 1, -t 2) and per server, the samples of every round; rendered
 * as a throughput table (ratios denocached ÷ memcached) and a CPU table
 * (µs of server CPU per request, and its -t 2 ÷ -t 1 ratio per server).
 * @module
 */

import { fmtFixed, fmtInt, markdownTable, median } from "./table.ts";

/** Thread counts compared. */
export const THREADS = [1, 2] as const;
/** One of {@link THREADS}. */
export type Threads = typeof THREADS[number];
/** The two servers. */
export type Server = "memcached" | "denocached";
/** The targets: denocached -t 2 ≥ 1.0 × memcached -t 2; CPU/req at -t 2 ≤ 1.10 × -t 1. */
export const TARGETS = { ratioT2: 1.0, cpuT2overT1: 1.1 } as const;

/** One run's figures. */
export interface ThreadSample {
  /** Commands per second. */
  ops: number;
  /** p99 µs. */
  p99: number;
  /** Server CPU µs per request (from /proc/PID/stat through cat). */
  cpuUs: number;
}

/** All samples of one workload: `samples[threads][server]`, plus failures. */
export interface ThreadRow {
  /** "W1" … "W4". */
  id: string;
  /** Samples by thread count and server. */
  samples: Record<Threads, Record<Server, ThreadSample[]>>;
  /** Number of failed runs. */
  failures: number;
}

/** An empty row for workload `id`. */
export function emptyThreadRow(id: string): ThreadRow {
  const per = () => ({ memcached: [], denocached: [] });
  return { id, samples: { 1: per(), 2: per() }, failures: 0 };
}

function med(r: ThreadRow, t: Threads, s: Server, f: keyof ThreadSample) {
  return median(r.samples[t][s].map((x) => x[f]));
}

function status(x: number, ok: boolean): string {
  return Number.isFinite(x) ? (ok ? "met" : "NOT met") : "-";
}

/** Throughput: ops/s of both servers at -t 1 and -t 2 and the ratios (medians over rounds). */
export function throughputTable(rows: ThreadRow[]): string {
  const body = rows.map((r) => {
    const cells = [r.id];
    let ratio2 = NaN;
    for (const t of THREADS) {
      const mc = med(r, t, "memcached", "ops");
      const dc = med(r, t, "denocached", "ops");
      cells.push(fmtInt(mc), fmtInt(dc), fmtFixed(dc / mc, 2));
      if (t === 2) ratio2 = dc / mc;
    }
    cells.push(status(ratio2, ratio2 >= TARGETS.ratioT2));
    return cells;
  });
  return markdownTable(
    [
      "workload",
      "mc -t 1 ops/s",
      "ours -t 1 ops/s",
      "ratio -t 1",
      "mc -t 2 ops/s",
      "ours -t 2 ops/s",
      "ratio -t 2",
      `-t 2 ≥ ${TARGETS.ratioT2.toFixed(1)}`,
    ],
    body,
    new Set([1, 2, 3, 4, 5, 6]),
  );
}

/** CPU per request: µs at -t 1 and -t 2 for each server, and -t 2 ÷ -t 1. */
export function cpuTable(rows: ThreadRow[]): string {
  const body = rows.map((r) => {
    const cells = [r.id];
    let oursRatio = NaN;
    for (const s of ["memcached", "denocached"] as const) {
      const c1 = med(r, 1, s, "cpuUs"), c2 = med(r, 2, s, "cpuUs");
      cells.push(fmtFixed(c1, 2), fmtFixed(c2, 2), fmtFixed(c2 / c1, 2));
      if (s === "denocached") oursRatio = c2 / c1;
    }
    cells.push(status(oursRatio, oursRatio <= TARGETS.cpuT2overT1));
    return cells;
  });
  return markdownTable(
    [
      "workload",
      "mc µs/req -t 1",
      "mc µs/req -t 2",
      "mc -t 2/-t 1",
      "ours µs/req -t 1",
      "ours µs/req -t 2",
      "ours -t 2/-t 1",
      `ours ≤ ${TARGETS.cpuT2overT1.toFixed(2)}`,
    ],
    body,
    new Set([1, 2, 3, 4, 5, 6]),
  );
}
