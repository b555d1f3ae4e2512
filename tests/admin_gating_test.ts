/**
 * Gated admin commands: `shutdown` only with `-A`, `flush_all` refused with
 * `-F`, as memcached 1.6.18 (compared with a real one when installed); the
 * default bind address stays 127.0.0.1 and UDP is not offered.
 * @module
 */

import assert from "node:assert/strict";
import { parseCli } from "../lib/cli.ts";
import { type Config, defaultConfig } from "../lib/config.ts";
import { type Server, startServer } from "../lib/server/server.ts";
import { raw, settle, startMemcached } from "./_helpers.ts";

function inProcess(opts: Partial<Config>): Server {
  const c = defaultConfig();
  c.port = 0;
  Object.assign(c, opts);
  return startServer(c);
}

/** Each write on the same connection, collecting what arrives after each. */
async function exchange(
  port: number,
  writes: string[],
  ms = 150,
): Promise<string[]> {
  const c = await raw(port);
  const out: string[] = [];
  try {
    for (const w of writes) {
      await c.send(w);
      out.push(await c.drain(ms));
    }
    return out;
  } finally {
    c.close();
    await settle();
  }
}

const NOT_ENABLED = "ERROR: shutdown not enabled\r\n";
const NO_FLUSH = "CLIENT_ERROR flush_all not allowed\r\n";

/** [start flags, writes on one connection, replies after each write]. */
const CASES: [string[], string[], string[]][] = [
  [[], ["shutdown\r\n"], [NOT_ENABLED]],
  [[], ["shutdown graceful\r\n"], [NOT_ENABLED]],
  [[], ["shutdown bogus\r\n"], [NOT_ENABLED]],
  [[], ["shutdown noreply\r\n"], [NOT_ENABLED]],
  [["-A"], ["shutdown bogus\r\n"], ["CLIENT_ERROR invalid shutdown mode\r\n"]],
  [["-A"], ["shutdown graceful extra\r\n"], [
    "CLIENT_ERROR invalid shutdown mode\r\n",
  ]],
  [["-F"], ["flush_all\r\n"], [NO_FLUSH]],
  [["-F"], ["flush_all 0\r\n"], [NO_FLUSH]],
  [["-F"], ["flush_all bogus\r\n"], [NO_FLUSH]],
  [["-F"], ["flush_all noreply\r\n"], [""]],
  [["-F"], ["set k 0 0 1\r\nv\r\nflush_all\r\nget k\r\n"], [
    "STORED\r\n" + NO_FLUSH + "VALUE k 0 1\r\nv\r\nEND\r\n",
  ]],
  [[], ["set k 0 0 1\r\nv\r\nflush_all\r\nget k\r\n"], [
    "STORED\r\nOK\r\nEND\r\n",
  ]],
];

function configFor(flags: string[]): Partial<Config> {
  return {
    enableShutdown: flags.includes("-A"),
    disableFlush: flags.includes("-F"),
  };
}

Deno.test("admin gating: shutdown needs -A, -F refuses flush_all", async () => {
  for (const [flags, writes, want] of CASES) {
    const s = inProcess(configFor(flags));
    try {
      assert.deepEqual(
        await exchange(s.port, writes),
        want,
        `${flags} ${writes}`,
      );
    } finally {
      await s.close();
    }
  }
});

Deno.test("admin gating: with -A, shutdown stops the server", async () => {
  const s = inProcess({ enableShutdown: true });
  let done = false;
  s.finished.then(() => (done = true));
  const c = await raw(s.port);
  await c.send("shutdown\r\n");
  assert.equal(await c.closed(5000), true);
  c.close();
  await s.finished;
  assert.equal(done, true);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: s.port }));
  await s.close();
});

Deno.test("admin gating: flags, default bind address, no UDP", () => {
  const d = parseCli([]);
  assert.equal(d.config.listen, "127.0.0.1");
  assert.equal(d.config.enableShutdown, false);
  assert.equal(d.config.disableFlush, false);
  const g = parseCli(["-A", "-F"]);
  assert.equal(g.config.enableShutdown, true);
  assert.equal(g.config.disableFlush, true);
  const l = parseCli(["--enable-shutdown", "--disable-flush-all"]);
  assert.equal(l.config.enableShutdown && l.config.disableFlush, true);
  assert.ok(
    parseCli(["-U", "11211"]).notes.some((n) => /UDP is not offered/.test(n)),
  );
  assert.deepEqual(parseCli(["-U", "0"]).notes, []);
});

Deno.test("admin gating: the same replies as memcached", async () => {
  for (const flags of [[], ["-A"], ["-F"]]) {
    const mc = await startMemcached(flags);
    if (!mc) return;
    const s = inProcess(configFor(flags));
    try {
      for (const [f, writes] of CASES) {
        if (f.join() !== flags.join()) continue;
        const theirs = await exchange(mc.port, writes);
        assert.deepEqual(
          await exchange(s.port, writes),
          theirs,
          `${flags} ${writes}`,
        );
      }
      // After a refused `flush_all noreply` memcached 1.6.18 also drops the
      // next reply on that connection; so do we.
      if (flags[0] === "-F") {
        const w = ["flush_all noreply\r\n", "version\r\n", "version\r\n"];
        assert.deepEqual(await exchange(s.port, w), await exchange(mc.port, w));
      }
    } finally {
      await s.close();
      await mc.stop();
    }
  }
});
