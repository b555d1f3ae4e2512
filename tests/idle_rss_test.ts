/**
 * Idle memory: a server started the way the `start` task starts it, with
 * nothing stored, stays under a generous RSS bound before and after a
 * `stats` (issue #14: ~30 MB today, ~47 MB before the startup pages of
 * the binary were handed back). The bound catches a regression of the
 * kind that is easy to miss, such as allocating the `-m` budget up front
 * or a stats path that loads node compatibility code, never a timing.
 * @module
 */

import assert from "node:assert/strict";
import { ask, freePort, settle, skip } from "./_helpers.ts";
import { MAIN, ROOT, spawnMain } from "./_proc.ts";
import { haveProc, rssMb } from "./_robust_helpers.ts";
import { unsupportedReason } from "../lib/server/ffi/libc.ts";

/** Idle clients in the per-connection test. */
const IDLE_CONNS = 300;

/** Twice today's ~30 MB, well below `-m 64` allocated eagerly. */
const BOUND_MB = 60;

/** The `start` task's deno flags (everything between `run` and main.ts). */
async function startFlags(): Promise<string[]> {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  // Past its VAR=value prefixes (they only quiet Deno's update check).
  const words = cfg.tasks.start.split(/\s+/).filter((w) =>
    !/^[A-Z_]+=/.test(w)
  );
  assert.equal(words[1], "run");
  return words.slice(2, words.indexOf("main.ts"));
}

/**
 * The server as the `start` task runs it, with one loop: the default -t
 * follows the machine's CPUs (each further loop is a Worker of ~13 MiB),
 * and these bounds are for the server itself.
 */
async function startOneLoop(port: number, ...extra: string[]) {
  const where = ["-t", "1", "-p", String(port), "-l", "127.0.0.1"];
  return await spawnMain(await startFlags(), [...where, ...extra], port);
}

Deno.test("idle RSS stays under a generous bound, before and after stats", async () => {
  if (!haveProc()) return void skip("no /proc to read RSS from");
  const port = freePort();
  const p = await startOneLoop(port, "-vv");
  try {
    await settle(2000);
    // Once serving, it handed back the binary's startup pages (-vv says so).
    assert.match(p.stderr(), /released \d+\.\d MiB of startup pages/);
    assert.doesNotMatch(p.stderr(), /heap not trimmed/);
    const idle = rssMb(p.child.pid);
    assert.ok(idle < BOUND_MB, `idle RSS ${idle.toFixed(1)} MB (${MAIN})`);
    const stats = await ask("127.0.0.1", port, "stats\r\n");
    assert.match(stats, /STAT rusage_user \d+\.\d{6}\r\n/);
    await settle(500);
    const after = rssMb(p.child.pid);
    assert.ok(after < BOUND_MB, `RSS after stats ${after.toFixed(1)} MB`);
  } finally {
    await p.stop();
  }
});

Deno.test("idle connections hold no buffers (epoll): under a generous bound each", async () => {
  if (!haveProc()) return void skip("no /proc to read RSS from");
  const why = unsupportedReason();
  if (why !== null) return void skip(`epoll ${why}`);
  const port = freePort();
  const p = await startOneLoop(port, "--io=epoll");
  const conns: Deno.TcpConn[] = [];
  try {
    await settle(1000);
    const before = rssMb(p.child.pid);
    const get = new TextEncoder().encode("get nothing\r\n");
    const buf = new Uint8Array(64);
    for (let i = 0; i < IDLE_CONNS; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(c);
      await c.write(get);
      let got = "";
      while (!got.endsWith("END\r\n")) {
        const n = await c.read(buf);
        if (n === null) throw new Error("closed");
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
    }
    await settle(500);
    const each = (rssMb(p.child.pid) - before) * 1024 / IDLE_CONNS;
    // ~7 KiB each now; 38 KiB when each kept its 16 KiB input and reply
    // buffers (memcached: under 1 KiB).
    assert.ok(each < 20, `${each.toFixed(1)} KiB per idle connection`);
  } finally {
    for (const c of conns) c.close();
    await p.stop();
  }
});
