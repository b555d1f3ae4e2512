/**
 * SIGTERM on a real process, on both transports: while the graceful stop
 * drains (a client that asked for ~8 MB and reads nothing keeps it going),
 * the metrics listener keeps answering: `/healthz` 503 every time,
 * `/metrics` 200 with `denocached_draining 1`; the process
 * then exits 0 and the metrics port is closed.
 * @module
 */

import assert from "node:assert/strict";
import {
  freePort,
  ioFlags,
  ioTest,
  raw,
  settle,
  waitListening,
} from "./_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function get(port: number, path: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

ioTest(
  "SIGTERM: /healthz 503 and /metrics answered while draining",
  async (io) => {
    const port = freePort();
    const mport = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        "--allow-net",
        "--allow-ffi",
        "--allow-read", // a -t N worker loads its module
        MAIN,
        "-p",
        String(port),
        "-l",
        "127.0.0.1",
        ...ioFlags(io),
        `--metrics=127.0.0.1:${mport}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let c: Awaited<ReturnType<typeof raw>> | null = null;
    try {
      await waitListening(port);
      c = await raw(port);
      await c.send(`set big 0 0 500000\r\n${"x".repeat(500_000)}\r\n`);
      await c.until("STORED\r\n");
      await c.send(`get${" big".repeat(16)}\r\n`); // never read: stays pending
      await settle(100);
      assert.equal((await get(mport, "/healthz")).status, 200);
      child.kill("SIGTERM");
      await settle(50);
      // The drain lasts up to the stop's 1 s grace: ask several times.
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        const h = await get(mport, "/healthz");
        seen.push(h.status);
        assert.equal(h.body, h.status === 503 ? "draining\n" : h.body);
        await settle(30);
      }
      const m = await get(mport, "/metrics");
      assert.deepEqual(seen, [503, 503, 503, 503, 503]);
      assert.equal(m.status, 200);
      assert.match(m.body, /^denocached_draining 1$/m);
      assert.match(m.body, /^memcached_up 1$/m);
    } finally {
      c?.close();
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
    }
    const st = await child.status;
    const err = await stderr;
    assert.equal(st.code, 0, err);
    await assert.rejects(() => get(mport, "/healthz"));
  },
);
