/**
 * Binary protocol requests are timed in the latency histograms under the
 * text protocol's labels (GET/GETQ/GETK as `get`, SET as `set`, SET with a
 * cas as `cas`, INCR as `incr`, ...), one sample per answered request, on
 * both transports.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, settle, withServer } from "./_helpers.ts";
import { binConn, cat, incrExtras, pkt, setExtras } from "./_binary.ts";

/** `denocached_command_duration_seconds_count` per command label. */
async function latencyCounts(port: number): Promise<Map<string, number>> {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new Map<string, number>();
  for (
    const x of body.matchAll(
      /^denocached_command_duration_seconds_count\{command="([^"]+)"\} (\S+)$/gm,
    )
  ) m.set(x[1], Number(x[2]));
  return m;
}

ioTest("binary requests are timed under the text labels", async (io) => {
  await withServer({ metrics: { port: 0 }, io }, async (s) => {
    const c = await binConn(s.port);
    const set = (key: string, op = 0x01, cas?: bigint) =>
      pkt({ op, key, value: "v", extras: setExtras(0, 0), cas });
    await c.send(cat(
      set("a"),
      set("b"),
      set("c", 0x11), // SETQ
      pkt({ op: 0x00, key: "a" }), // GET
      pkt({ op: 0x09, key: "nope" }), // GETQ (miss, no reply)
      pkt({ op: 0x0c, key: "b" }), // GETK
      pkt({ op: 0x04, key: "c" }), // DELETE
      pkt({ op: 0x05, key: "n", extras: incrExtras(1n, 5n, 0) }), // INCR
      pkt({ op: 0x1c, key: "a", extras: new Uint8Array(4) }), // TOUCH
      pkt({ op: 0x1d, key: "a", extras: new Uint8Array(4) }), // GAT
      set("a", 0x01, 12345n), // SET with a (wrong) cas
      pkt({ op: 0x0b }), // VERSION
    ));
    const replies = await c.sync(); // + the NOOP sentinel
    assert.ok(replies.length >= 9, `${replies.length} replies`);
    const n = await latencyCounts(s.metricsPort);
    const got = Object.fromEntries(
      ["get", "set", "cas", "delete", "incr", "touch", "gat", "version"].map(
        (k) => [k, n.get(k) ?? 0],
      ),
    );
    assert.deepEqual(got, {
      get: 3,
      set: 3,
      cas: 1,
      delete: 1,
      incr: 1,
      touch: 1,
      gat: 1,
      version: 1,
    });
    assert.equal(n.get("other"), 1); // the NOOP
    // Tests run with --allow-ffi: the cheap clock is in use.
    const j =
      await (await fetch(`http://127.0.0.1:${s.metricsPort}/stats.json`))
        .json();
    const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
    if (ffi && Deno.build.os === "linux") {
      assert.equal(j.denocached.latency.clock, "clock_gettime");
    }
    c.close();
    await settle();
  });
});
