/**
 * `/metrics`: memcached_exporter's families, then ours, in the Prometheus
 * text exposition format.
 * @module
 */

import type { Latency } from "./latency.ts";
import type { Rates } from "./rates.ts";
import type { StatsGroups } from "./stats_groups.ts";
import { createWriter, render } from "./prom_writer.ts";
import { memcachedFamilies } from "./memcached_families.ts";
import { denocachedFamilies, type ProcessInfo } from "./denocached_families.ts";

export { CONTENT_TYPE } from "./prom_writer.ts";

/** Renders the whole exposition. */
export function renderMetrics(
  g: StatsGroups,
  lat: Latency | null,
  rates: Rates,
  proc: ProcessInfo,
  draining: boolean,
): string {
  const w = createWriter();
  memcachedFamilies(w, g);
  denocachedFamilies(w, g, lat, rates, proc, draining);
  return render(w);
}
