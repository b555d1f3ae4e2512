/**
 * Stampede protection: many clients miss (or find stale) the same key at
 * once; exactly one wins the right to recompute (`W`), every other client
 * sees `Z`. Runs against denocached, and against memcached 1.6.18 when it
 * is installed so both agree.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, raw, settle, startMemcached, withServer } from "./_helpers.ts";

const CLIENTS = 50;

/** Connects `CLIENTS` clients, sends `line` from all at once, returns each reply line. */
async function burst(port: number, line: string): Promise<string[]> {
  const conns = await Promise.all(
    Array.from({ length: CLIENTS }, () => raw(port)),
  );
  try {
    await Promise.all(conns.map((c) => c.send(line)));
    return await Promise.all(conns.map((c) => c.until("\r\n")));
  } finally {
    for (const c of conns) c.close();
    await settle();
  }
}

/** Sends one script on a fresh connection and returns the reply. */
async function one(port: number, script: string, until: string) {
  const c = await raw(port);
  try {
    await c.send(script);
    return await c.until(until);
  } finally {
    c.close();
    await settle(5);
  }
}

function count(replies: string[], re: RegExp): number {
  return replies.filter((r) => re.test(r)).length;
}

async function stampede(port: number) {
  // A missing key: one client vivifies it and wins, the rest wait (Z).
  const miss = await burst(port, "mg hot v N30\r\n");
  assert.equal(count(miss, / W\r\n$/), 1, miss.join(""));
  assert.equal(count(miss, / Z\r\n$/), CLIENTS - 1, miss.join(""));
  assert.equal(count(miss, /^VA 0 /), CLIENTS);

  // The winner stores the value; everyone now gets a plain hit.
  assert.equal(await one(port, "ms hot 3 T60\r\nnew\r\n", "\r\n"), "HD\r\n");
  const hit = await burst(port, "mg hot N30 R10\r\n");
  assert.equal(count(hit, /^HD\r\n$/), CLIENTS, hit.join(""));

  // Invalidated: one client gets X W (recompute), the rest Z X (serve stale).
  assert.equal(await one(port, "md hot I\r\n", "\r\n"), "HD\r\n");
  const stale = await burst(port, "mg hot\r\n");
  assert.equal(count(stale, /^HD X W\r\n$/), 1, stale.join(""));
  assert.equal(count(stale, /^HD Z X\r\n$/), CLIENTS - 1, stale.join(""));
}

ioTest(
  "meta stampede: 50 concurrent mg N30 on a missing key, one W",
  async (io) => {
    await withServer({ io }, async (srv) => {
      await stampede(srv.port);
    });
  },
);

Deno.test("meta stampede: memcached 1.6.18 behaves the same", async () => {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await stampede(mc.port);
  } finally {
    await mc.stop();
  }
});
