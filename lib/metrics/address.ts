/**
 * Parses the metrics listener's address, `--metrics=[HOST:]PORT`:
 * `9150`, `:9150`, `0.0.0.0:9150`, `[::1]:9150`. The host defaults to
 * 127.0.0.1, so metrics stay local unless asked otherwise.
 * @module
 */

import type { MetricsAddress } from "../config.ts";
import { DEFAULT_METRICS_CONNECTIONS } from "./limits.ts";

/** Parses `v`; returns an error message instead of throwing. */
export function parseMetricsAddress(v: string): MetricsAddress | string {
  let host = "127.0.0.1";
  let port = v;
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(v);
  if (m) {
    host = m[1];
    port = m[2];
  } else {
    const c = v.lastIndexOf(":");
    if (c >= 0) {
      if (v.indexOf(":") !== c) {
        return `invalid address '${v}' (write IPv6 as [::1]:9150)`;
      }
      if (c > 0) host = v.slice(0, c);
      port = v.slice(c + 1);
    }
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    return `invalid port in '${v}' (expected [HOST:]PORT)`;
  }
  return {
    hostname: host,
    port: Number(port),
    maxConnections: DEFAULT_METRICS_CONNECTIONS,
  };
}
