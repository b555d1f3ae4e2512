/**
 * The `denocached_*` families: what memcached's `stats` never showed —
 * per-command latency histograms, hit ratio, per-second rates, process
 * memory, and whether a graceful stop is draining the server.
 * @module
 */

import {
  BOUNDS_SECONDS,
  BUCKETS,
  commandBuckets,
  COMMANDS,
  type Latency,
} from "./latency.ts";
import { currentRates, type Rates, WINDOW } from "./rates.ts";
import type { StatsGroups } from "./stats_groups.ts";
import { fmt, num, sample, type Writer } from "./prom_writer.ts";

/** Process figures for `denocached_*` gauges. */
export interface ProcessInfo {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Reads the process' memory figures (needs no permission). */
export function processInfo(): ProcessInfo {
  const m = Deno.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
  };
}

/** Adds our families. */
export function denocachedFamilies(
  w: Writer,
  g: StatsGroups,
  lat: Latency | null,
  rates: Rates,
  proc: ProcessInfo,
  draining: boolean,
): void {
  if (lat !== null) {
    const name = "denocached_command_duration_seconds";
    const help =
      "Server time per command, from the start of the parse of the read that completed it to its reply being queued.";
    COMMANDS.forEach((command, i) => {
      const b = commandBuckets(lat, i);
      let cum = 0;
      for (const n of b) cum += n;
      if (cum === 0 && command !== "get" && command !== "set") return;
      cum = 0;
      for (let k = 0; k < BUCKETS; k++) {
        cum += b[k];
        sample(w, name, "histogram", help, cum, {
          command,
          le: fmt(BOUNDS_SECONDS[k]),
        }, "_bucket");
      }
      cum += b[BUCKETS];
      sample(
        w,
        name,
        "histogram",
        help,
        cum,
        { command, le: "+Inf" },
        "_bucket",
      );
      sample(w, name, "histogram", help, lat.sums[i], { command }, "_sum");
      sample(w, name, "histogram", help, cum, { command }, "_count");
    });
  }
  const hits = num(g.stats, "get_hits") ?? 0;
  const misses = num(g.stats, "get_misses") ?? 0;
  sample(
    w,
    "denocached_hit_ratio",
    "gauge",
    "get_hits / (get_hits + get_misses) since start or stats reset; 0 before any get.",
    hits + misses === 0 ? 0 : hits / (hits + misses),
  );
  const r = currentRates(rates);
  const per = `per second, averaged over the last ${WINDOW} s`;
  sample(
    w,
    "denocached_evictions_per_second",
    "gauge",
    `Items evicted ${per}.`,
    r.evictions,
  );
  sample(
    w,
    "denocached_expirations_per_second",
    "gauge",
    `Expired items reclaimed ${per}.`,
    r.expirations,
  );
  sample(
    w,
    "denocached_read_bytes_per_second",
    "gauge",
    `Bytes read from clients ${per}.`,
    r.bytes_read,
  );
  sample(
    w,
    "denocached_written_bytes_per_second",
    "gauge",
    `Bytes sent to clients ${per}.`,
    r.bytes_written,
  );
  sample(
    w,
    "denocached_process_resident_memory_bytes",
    "gauge",
    "Resident set size of the process.",
    proc.rss,
  );
  sample(
    w,
    "denocached_heap_used_bytes",
    "gauge",
    "JavaScript heap in use.",
    proc.heapUsed,
  );
  sample(
    w,
    "denocached_heap_total_bytes",
    "gauge",
    "JavaScript heap reserved.",
    proc.heapTotal,
  );
  sample(
    w,
    "denocached_external_memory_bytes",
    "gauge",
    "Memory of buffers outside the JavaScript heap (item slabs live here).",
    proc.external,
  );
  sample(
    w,
    "denocached_draining",
    "gauge",
    "1 while a graceful stop is in progress.",
    draining ? 1 : 0,
  );
  loopFamilies(w, g.loops);
}

/**
 * Per event loop of `-t N` (from `stats loops`; loop 0 is the main thread):
 * open connections, connections accepted, and gets and sets served.
 */
function loopFamilies(w: Writer, loops: Map<string, string>): void {
  const ids = new Set<string>();
  for (const k of loops.keys()) {
    const m = /^loop_(\d+):/.exec(k);
    if (m) ids.add(m[1]);
  }
  for (const loop of ids) {
    const v = (f: string) => Number(loops.get(`loop_${loop}:${f}`) ?? 0);
    sample(
      w,
      "denocached_loop_current_connections",
      "gauge",
      "Open client connections of each event loop (-t N; 0 = main thread).",
      v("curr_connections"),
      { loop },
    );
    sample(
      w,
      "denocached_loop_connections_total",
      "counter",
      "Client connections each event loop has accepted.",
      v("total_connections"),
      { loop },
    );
    for (const command of ["get", "set"]) {
      sample(
        w,
        "denocached_loop_commands_total",
        "counter",
        "Retrieval (get) and storage (set) commands each event loop served.",
        v(`cmd_${command}`),
        { loop, command },
      );
    }
  }
}
