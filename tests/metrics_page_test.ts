/**
 * The status page in real headless Chromium: it renders, every chart gets
 * data points while a workload runs, nothing is logged as an error, and
 * it fits a phone's width. Set DENOCACHED_SCREENSHOT=path.png to save a
 * screenshot (docs/status-page.png is made this way). Skips where
 * Chromium is missing (CI installs it).
 * @module
 */

import assert from "node:assert/strict";
import { raw, settle, skip, withServer } from "./_helpers.ts";
import { findChromium, launch } from "./_cdp.ts";

Deno.test({
  name: "status page renders live charts in headless Chromium",
  sanitizeResources: false, // the browser's websocket closes asynchronously
  sanitizeOps: false,
  async fn() {
    const bin = findChromium();
    if (!bin) {
      return void skip("chromium not installed (apt-get install -y chromium)");
    }
    await withServer({ metrics: { port: 0 }, memoryLimitMb: 4 }, async (s) => {
      const b = await launch(bin);
      try {
        await b.send("Runtime.enable");
        await b.send("Log.enable");
        await b.send("Page.enable");
        await b.send("Emulation.setDeviceMetricsOverride", {
          width: 1400,
          height: 1000,
          deviceScaleFactor: 1,
          mobile: false,
        });
        await b.send("Page.navigate", {
          url: `http://127.0.0.1:${s.metricsPort}/`,
        });
        // A workload while the page polls: sets (some evicting), gets that
        // hit and miss, a few meta commands.
        const c = await raw(s.port);
        const value = "v".repeat(3000);
        const shot = Deno.env.get("DENOCACHED_SCREENSHOT");
        const evalJs = async (expr: string) => {
          const r = await b.send("Runtime.evaluate", {
            expression: expr,
            returnByValue: true,
          });
          return (r.result as { value: unknown }).value;
        };
        const points = () =>
          evalJs(
            "JSON.stringify([...document.querySelectorAll('canvas')].map(c => [c.id, +c.dataset.points]))",
          ).then((v) => JSON.parse(String(v ?? "[]")) as [string, number][]);
        let ok = false;
        let last: [string, number][] = [];
        const deadline = Date.now() + (shot ? 60_000 : 20_000);
        for (let round = 0; Date.now() < deadline; round++) {
          let script = "";
          for (let i = 0; i < 100; i++) {
            const k = round * 100 + i;
            script +=
              `set k${k} 0 0 ${value.length}\r\n${value}\r\nget k${k}\r\nget miss${k}\r\nmg k${k} v\r\n`;
          }
          await c.send(script + "mn\r\n");
          await c.until("MN\r\n");
          await settle(200);
          last = await points();
          // With a screenshot wanted, run long enough for a readable picture.
          if (shot && round < 60) continue;
          if (last.length === 8 && last.every(([, n]) => n >= 3)) {
            ok = true;
            break;
          }
        }
        assert(ok, `charts without data points: ${JSON.stringify(last)}`);
        const text = String(await evalJs("document.body.innerText"));
        assert(text.includes("accepting"), text.slice(0, 300));
        assert(text.includes("version 1.6.18"));
        if (shot) {
          const r = await b.send("Page.captureScreenshot", { format: "png" });
          const png = Uint8Array.from(
            atob(String(r.data)),
            (ch) => ch.charCodeAt(0),
          );
          await Deno.writeFile(shot, png);
          console.log(`screenshot written to ${shot}`);
        }
        // Phone width: nothing wider than the screen.
        await b.send("Emulation.setDeviceMetricsOverride", {
          width: 390,
          height: 844,
          deviceScaleFactor: 2,
          mobile: true,
        });
        await settle(1200);
        const overflow = await evalJs(
          "document.documentElement.scrollWidth - window.innerWidth",
        );
        assert(
          Number(overflow) <= 0,
          `page wider than a phone by ${overflow}px`,
        );
        const errors = b.events.filter((e) =>
          e.method === "Runtime.exceptionThrown" ||
          (e.method === "Runtime.consoleAPICalled" &&
            (e.params.type === "error" || e.params.type === "assert")) ||
          (e.method === "Log.entryAdded" &&
            (e.params.entry as { level: string }).level === "error")
        );
        assert.deepEqual(errors, []);
        c.close();
      } finally {
        await b.close();
      }
    });
  },
});
