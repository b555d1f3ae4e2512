/**
 * The in-process stats reader behind /metrics and /stats.json: it reads
 * every group without storing into the server's context (a store into a
 * field V8 treats as constant throws away the optimized code of the hot
 * protocol functions: seen as 2–4% of a pipelined workload's CPU after the
 * first scrape) and without counting itself in the latency histograms.
 * @module
 */

import assert from "node:assert/strict";
import { createContext } from "../lib/server/context.ts";
import { defaultConfig } from "../lib/config.ts";
import { createSession, feed } from "../lib/protocol/session.ts";
import { GROUPS, readStatsGroups } from "../lib/metrics/stats_groups.ts";
import { commandCount, COMMANDS } from "../lib/metrics/latency.ts";

function context(verbose = 0) {
  const config = {
    ...defaultConfig(),
    verbose,
    metrics: { hostname: "127.0.0.1", port: 0, maxConnections: 4 },
  };
  return createContext(config, () => {});
}

Deno.test("stats reader: every group, no store into the context", () => {
  const ctx = context();
  const s = createSession(ctx);
  const set = new TextEncoder().encode("set k 0 0 1\r\nx\r\n");
  feed(s, set, 0, set.length);
  const writes: string[] = [];
  const watched = new Proxy(ctx, {
    set(t, k, v) {
      writes.push(String(k));
      return Reflect.set(t, k, v);
    },
  });
  const g = readStatsGroups(watched);
  assert.deepEqual(writes, []);
  for (const name of GROUPS) assert.ok(g[name] instanceof Map, name);
  assert.equal(g.stats.get("cmd_set"), "1");
  assert.equal(g.stats.get("curr_items"), "1");
  assert.equal(g.settings.get("maxbytes"), String(64 * 1024 * 1024));
  // Only the client's set is in the histograms, not the reader's stats.
  const lat = ctx.latency!;
  assert.equal(commandCount(lat, COMMANDS.indexOf("set")), 1);
  assert.equal(commandCount(lat, COMMANDS.indexOf("stats")), 0);
});

Deno.test("stats reader: not logged at -vv", () => {
  const ctx = context(2);
  const logged: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => void logged.push(a.join(" "));
  try {
    readStatsGroups(ctx);
  } finally {
    console.error = error;
  }
  assert.deepEqual(logged, []);
});

Deno.test("stats reader: groups left out are empty, not run", () => {
  const ctx = context();
  const g = readStatsGroups(ctx, ["stats", "settings"]);
  assert.ok(Number(g.stats.get("curr_connections")) >= 0);
  assert.ok(g.settings.size > 0);
  assert.equal(g.conns.size, 0);
  assert.equal(g.items.size, 0);
});
