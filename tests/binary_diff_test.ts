/**
 * Differential tests of the binary protocol: the same byte scripts go to a
 * real memcached 1.6.18 (started here when installed) and to denocached,
 * whole and split one byte per write, and the parsed replies must match
 * field by field (cas values compared by identity). Afterwards the `stats`
 * counters the scripts moved must match too.
 * @module
 */

import assert from "node:assert/strict";
import { diffTest, type Io, startMemcached, withServer } from "./_helpers.ts";
import { binConn, cat, pkt, render } from "./_binary.ts";
import { BIN_SCRIPTS, type BinScript, O } from "./_binary_cases.ts";
import { stats } from "./_robust_helpers.ts";

/** Runs one script on a fresh connection; returns the rendered replies. */
async function run(
  port: number,
  script: BinScript,
  split: boolean,
): Promise<string> {
  const [, bytes, closes] = script;
  const flush = await binConn(port);
  await flush.send(pkt({ op: O.flush }));
  await flush.sync();
  flush.close();
  const c = await binConn(port);
  try {
    if (split) {
      try {
        for (let i = 0; i < bytes.length; i++) {
          await c.send(bytes.subarray(i, i + 1));
        }
      } catch (e) {
        if (!closes) throw e; // the server hung up mid-script, as expected
      }
    } else await c.send(bytes);
    if (closes) {
      // A server that closes does so within milliseconds on loopback; one
      // that keeps the connection ("bad magic" is a text line to both) is
      // known open after a second.
      const { res, closed } = await c.untilClosed(1000);
      return render(res).join("\n") + (closed ? "\n<closed>" : "\n<open>");
    }
    try {
      return render(await c.sync(5000)).join("\n");
    } catch (e) {
      const res = (e as { res?: Parameters<typeof render>[0] }).res;
      if (!res) throw e;
      return render(res).join("\n") + "\n<no sentinel>";
    }
  } finally {
    c.close();
  }
}

async function compare(
  io: Io | undefined,
  scripts: BinScript[],
  split: boolean,
) {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const diffs: string[] = [];
      for (const script of scripts) {
        const want = await run(mc.port, script, split);
        const got = await run(srv.port, script, split);
        if (want !== got) {
          // Show where they part: the first differing reply and the counts.
          const a = want.split("\n");
          const b = got.split("\n");
          let i = 0;
          while (i < a.length && a[i] === b[i]) i++;
          diffs.push(
            `${script[0]}: ${a.length} vs ${b.length} replies; first ` +
              `difference at ${i}:\n  memcached:  ${a[i]}\n  denocached: ${
                b[i]
              }`,
          );
        }
      }
      assert.equal(
        diffs.join("\n"),
        "",
        `${diffs.length} of ${scripts.length} scripts differ`,
      );
    });
  } finally {
    await mc.stop();
  }
}

diffTest("binary diff: every script, whole", async (io) => {
  await compare(io, BIN_SCRIPTS, false);
});

diffTest("binary diff: scripts split one byte per write", async (io) => {
  // The short ones: a megabyte one byte at a time would take minutes.
  await compare(io, BIN_SCRIPTS.filter(([, b]) => b.length < 4096), true);
});

/** Counters that binary commands move, compared after the same workload. */
const COUNTERS = [
  "cmd_get",
  "cmd_set",
  "cmd_flush",
  "cmd_touch",
  "get_hits",
  "get_misses",
  "get_expired",
  "get_flushed",
  "delete_misses",
  "delete_hits",
  "incr_misses",
  "incr_hits",
  "decr_misses",
  "decr_hits",
  "cas_misses",
  "cas_hits",
  "cas_badval",
  "touch_hits",
  "touch_misses",
  "auth_cmds",
  "auth_errors",
  // Not curr_items: each script starts with a flush, and both servers reap
  // flushed items in the background (memcached's LRU crawler, our sweep), so
  // how many are still counted when stats is read depends on timing.
  "total_items",
];

diffTest("binary diff: stats counters after every script", async (io) => {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const got: Record<string, string>[] = [];
      for (const port of [mc.port, srv.port]) {
        for (const script of BIN_SCRIPTS) await run(port, script, false);
        const c = await binConn(port);
        await c.send(cat(pkt({ op: O.stat })));
        const rows = await c.sync();
        c.close();
        const text = await stats(port);
        const bin: Record<string, string> = {};
        for (const r of rows) {
          if (r.key !== "") bin[r.key] = new TextDecoder().decode(r.value);
        }
        const pick: Record<string, string> = {};
        for (const k of COUNTERS) {
          pick[k] = text.get(k) ?? "<none>";
          // The binary Stat reply and the text one agree.
          assert.equal(bin[k], text.get(k), `${k}: binary stat vs text stats`);
        }
        got.push(pick);
      }
      assert.deepEqual(got[1], got[0]);
    });
  } finally {
    await mc.stop();
  }
});

diffTest("binary diff: stats groups have memcached's names", async (io) => {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const names: string[][] = [];
      for (const port of [mc.port, srv.port]) {
        const c = await binConn(port);
        await c.send(cat(
          pkt({ op: O.set, key: "k", extras: new Uint8Array(8), value: "v" }),
          pkt({ op: O.stat }),
          pkt({ op: O.stat, key: "settings" }),
        ));
        const rows = await c.sync();
        c.close();
        names.push(rows.map((r) => `${r.op}:${r.status}:${r.key}`));
      }
      const [want, got] = names;
      const missing = want.filter((n) => !got.includes(n));
      assert.deepEqual(missing, [], "stat names memcached sends and we do not");
    });
  } finally {
    await mc.stop();
  }
});
