/**
 * The metrics listener (`--metrics=HOST:PORT`): its own HTTP port, next to
 * the cache's, serving
 *
 * - `GET /metrics`    Prometheus text format (memcached_exporter's names + ours)
 * - `GET /stats.json` every `stats` group, plus our figures, as JSON
 * - `GET /healthz`    200 while accepting, 503 once a graceful stop began
 * - `GET /`           the live status page
 *
 * It reads the shared Context synchronously per request and never writes
 * to it, so cache clients see no difference. A rendered `/metrics` or
 * `/stats.json` is reused for {@link RENDER_REUSE_MS}, so however many
 * clients scrape, rendering takes at most a few milliseconds of the
 * cache's event loop per second.
 * @module
 */

import type { MetricsAddress } from "../config.ts";
import type { Context } from "../protocol/context.ts";
import {
  BOUNDS_SECONDS,
  commandBuckets,
  COMMANDS,
  totalLatency,
} from "./latency.ts";
import { CONTENT_TYPE, renderMetrics } from "./exposition.ts";
import { processInfo } from "./denocached_families.ts";
import { createRates, currentRates, sampleRates } from "./rates.ts";
import { type Group, GROUPS, readStatsGroups } from "./stats_groups.ts";
import { type HttpResponse, type HttpServer, serveHttp, text } from "./http.ts";
import { PAGE_HTML } from "./page.ts";

/** How long a rendered `/metrics` or `/stats.json` body is served again. */
export const RENDER_REUSE_MS = 200;

/** A rendered body and when (performance.now()) it was rendered. */
interface Rendered {
  at: number;
  body: string;
}

/**
 * The groups `/metrics` draws on: not `stats conns`, a line per connection
 * that no family shows (it is for `/stats.json`): with 100 clients it was
 * about a third of a scrape's CPU (3.5 ms a scrape, now 2.5 ms).
 */
const METRICS_GROUPS: readonly Group[] = GROUPS.filter((g) => g !== "conns");

/** A running metrics listener. */
export interface MetricsServer {
  readonly hostname: string;
  readonly port: number;
  /** A graceful stop began: `/healthz` answers 503 from now on. */
  drain(): void;
  /** Stops the listener and closes its connections. */
  close(): Promise<void>;
}

/** Binds the metrics listener for `ctx` (throws if it cannot listen). */
export function startMetricsServer(
  ctx: Context,
  addr: MetricsAddress,
): MetricsServer {
  const rates = createRates();
  let draining = false;
  sampleRates(rates, ctx, Date.now());
  const timer = setInterval(() => sampleRates(rates, ctx, Date.now()), 1000);
  let http: HttpServer;
  try {
    http = serveHttp(addr.hostname, addr.port, addr.maxConnections, route);
  } catch (e) {
    clearInterval(timer);
    throw e;
  }

  const metricsBody: Rendered = { at: -Infinity, body: "" };
  const jsonBody: Rendered = { at: -Infinity, body: "" };
  function reuse(r: Rendered, render: () => string): string {
    const now = performance.now();
    if (now - r.at >= RENDER_REUSE_MS) {
      r.body = render();
      r.at = now;
    }
    return r.body;
  }

  function route(path: string): HttpResponse {
    try {
      return answer(path);
    } finally {
      // Reading the store's stats is store work: with -t N other loops
      // may wait on what it took, as after a batch of commands.
      ctx.store.release();
    }
  }

  function answer(path: string): HttpResponse {
    switch (path) {
      case "/metrics": {
        const body = reuse(metricsBody, () =>
          renderMetrics(
            readStatsGroups(ctx, METRICS_GROUPS),
            ctx.latency && totalLatency(ctx.latency),
            rates,
            processInfo(),
            draining,
          ));
        return { status: 200, contentType: CONTENT_TYPE, body };
      }
      case "/stats.json":
        return {
          status: 200,
          contentType: "application/json",
          body: reuse(jsonBody, () => JSON.stringify(statsJson())),
        };
      case "/healthz":
        return draining ? text(503, "draining\n") : text(200, "ok\n");
      case "/":
      case "/index.html":
        return {
          status: 200,
          contentType: "text/html; charset=utf-8",
          body: PAGE_HTML,
          headers: {
            "Content-Security-Policy":
              "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
          },
        };
      case "/favicon.ico":
        return { status: 204, contentType: "image/x-icon", body: "" };
      default:
        return text(404, "not found: try /, /metrics, /stats.json, /healthz\n");
    }
  }

  function statsJson(): Record<string, unknown> {
    const g = readStatsGroups(ctx);
    const out: Record<string, unknown> = {};
    for (const name of GROUPS) out[name] = toObject(g[name]);
    const lat = ctx.latency && totalLatency(ctx.latency);
    const commands: Record<string, { counts: number[]; sum: number }> = {};
    if (lat !== null) {
      COMMANDS.forEach((c, i) => {
        commands[c] = { counts: commandBuckets(lat, i), sum: lat.sums[i] };
      });
    }
    out.denocached = {
      draining,
      listen: `${ctx.config.listen}:${ctx.config.port}`,
      metrics: `${addr.hostname}:${http.port}`,
      latency: { bounds: BOUNDS_SECONDS, commands, clock: lat?.clockName },
      rates: currentRates(rates),
      process: processInfo(),
    };
    return out;
  }

  return {
    hostname: addr.hostname,
    port: http.port,
    drain() {
      draining = true;
      metricsBody.at = jsonBody.at = -Infinity; // show it at once
    },
    async close() {
      clearInterval(timer);
      await http.close();
    },
  };
}

/** Stats values as JSON: numbers where memcached prints plain numbers. */
function toObject(m: Map<string, string>): Record<string, string | number> {
  const o: Record<string, string | number> = {};
  for (const [k, v] of m) {
    o[k] = /^-?(0|[1-9]\d*)(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return o;
}
