/**
 * Hold under attack (issue #12): the connection memory budget against
 * clients that never read (500 × 100 pipelined gets of a 100 KB value),
 * 40 readers of one 100 MB value (`-I 128m`), 25 half-sent 100 MB sets
 * and 400 half-closed sockets — on both transports and, with the same
 * script, on memcached 1.6.18 when installed (`memcached -U 0 -t 1`).
 *
 * Each run prints RSS before, at peak and after, and the victim client's
 * slowest round trip; only generous bounds are asserted (memory that
 * follows the budget rather than the attack, no stall of seconds, the
 * victim's keys intact). `BUDGET_ATTACK_SCALE` (0 < s ≤ 1) scales the
 * connection counts down on a slow machine; the shape stays.
 * @module
 */

import assert from "node:assert/strict";
import { type Io, ioTest, skip, startMemcached } from "./_helpers.ts";
import { haveProc, spawnServer } from "./_robust_helpers.ts";
import { bigReaders, type Figures, halfSets, nonReaders } from "./_attacks.ts";

const SCALE = Math.min(
  1,
  Math.max(0.05, Number(Deno.env.get("BUDGET_ATTACK_SCALE") ?? "1") || 1),
);
const n = (k: number) => Math.max(2, Math.round(k * SCALE));
const MB100 = 100 * 1024 * 1024;

interface Case {
  name: string;
  args: string[];
  run(port: number, pid: number): Promise<Figures>;
  /** Largest RSS growth (peak − before) allowed for us, MB. */
  boundMb: number;
}

const CASES: Case[] = [
  {
    name: `${n(500)} non-readers x 100 gets of 100 KB`,
    args: ["-m", "64", "-c", "2048"],
    run: (port, pid) =>
      nonReaders(port, pid, { conns: n(500), gets: 100, size: 100_000 }),
    boundMb: 200,
  },
  {
    name: `${n(40)} readers of one 100 MB value`,
    args: ["-m", "1024", "-I", "128m", "-c", "2048"],
    run: (port, pid) => bigReaders(port, pid, { conns: n(40), size: MB100 }),
    // The value itself (its page) and its staging slices: not 40 copies.
    boundMb: 450,
  },
  {
    name: `${n(25)} half-sent 100 MB sets`,
    args: ["-m", "1024", "-I", "128m", "-c", "2048"],
    run: (port, pid) => halfSets(port, pid, { conns: n(25), size: MB100 }),
    // One granted value (the budget: 10% of -m) plus garbage not yet collected.
    boundMb: 600,
  },
  {
    name: `${n(400)} half-closed sockets`,
    args: ["-m", "64", "-c", "2048"],
    run: (port, pid) =>
      nonReaders(port, pid, {
        conns: n(400),
        gets: 100,
        size: 100_000,
        halfClose: true,
      }),
    boundMb: 200,
  },
];

function report(name: string, who: string, f: Figures): void {
  console.log(
    `FIG ${name} [${who}]: rss before ${f.rssBeforeMb.toFixed(1)} MB, ` +
      `peak ${f.rssPeakMb.toFixed(1)} MB, after ${
        f.rssAfterMb.toFixed(1)
      } MB; ` +
      `victim ${f.victimOps} round trips, slowest ${
        f.victimMaxMs.toFixed(1)
      } ms, ${f.victimBad} keys wrong; ${f.note}`,
  );
}

for (const c of CASES) {
  ioTest(`attack: ${c.name}`, async (io: Io) => {
    if (!haveProc()) return void skip("no /proc to read RSS from");
    const srv = await spawnServer(c.args, { io });
    if (!srv) return void skip("cannot start server");
    try {
      const f = await c.run(srv.port, srv.pid);
      report(c.name, io, f);
      assert.equal(f.victimBad, 0, "victim keys intact");
      assert.ok(f.victimOps > 0, "victim served");
      assert.ok(f.victimMaxMs < 5000, `victim stalled ${f.victimMaxMs} ms`);
      assert.ok(!/[1-9]\d* wrong/.test(f.note), f.note);
      assert.ok(
        f.rssPeakMb - f.rssBeforeMb < c.boundMb,
        `RSS grew ${(f.rssPeakMb - f.rssBeforeMb).toFixed(0)} MB`,
      );
    } finally {
      await srv.stop();
    }
  });
  Deno.test(`attack: ${c.name} [memcached]`, async () => {
    if (!haveProc()) return void skip("no /proc to read RSS from");
    const mc = await startMemcached(c.args);
    if (!mc) return;
    try {
      report(c.name, "memcached", await c.run(mc.port, mc.child.pid));
    } finally {
      await mc.stop();
    }
  });
}
