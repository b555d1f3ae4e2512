/**
 * Nothing blocks the event loop for long: with millions of small items
 * (filled in-process through the store API), `stats cachedump` (capped at
 * 2 MiB like memcached, a limit of 1 reads one item), `lru_crawler crawl`,
 * shrinking by `cache_memlimit`, `flush_all`, a snapshot save and the
 * expiry sweep each run in bounded steps. A victim client pings through a
 * real socket meanwhile; its worst latency and the worst gap of a 1 ms
 * timer are reported, and only a multi-second stall fails the test.
 * `DENOCACHED_STALL_ITEMS` changes the item count (default 2,000,000).
 * @module
 */

import assert from "node:assert/strict";
import { defaultConfig } from "../lib/config.ts";
import { startServer } from "../lib/server/server.ts";
import { saveSnapshot } from "../lib/snapshot.ts";
import { Mode } from "../lib/store/types.ts";
import { createStore } from "../lib/store/store.ts";
import { freePort, type Raw, raw, settle } from "./_helpers.ts";

const ITEMS = Number(Deno.env.get("DENOCACHED_STALL_ITEMS") ?? 2_000_000);
/** Anything above this is a stall of seconds, never timing noise. */
const STALL_MS = 2000;

/** Worst gap between ticks of a 1 ms timer, while it runs. */
function gapMonitor(): { stop(): number } {
  let last = performance.now();
  let worst = 0;
  const id = setInterval(() => {
    const now = performance.now();
    if (now - last > worst) worst = now - last;
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(id);
      return worst;
    },
  };
}

/** Pings `get victim` until stopped; worst round trip in ms. */
function victim(c: Raw, mayMiss = false): { stop(): Promise<number> } {
  let running = true;
  let worst = 0;
  const done = (async () => {
    while (running) {
      const t = performance.now();
      await c.send("get victim\r\n");
      const got = await c.until("END\r\n", 30_000);
      if (!(mayMiss && got === "END\r\n")) {
        assert.equal(got, "VALUE victim 7 6\r\nintact\r\nEND\r\n");
      }
      worst = Math.max(worst, performance.now() - t);
      await settle(2);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return worst;
    },
  };
}

Deno.test({
  name: `loop stalls: admin commands and snapshot save with ${ITEMS} items`,
  sanitizeOps: false, // the server's own timers outlive single steps
  async fn() {
    const config = defaultConfig();
    config.port = freePort();
    config.memoryLimitMb = 1024;
    const srv = startServer(config);
    const store = srv.ctx.store;
    const dir = await Deno.makeTempDir({ prefix: "denocached-stall-" });
    const enc = new TextEncoder();
    const key = new Uint8Array(12);
    const val = enc.encode("12345678");
    const t0 = performance.now();
    for (let i = 0; i < ITEMS; i++) {
      enc.encodeInto(`k${String(i).padStart(10, "0")}`, key);
      store.store(Mode.Set, key, 0, 11, 0, 0, val, 0, 8, 0);
    }
    const v = enc.encode("victim");
    const iv = enc.encode("intact");
    store.store(Mode.Set, v, 0, 6, 7, 0, iv, 0, 6, 0);
    console.log(
      `filled ${store.stats.currItems} items in ${
        Math.round(performance.now() - t0)
      } ms`,
    );
    const cls = store.classOf(store.peek(key, 0, 11));
    const admin = await raw(config.port);
    const vc = await raw(config.port);
    const report: string[] = [];
    try {
      const step = async (
        what: string,
        cmd: string,
        until: string,
        mayMiss = false,
      ) => {
        const mon = gapMonitor();
        const vic = victim(vc, mayMiss);
        await settle(20);
        const t = performance.now();
        await admin.send(cmd);
        const got = await admin.until(until, 60_000);
        const took = performance.now() - t;
        await settle(300); // sliced work goes on after the reply
        const worstVictim = await vic.stop();
        const gap = mon.stop();
        report.push(
          `${what}: reply ${took.toFixed(1)} ms, ${got.length} bytes; ` +
            `victim worst ${worstVictim.toFixed(1)} ms; loop gap ${
              gap.toFixed(1)
            } ms`,
        );
        assert.ok(worstVictim < STALL_MS, report[report.length - 1]);
        return got;
      };
      const dump = await step(
        "stats cachedump N 0",
        `stats cachedump ${cls} 0\r\n`,
        "END\r\n",
      );
      assert.ok(dump.length <= 2 * 1024 * 1024, String(dump.length));
      assert.ok(dump.length > 1024 * 1024, String(dump.length));
      const one = await step(
        "stats cachedump N 1",
        `stats cachedump ${cls} 1\r\n`,
        "END\r\n",
      );
      assert.equal(one.split("ITEM ").length - 1, 1);
      await step(
        "lru_crawler crawl all",
        "lru_crawler crawl all\r\n",
        "OK\r\n",
      );
      // Snapshot save (its awaits interleave with the victim).
      {
        const mon = gapMonitor();
        const vic = victim(vc);
        const t = performance.now();
        const r = await saveSnapshot(store, `${dir}/s.snap`);
        const took = performance.now() - t;
        const worstVictim = await vic.stop();
        report.push(
          `snapshot save: ${r.items} items in ${took.toFixed(0)} ms; ` +
            `victim worst ${worstVictim.toFixed(1)} ms; loop gap ${
              mon.stop().toFixed(1)
            } ms`,
        );
        assert.equal(r.items, ITEMS + 1);
        assert.ok(worstVictim < STALL_MS, report[report.length - 1]);
      }
      await step("cache_memlimit 64", "cache_memlimit 64\r\n", "OK\r\n");
      // The shrink goes on in slices; wait for it to end.
      for (let i = 0; i < 200 && store.stats.totalMalloced > 64 << 20; i++) {
        await settle(50);
      }
      assert.ok(store.stats.totalMalloced <= 64 << 20);
      await step("flush_all", "flush_all\r\n", "OK\r\n", true);
      {
        const t = performance.now();
        store.sweep(20_000); // the server's per-second sweep budget
        report.push(
          `expiry sweep step (20,000 chunks): ${
            (performance.now() - t).toFixed(1)
          } ms`,
        );
      }
      store.store(Mode.Set, v, 0, 6, 7, 0, iv, 0, 6, 0);
      await admin.send("get victim\r\n");
      assert.equal(
        await admin.until("END\r\n"),
        "VALUE victim 7 6\r\nintact\r\nEND\r\n",
      );
    } finally {
      console.log(report.join("\n"));
      admin.close();
      vc.close();
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("store scan: a resumable cursor visits every live item exactly once", () => {
  const config = defaultConfig();
  const store = createStore({
    limitBytes: 256 << 20,
    maxItemSize: 1 << 20,
    clock: config.clock,
  });
  const enc = new TextEncoder();
  // 16384 chunks fill a page of the smallest class exactly: the cursor must
  // step to the next page, not wrap to the start of this one.
  const n = 16384 * 3 + 17;
  const key = new Uint8Array(12);
  const val = enc.encode("12345678");
  for (let i = 0; i < n; i++) {
    enc.encodeInto(`k${String(i).padStart(10, "0")}`, key);
    store.store(Mode.Set, key, 0, 11, 0, 0, val, 0, 8, 0);
  }
  for (const budget of [1, 64, 16384, 1 << 20]) {
    const seen = new Set<number>();
    let calls = 0;
    for (let c = 0; c !== -1; calls++) {
      c = store.scan(c, budget, (h) => {
        assert.ok(!seen.has(h), `handle ${h} seen twice (budget ${budget})`);
        seen.add(h);
      });
      assert.ok(calls < n * 2 + 10, "scan does not end");
    }
    assert.equal(seen.size, n, `budget ${budget}`);
  }
});
