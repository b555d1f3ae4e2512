/**
 * The figures `bench --metrics` prints: per-round on/off ratios (solo and
 * paired windows), their medians and ranges per workload, and the two
 * tables with the notes that say what was measured and how.
 * @module
 */

import { cpuUsPerReq, meanOps, type Window } from "./metrics_windows.ts";
import { fmtFixed, fmtInt, markdownTable, median } from "./table.ts";

/** The cost the issue allows: on/off within 2%. */
export const TARGET = 0.02;

/** The servers of a round. */
export type Kind = "memcached" | "off" | "on";

/** Everything one round measured. */
export interface RoundResult {
  /** Solo windows per server, in the order they ran. */
  solo: Record<Kind, Window[]>;
  /** Paired windows: off and on driven at once (index i of both is one window). */
  paired: { off: Window[]; on: Window[] };
}

/** The on/off ratios of one round (NaN where a side is missing). */
export interface RoundRatios {
  /** Solo: mean on ops/s ÷ mean off ops/s. */
  soloOps: number;
  /** Solo: on CPU µs/request ÷ off's. */
  soloCpu: number;
  /** Paired: on's commands ÷ off's over the round's paired windows. */
  pairedOps: number;
  /** Paired: on CPU µs/request ÷ off's. */
  pairedCpu: number;
}

/** The round's ratios. */
export function roundRatios(r: RoundResult): RoundRatios {
  const sum = (ws: Window[]) => ws.reduce((s, w) => s + w.ops, 0);
  return {
    soloOps: meanOps(r.solo.on) / meanOps(r.solo.off),
    soloCpu: cpuUsPerReq(r.solo.on) / cpuUsPerReq(r.solo.off),
    pairedOps: r.paired.on.length ? sum(r.paired.on) / sum(r.paired.off) : NaN,
    pairedCpu: cpuUsPerReq(r.paired.on) / cpuUsPerReq(r.paired.off),
  };
}

/** "min–max" of per-round ratios. */
function range(xs: number[]): string {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return "-";
  return `${fmtFixed(Math.min(...v), 3)}–${fmtFixed(Math.max(...v), 3)}`;
}

/** "median (min–max)" of per-round ratios. */
function spread(xs: number[]): string {
  const v = xs.filter(Number.isFinite);
  return v.length ? `${fmtFixed(median(v), 3)} (${range(v)})` : "-";
}

/** One workload's rows of both tables. */
export interface WorkloadSummary {
  solo: string[];
  paired: string[];
  /** Whether the paired medians are within {@link TARGET} (null: not measured). */
  met: boolean | null;
}

/** Summarizes the rounds of workload `id`. */
export function summarize(id: string, rounds: RoundResult[]): WorkloadSummary {
  const rs = rounds.map(roundRatios);
  const per = (k: Kind, f: (ws: Window[]) => number) =>
    median(rounds.map((r) => r.solo[k]).filter((ws) => ws.length).map(f));
  const mcOps = per("memcached", meanOps);
  const offOps = per("off", meanOps), onOps = per("on", meanOps);
  const pairedOps = median(rs.map((r) => r.pairedOps));
  const pairedCpu = median(rs.map((r) => r.pairedCpu));
  const met = Number.isFinite(pairedOps) && Number.isFinite(pairedCpu)
    ? pairedOps >= 1 - TARGET && pairedCpu <= 1 + TARGET
    : null;
  const pairedUs = (k: "off" | "on") =>
    median(rounds.map((r) => cpuUsPerReq(r.paired[k])));
  return {
    solo: [
      id,
      fmtInt(mcOps),
      fmtInt(offOps),
      fmtInt(onOps),
      fmtFixed(median(rs.map((r) => r.soloOps)), 3),
      range(rs.map((r) => r.soloOps)),
      `${fmtFixed(per("memcached", cpuUsPerReq), 2)} / ${
        fmtFixed(per("off", cpuUsPerReq), 2)
      } / ${fmtFixed(per("on", cpuUsPerReq), 2)}`,
      spread(rs.map((r) => r.soloCpu)),
      fmtFixed(offOps / mcOps, 2),
      fmtFixed(onOps / mcOps, 2),
    ],
    paired: [
      id,
      String(rs.filter((r) => Number.isFinite(r.pairedOps)).length),
      spread(rs.map((r) => r.pairedOps)),
      `${fmtFixed(pairedUs("off"), 2)} / ${fmtFixed(pairedUs("on"), 2)}`,
      spread(rs.map((r) => r.pairedCpu)),
      Number.isFinite(pairedCpu)
        ? `${fmtFixed((pairedCpu - 1) * 100, 1)}%`
        : "-",
      met === null ? "-" : met ? "met" : "NOT met",
    ],
    met,
  };
}

/** The printed result: both tables and what their figures are. */
export function renderMetricsTables(
  rows: WorkloadSummary[],
  how: { duration: number; pairs: number; scrapeMs: number },
): string {
  const solo = markdownTable(
    [
      "workload",
      "memcached ops/s",
      "off ops/s",
      "on ops/s",
      "on/off ops/s",
      "range",
      "CPU µs/req mc / off / on",
      "CPU on/off (range)",
      "off/mc",
      "on/mc",
    ],
    rows.map((r) => r.solo),
    new Set([1, 2, 3, 4, 8, 9]),
  );
  const paired = markdownTable(
    [
      "workload",
      "rounds",
      "on/off ops (range)",
      "CPU µs/req off / on",
      "CPU on/off (range)",
      "CPU cost",
      `within ${TARGET * 100}%`,
    ],
    rows.map((r) => r.paired),
    new Set([1, 5]),
  );
  const scrape = how.scrapeMs > 0
    ? `"on" is scraped (GET /metrics) every ${how.scrapeMs} ms for its whole life, so its CPU includes the scrapes`
    : `"on" is not scraped during the run`;
  return [
    `Solo windows (one server driven at a time, ABBA order: off,on,on,off then on,off,off,on; ${how.duration} s each):`,
    solo,
    "",
    `Paired windows (off and on driven at once, both on the server CPU, one mcload each; ${how.pairs} × ${how.duration} s per round):`,
    paired,
    "",
    "  * Every figure is a median over rounds of that round's value; ranges are the min–max over rounds. Each round starts fresh servers.",
    "  * CPU µs/req: the server's utime + stime (all threads, /proc/PID/stat, 10 ms ticks) over the window ÷ requests served (commands, a multi-get counting once, + 1 handshake get per connection).",
    "  * Solo on/off compares windows seconds apart: on a shared machine it carries the machine's drift. Paired windows see the same machine at the same moment: their on/off ops (commands of on ÷ commands of off, equal CPU share) and CPU on/off are the cost of --metrics. Target: on/off ops ≥ 0.98 and CPU on/off ≤ 1.02.",
    `  * ${scrape}; after the round its latency histograms must hold the commands it answered.`,
    "  * Instructions per request are not shown: they need hardware counters (perf stat -e instructions), which this machine may not expose (see the header line).",
  ].join("\n");
}
