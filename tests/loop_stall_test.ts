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
import { runSlice, setSliceProbe } from "../lib/slices.ts";
import { saveSnapshot } from "../lib/snapshot.ts";
import { Mode, Status } from "../lib/store/types.ts";
import { createStore } from "../lib/store/store.ts";
import { freePort, settle } from "./_helpers.ts";

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

/** What the client worker answers (see tests/_stall_client.ts). */
interface Answer {
  ok: boolean;
  error?: string;
  took?: number;
  bytes?: number;
  text?: string;
  worst?: number;
  p99?: number;
  n?: number;
  misses?: number;
}

/** The admin and victim clients, on their own thread. */
function clients(): {
  ask(m: Record<string, unknown>): Promise<Answer>;
  stop(): void;
} {
  const w = new Worker(new URL("./_stall_client.ts", import.meta.url).href, {
    type: "module",
  });
  let waiting: ((a: Answer) => void) | null = null;
  w.onmessage = (e) => waiting?.(e.data as Answer);
  return {
    ask(m) {
      return new Promise((resolve, reject) => {
        waiting = (a) => (a.ok ? resolve(a) : reject(new Error(a.error)));
        w.postMessage(m);
      });
    },
    stop: () => w.terminate(),
  };
}

Deno.test({
  name: `loop stalls: admin commands and snapshot save with ${ITEMS} items`,
  sanitizeOps: false, // the server's own timers outlive single steps
  sanitizeResources: false, // the worker's sockets
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
    const setVictim = () => store.store(Mode.Set, v, 0, 6, 7, 0, iv, 0, 6, 0);
    setVictim();
    console.log(
      `filled ${store.stats.currItems} items in ${
        Math.round(performance.now() - t0)
      } ms`,
    );
    const cls = store.classOf(store.peek(key, 0, 11));
    // Every slice of background work, and when the last one ran.
    let longest = 0;
    let slices = 0;
    let over5 = 0;
    let lastSlice = 0;
    setSliceProbe((ms) => {
      longest = Math.max(longest, ms);
      slices++;
      if (ms > 5) over5++;
      lastSlice = performance.now();
    });
    /** Waits until no slice ran for 100 ms (sliced work is done). */
    const quiet = async () => {
      for (let i = 0; i < 600; i++) {
        await settle(50);
        if (performance.now() - lastSlice > 100) return;
      }
    };
    const c = clients();
    await c.ask({ op: "open", port: config.port });
    const report: string[] = [];
    const line = (what: string, a: Answer, gap: number, extra = "") => {
      report.push(
        `${what}: ${extra}victim p99 ${a.p99!.toFixed(1)} ms, worst ${
          a.worst!.toFixed(1)
        } ms (${a.n} pings); loop gap ${gap.toFixed(1)} ms; ` +
          `longest slice ${
            longest.toFixed(1)
          } ms of ${slices} (${over5} over 5 ms)`,
      );
      assert.ok(gap < STALL_MS, report[report.length - 1]);
      assert.ok(a.worst! < STALL_MS, report[report.length - 1]);
    };
    try {
      const step = async (
        what: string,
        cmd: string,
        until: string,
        settleMs = 200,
      ) => {
        longest = 0;
        over5 = 0;
        slices = 0;
        const mon = gapMonitor();
        const a = await c.ask({ op: "cmd", cmd, until, settle: settleMs });
        await quiet();
        line(
          what,
          a,
          mon.stop(),
          `reply ${a.took!.toFixed(1)} ms, ${a.bytes} bytes; `,
        );
        return a;
      };
      const dump = await step(
        "stats cachedump N 0",
        `stats cachedump ${cls} 0\r\n`,
        "END\r\n",
      );
      assert.ok(dump.bytes! <= 2 * 1024 * 1024, String(dump.bytes));
      assert.ok(dump.bytes! > 1024 * 1024, String(dump.bytes));
      const one = await step(
        "stats cachedump N 1",
        `stats cachedump ${cls} 1\r\n`,
        "END\r\n",
      );
      assert.equal(one.text!.split("ITEM ").length - 1, 1);
      await step(
        "lru_crawler crawl all",
        "lru_crawler crawl all\r\n",
        "OK\r\n",
      );
      // Snapshot save (its awaits interleave with the victim).
      {
        longest = 0;
        over5 = 0;
        slices = 0;
        const mon = gapMonitor();
        await c.ask({ op: "begin" });
        const t = performance.now();
        const r = await saveSnapshot(store, `${dir}/s.snap`);
        const took = performance.now() - t;
        const a = await c.ask({ op: "end" });
        line(
          "snapshot save",
          a,
          mon.stop(),
          `${r.items} items in ${took.toFixed(0)} ms; `,
        );
        assert.equal(r.items, ITEMS + 1);
      }
      await step("cache_memlimit 64", "cache_memlimit 64\r\n", "OK\r\n");
      assert.ok(store.stats.totalMalloced <= 64 << 20);
      assert.equal(store.peek(v, 0, 6) >= 0, true, "victim evicted");
      // Memory full and held by one class: an item of a new size gets its
      // class's first page past the limit, as in memcached (no page drained).
      await step(
        "set of a new size at the limit (first page of a class)",
        `set other 0 0 3000\r\n${"x".repeat(3000)}\r\n`,
        "\r\n",
      );
      // flush_all, then at least one per-second expiry sweep tick.
      const fl = await step(
        "flush_all + sweep tick",
        "flush_all\r\n",
        "OK\r\n",
        1200,
      );
      assert.ok(fl.misses! > 0);
      setVictim();
      const dead = await step(
        "stats cachedump N 1 (all dead)",
        `stats cachedump ${cls} 1\r\n`,
        "END\r\n",
      );
      // Only the victim, stored again since: the dead items are skipped.
      assert.equal(dead.text, "ITEM victim [6 b; 0 s]\r\nEND\r\n");
      await step(
        "lru_crawler crawl all (reclaims)",
        "lru_crawler crawl all\r\n",
        "OK\r\n",
      );
      assert.equal(store.stats.currItems, 1);
      // Shrinking a class whose free list holds every reclaimed chunk.
      await step(
        "cache_memlimit 32 (free lists full)",
        "cache_memlimit 32\r\n",
        "OK\r\n",
      );
      assert.ok(store.stats.totalMalloced <= 32 << 20);
    } finally {
      setSliceProbe(null);
      console.log(report.join("\n"));
      await c.ask({ op: "close" }).catch(() => {});
      c.stop();
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

Deno.test("slices: a slice runs steps until its time is spent (injected clock)", () => {
  let t = 0;
  let steps = 0;
  // Each step costs 0.5 ms on the fake clock: a 2 ms slice runs 4 of them.
  const more = runSlice(
    () => {
      steps++;
      t += 0.5;
      return steps < 10;
    },
    2,
    () => t,
  );
  assert.equal(more, true);
  assert.equal(steps, 4);
  assert.equal(runSlice(() => false, 2, () => t), false);
});

/**
 * Fills a store, optionally flushes and sweeps it (every chunk then on a
 * free list), and shrinks it `budget` chunks per step with `every` writes
 * between steps, checking every write is stored and the store stays whole.
 */
function shrinkWhole(flushed: boolean, budget = 100, every = 10): void {
  const config = defaultConfig();
  const store = createStore({
    limitBytes: 64 << 20,
    maxItemSize: 1 << 20,
    clock: config.clock,
  });
  const enc = new TextEncoder();
  const key = new Uint8Array(12);
  const val = enc.encode("12345678");
  const n = 300_000;
  for (let i = 0; i < n; i++) {
    enc.encodeInto(`k${String(i).padStart(10, "0")}`, key);
    store.store(Mode.Set, key, 0, 11, 0, 0, val, 0, 8, 0);
  }
  if (flushed) {
    // Every chunk is now on a free list (millions of entries at scale),
    // which the drain must take its page's chunks off a piece at a time.
    store.flushAll(0);
    while (store.stats.currItems > 0) store.sweep(1 << 20);
    for (let i = 0; i < n / 2; i++) {
      enc.encodeInto(`k${String(i).padStart(10, "0")}`, key);
      store.store(Mode.Set, key, 0, 11, 0, 0, val, 0, 8, 0);
    }
  }
  let more = store.setLimit(8 << 20, budget);
  let j = 0;
  while (more || j < 20_000) {
    // New items and rewrites between steps must never land in the page
    // being drained (it would not empty), nor fail for want of a chunk
    // while the evicted victims sit in that page.
    const name = j % 4 === 0 ? `k${String(j).padStart(10, "0")}` : `n${j}`;
    j++;
    enc.encodeInto(name.padEnd(11, "-"), key);
    assert.equal(
      store.store(Mode.Set, key, 0, 11, 0, 0, val, 0, 8, 0),
      Status.Stored,
      `store ${j} during the drain`,
    );
    if (j % every === 0) more = store.shrink(budget);
    assert.ok(j < 10 * n, "shrink does not end");
  }
  assert.ok(store.stats.totalMalloced <= 8 << 20);
  let live = 0;
  for (let c = 0; c !== -1;) {
    c = store.scan(c, 4096, (h) => {
      live++;
      assert.equal(store.valueLen(h), 8);
      const ks = store.keyStart(h);
      const k = store.keyBytes(h).subarray(ks, ks + store.keyLen(h));
      assert.equal(store.peek(k, 0, k.length), h);
    });
  }
  assert.equal(live, store.stats.currItems);
}

Deno.test("shrink: a page drained in small steps, with writes between, keeps the store whole", () => {
  shrinkWhole(false);
  shrinkWhole(true);
  // Allocations pop the free list faster than the drop walk goes: its
  // place is popped again and again.
  shrinkWhole(true, 1, 1);
});
