/**
 * The metrics listener: /metrics parsed by a real Prometheus text-format
 * parser (memcached_exporter's families present with their types, counters
 * equal to `stats` after a workload), /stats.json, /healthz during a
 * graceful stop, its connection limit, and hostile HTTP clients that must
 * not slow cache clients.
 * @module
 */

import assert from "node:assert/strict";
function assertEquals(a: unknown, b: unknown, msg?: string): void {
  if (msg === undefined) assert.equal(a, b);
  else assert.equal(a, b, msg);
}
// A test-only npm package, pinned inline (kept out of the published
// package's dependencies, as in _ketama_client.ts).
// deno-lint-ignore no-import-prefix
import parsePrometheusTextFormat from "npm:parse-prometheus-text-format@1.1.1";
import { raw, settle, withServer } from "./_helpers.ts";

interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

async function get(port: number, path: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return {
    status: r.status,
    type: r.headers.get("content-type"),
    body: await r.text(),
  };
}

function statsMap(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of text.split("\r\n")) {
    const p = l.split(" ");
    if (p[0] === "STAT") m.set(p[1], p.slice(2).join(" "));
  }
  return m;
}

/** memcached_exporter families we claim, with their types. */
const CLAIMED: Record<string, string> = {
  memcached_up: "gauge",
  memcached_version: "gauge",
  memcached_commands_total: "counter",
  memcached_uptime_seconds: "counter",
  memcached_time_seconds: "gauge",
  memcached_process_user_cpu_seconds_total: "counter",
  memcached_process_system_cpu_seconds_total: "counter",
  memcached_current_bytes: "gauge",
  memcached_limit_bytes: "gauge",
  memcached_current_items: "gauge",
  memcached_items_total: "counter",
  memcached_read_bytes_total: "counter",
  memcached_written_bytes_total: "counter",
  memcached_current_connections: "gauge",
  memcached_max_connections: "gauge",
  memcached_connections_total: "counter",
  memcached_connections_rejected_total: "counter",
  memcached_connections_yielded_total: "counter",
  memcached_connections_listener_disabled_total: "counter",
  memcached_items_evicted_total: "counter",
  memcached_items_reclaimed_total: "counter",
  memcached_item_too_large_total: "counter",
  memcached_item_no_memory_total: "counter",
  memcached_accepting_connections: "gauge",
  memcached_malloced_bytes: "gauge",
  memcached_lru_crawler_enabled: "gauge",
  memcached_lru_crawler_items_checked_total: "counter",
  memcached_slab_current_items: "gauge",
  memcached_slab_items_age_seconds: "gauge",
  memcached_slab_items_evicted_total: "counter",
  memcached_slab_lru_hits_total: "counter",
  memcached_slab_cold_items: "gauge",
  memcached_slab_commands_total: "counter",
  memcached_slab_chunk_size_bytes: "gauge",
  memcached_slab_chunks_per_page: "gauge",
  memcached_slab_current_pages: "gauge",
  memcached_slab_current_chunks: "gauge",
  memcached_slab_chunks_used: "gauge",
  memcached_slab_chunks_free: "gauge",
  memcached_slab_chunks_free_end: "gauge",
  denocached_command_duration_seconds: "histogram",
  denocached_hit_ratio: "gauge",
  denocached_evictions_per_second: "gauge",
  denocached_expirations_per_second: "gauge",
  denocached_process_resident_memory_bytes: "gauge",
  denocached_heap_used_bytes: "gauge",
};

Deno.test("/metrics parses, has memcached_exporter's families, counters equal stats", async () => {
  await withServer({ metrics: { port: 0 } }, async (s) => {
    const c = await raw(s.port);
    let script = "";
    for (let i = 0; i < 50; i++) script += `set k${i} 0 0 2\r\nv${i % 10}\r\n`;
    for (let i = 0; i < 80; i++) script += `get k${i}\r\n`;
    script += "delete k1\r\ndelete nope\r\nincr nope 1\r\ntouch k2 10\r\n";
    script += "gets k3\r\ncas k3 0 0 1 1\r\nx\r\nmg k4 v\r\nflush_all 100\r\n";
    await c.send(script + "version\r\n");
    await c.until("VERSION 1.6.18\r\n");
    await c.send("stats\r\n");
    const st = statsMap(await c.until("END\r\n"));
    const m = await get(s.metricsPort, "/metrics");
    assertEquals(m.status, 200);
    assert(m.type?.startsWith("text/plain; version=0.0.4"));
    const fams = parsePrometheusTextFormat(m.body) as Family[];
    const byName = new Map(fams.map((f) => [f.name, f]));
    for (const [name, type] of Object.entries(CLAIMED)) {
      assertEquals(byName.get(name)?.type, type.toUpperCase(), name);
    }
    const one = (name: string, labels: Record<string, string> = {}) => {
      const f = byName.get(name)!;
      const hit = f.metrics.find((x) =>
        Object.entries(labels).every(([k, v]) => x.labels?.[k] === v)
      );
      assert(hit, `${name} ${JSON.stringify(labels)}`);
      return Number(hit!.value);
    };
    const n = (k: string) => Number(st.get(k));
    const cmd = (command: string, status: string) =>
      one("memcached_commands_total", { command, status });
    assertEquals(cmd("get", "hit"), n("get_hits"));
    assertEquals(cmd("get", "miss"), n("get_misses"));
    assertEquals(cmd("delete", "hit"), n("delete_hits"));
    assertEquals(cmd("delete", "miss"), n("delete_misses"));
    assertEquals(cmd("incr", "miss"), n("incr_misses"));
    assertEquals(cmd("touch", "hit"), n("touch_hits"));
    assertEquals(cmd("cas", "badval"), n("cas_badval"));
    assertEquals(cmd("flush", "hit"), n("cmd_flush"));
    assertEquals(
      cmd("set", "hit"),
      n("cmd_set") - n("cas_hits") - n("cas_misses") - n("cas_badval"),
    );
    assertEquals(n("get_hits"), 52); // 50 get hits, gets, mg
    assertEquals(one("memcached_current_items"), n("curr_items"));
    assertEquals(one("memcached_items_total"), n("total_items"));
    assertEquals(one("memcached_current_bytes"), n("bytes"));
    assertEquals(one("memcached_limit_bytes"), n("limit_maxbytes"));
    assertEquals(one("memcached_connections_total"), n("total_connections"));
    assertEquals(one("memcached_current_connections"), n("curr_connections"));
    assertEquals(one("memcached_max_connections"), 1024);
    assertEquals(one("memcached_version", { version: "1.6.18" }), 1);
    // bytes_read moved only by our `stats` line since; written by its reply
    assertEquals(one("memcached_read_bytes_total"), n("bytes_read"));
    // Latency: one sample per answered command of each kind. (The parser
    // keeps a histogram's buckets but drops its labels, _sum and _count, so
    // those lines are read directly.)
    const count = (command: string) => {
      const re = new RegExp(
        `^denocached_command_duration_seconds_count\\{command="${command}"\\} (\\S+)$`,
        "m",
      );
      return Number(re.exec(m.body)?.[1]);
    };
    assertEquals(count("set"), 50);
    assertEquals(count("get"), 80);
    assertEquals(count("delete"), 2);
    assertEquals(count("mg"), 1);
    assertEquals(count("stats"), 1); // our own scrape's stats are not timed
    const getBuckets = [
      ...m.body.matchAll(
        /^denocached_command_duration_seconds_bucket\{command="get",le="([^"]+)"\} (\S+)$/gm,
      ),
    ].map((x) => Number(x[2]));
    for (let i = 1; i < getBuckets.length; i++) {
      assert(getBuckets[i] >= getBuckets[i - 1], "cumulative buckets");
    }
    assertEquals(getBuckets[getBuckets.length - 1], 80); // +Inf
    // Slab families carry the class id, matching `stats slabs`.
    await c.send("stats slabs\r\n");
    const slabs = statsMap(await c.until("END\r\n"));
    const id = [...slabs.keys()].find((k) => k.endsWith(":used_chunks"))!
      .split(":")[0];
    assertEquals(
      one("memcached_slab_chunks_used", { slab: id }),
      Number(slabs.get(`${id}:used_chunks`)),
    );
    c.close();
    await settle();
  });
});

Deno.test("/stats.json has every stats group; /healthz; 404", async () => {
  await withServer({ metrics: { port: 0 } }, async (s) => {
    const j = JSON.parse((await get(s.metricsPort, "/stats.json")).body);
    for (const g of ["stats", "settings", "items", "slabs", "conns"]) {
      assert(typeof j[g] === "object", g);
    }
    assertEquals(j.stats.version, "1.6.18");
    assertEquals(j.settings.maxconns, 1024);
    assert(j.denocached.process.rss > 0);
    assertEquals((await get(s.metricsPort, "/healthz")).status, 200);
    assertEquals((await get(s.metricsPort, "/nope")).status, 404);
    const page = await get(s.metricsPort, "/");
    assert(page.type?.startsWith("text/html"));
    assert(!/<script[^>]+src=|<link[^>]+stylesheet/.test(page.body));
  });
});

Deno.test("/healthz answers 503 while a graceful stop drains", async () => {
  const { startServer } = await import("../mod.ts");
  const s = await startServer({ port: 0, metrics: { port: 0 } });
  const mp = s.metricsPort;
  // A client that asks for ~8 MiB and does not read keeps the stop draining.
  const c = await raw(s.port);
  await c.send(`set big 0 0 ${500_000}\r\n${"x".repeat(500_000)}\r\n`);
  await c.until("STORED\r\n");
  await c.send(`get${" big".repeat(16)}\r\n`);
  await settle(100);
  assertEquals((await get(mp, "/healthz")).status, 200);
  const closing = s.close();
  const h = await get(mp, "/healthz");
  assertEquals(h.status, 503);
  assertEquals(h.body, "draining\n");
  c.close();
  await closing;
  let refused = false;
  try {
    await fetch(`http://127.0.0.1:${mp}/healthz`).then((r) => r.body?.cancel());
  } catch {
    refused = true;
  }
  assert(refused, "metrics listener closed after the stop");
});

Deno.test("metrics listener: connection limit, and hostile HTTP clients do not slow cache clients", async () => {
  await withServer({ metrics: { port: 0, maxConnections: 4 } }, async (s) => {
    const mp = s.metricsPort;
    const hostile: Deno.Conn[] = [];
    // 4 slowloris clients (never finish their request): at the limit. (A
    // client that never reads its response only holds its own socket
    // buffer: /metrics fits there, and the deadline closes it anyway.)
    for (let i = 0; i < 4; i++) {
      const h = await Deno.connect({ hostname: "127.0.0.1", port: mp });
      await h.write(
        new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x"),
      );
      hostile.push(h);
    }
    // And many that ask for the page and never read the answer.
    for (let i = 0; i < 20; i++) {
      const h = await Deno.connect({ hostname: "127.0.0.1", port: mp });
      await h.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
      hostile.push(h);
    }
    await settle(100);
    // Over the limit: 503 at once.
    const over = await get(mp, "/healthz");
    assertEquals(over.status, 503);
    assertEquals(over.body, "busy\n");
    // Cache clients are served normally meanwhile.
    const c = await raw(s.port);
    const t0 = performance.now();
    for (let i = 0; i < 300; i++) {
      await c.send(`set k${i} 0 0 1\r\nx\r\nget k${i}\r\n`);
      await c.until("END\r\n");
    }
    const ms = performance.now() - t0;
    console.log(
      `300 cache round trips beside hostile HTTP clients: ${ms.toFixed(0)} ms`,
    );
    assert(ms < 5000, `cache clients stalled: ${ms} ms`);
    c.close();
    for (const h of hostile) h.close();
    await settle(100);
    // Their slots are free again.
    assertEquals((await get(mp, "/healthz")).status, 200);
  });
});
