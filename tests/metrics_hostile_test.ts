/**
 * Hostile HTTP clients on the metrics listener cannot slow cache clients,
 * on both transports: tricklers, never-readers, a connection flood past
 * the limit and an eager scraper (`_metrics_attackers.ts`, in a Worker so
 * their own work is not on the server's event loop), all at once. A
 * victim's round-trip latencies are printed beside a quiet baseline; only
 * a stall of seconds fails. Metrics keep working after.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, raw, settle, withServer } from "./_helpers.ts";

/** Round trips of set+get on one connection; per-trip milliseconds. */
async function victim(port: number, n: number): Promise<number[]> {
  const c = await raw(port);
  const ms: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await c.send(`set v${i} 0 0 1\r\nx\r\nget v${i}\r\n`);
      await c.until("END\r\n");
      ms.push(performance.now() - t0);
    }
  } finally {
    c.close();
  }
  return ms;
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms, max ${
    s[s.length - 1].toFixed(2)
  } ms`;
}

function ask(w: Worker, msg: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    w.onmessage = (e) => resolve(e.data);
    w.postMessage(msg);
  });
}

ioTest("hostile HTTP clients do not slow cache clients", async (io) => {
  await withServer(
    { io, metrics: { port: 0, maxConnections: 16 } },
    async (s) => {
      const mp = s.metricsPort;
      const quiet = await victim(s.port, 300);
      const w = new Worker(
        new URL("./_metrics_attackers.ts", import.meta.url),
        { type: "module" },
      );
      let loud: number[];
      let scrapes: unknown;
      try {
        await ask(w, { port: mp });
        await settle(50);
        loud = await victim(s.port, 300);
        scrapes = (await ask(w, "stop") as { scrapes: number }).scrapes;
      } finally {
        w.terminate();
      }
      console.log(
        `[${io}] victim, quiet: ${
          summary(quiet)
        }\n[${io}] victim beside hostile HTTP clients (${scrapes} scrapes meanwhile): ${
          summary(loud)
        }`,
      );
      assert.ok(Math.max(...loud) < 2000, "a cache round trip stalled");
      await settle(300); // past RENDER_REUSE_MS of the attackers' last scrape
      const h = await fetch(`http://127.0.0.1:${mp}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(await h.text(), "ok\n");
      const m = await (await fetch(`http://127.0.0.1:${mp}/metrics`)).text();
      const sets =
        /^denocached_command_duration_seconds_count\{command="set"\} (\S+)$/m
          .exec(m);
      assert.equal(Number(sets?.[1]), 600);
    },
  );
});
