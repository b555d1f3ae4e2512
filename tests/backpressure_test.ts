/**
 * Backpressure: clients that ask for far more than they read (thousands of
 * pipelined gets of a 100 KB value, or one multiget naming it thousands of
 * times) and never read must not grow the server's memory without bound —
 * it stops reading from them while their output is over a limit — and must
 * not slow a well-behaved client. The server runs as a subprocess so RSS is
 * its own.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, type Raw, raw, settle, skip } from "./_helpers.ts";
import {
  answers,
  haveProc,
  politeRound,
  rssMb,
  rssSampler,
  spawnServer,
  within,
} from "./_robust_helpers.ts";

const LIMIT_MB = 64;
const ALLOWANCE_MB = 150;
const VALUE = 100 * 1024;
/** Pipelined single gets per greedy client: 5,000 × 100 KB = 500 MB asked. */
const PIPELINED = 5000;
/** Keys in one multiget line: 3,000 × 100 KB = 300 MB asked. */
const MULTI = 3000;

/**
 * Reads exactly `n` bytes from `conn` (fast: no decoding) and returns its
 * first line plus four bytes, a bar, and its last five bytes.
 */
async function readAll(conn: Deno.Conn, n: number): Promise<string> {
  const buf = new Uint8Array(1 << 20);
  const dec = new TextDecoder();
  let got = 0;
  let first = "";
  let last = new Uint8Array(0);
  while (got < n) {
    const k = await conn.read(buf);
    if (k === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    if (got === 0) first = dec.decode(buf.subarray(0, Math.min(k, 24)));
    got += k;
    const tail = new Uint8Array(last.length + k);
    tail.set(last);
    tail.set(buf.subarray(0, k), last.length);
    last = tail.slice(-5);
  }
  if (got !== n) throw new Error(`read ${got} bytes, expected ${n}`);
  return `${first}|${dec.decode(last)}`;
}

ioTest(
  "backpressure: clients that never read do not grow memory or slow others",
  async (io) => {
    if (!haveProc()) return void skip("no /proc to read RSS from");
    const srv = await spawnServer(["-m", String(LIMIT_MB)], { io });
    if (!srv) return void skip("cannot start server");
    const greedy: Raw[] = [];
    try {
      const setup = await raw(srv.port);
      await setup.send(`set big 0 0 ${VALUE}\r\n${"b".repeat(VALUE)}\r\n`);
      assert.equal(await setup.until("\r\n"), "STORED\r\n");
      setup.close();
      await settle(300);
      const settled = rssMb(srv.pid);
      const peak = rssSampler(srv.pid, 50);

      for (let i = 0; i < 4; i++) {
        const c = await raw(srv.port);
        greedy.push(c);
        await c.send("get big\r\n".repeat(PIPELINED));
      }
      for (let i = 0; i < 2; i++) {
        const c = await raw(srv.port);
        greedy.push(c);
        await c.send(`get${" big".repeat(MULTI)}\r\n`);
      }
      // Give the server time to fill whatever it is willing to buffer.
      await settle(1500);
      for (let round = 0; round < 3; round++) {
        await within(
          politeRound(srv.port, `bp${round}`, 30),
          10_000,
          `polite round ${round}`,
        );
      }
      const stuck = rssMb(srv.pid);
      const peakMb = peak.stop();
      console.log(
        `backpressure: RSS settled ${
          settled.toFixed(1)
        } MB, with 6 greedy clients ` +
          `${stuck.toFixed(1)} MB, peak ${peakMb.toFixed(1)} MB (asked for ${
            ((4 * PIPELINED + 2 * MULTI) * VALUE / 1048576).toFixed(0)
          } MB; bound ${LIMIT_MB + ALLOWANCE_MB} MB)`,
      );
      assert.ok(
        peakMb < LIMIT_MB + ALLOWANCE_MB,
        `RSS peaked at ${peakMb.toFixed(1)} MB`,
      );

      // Greedy clients that finally read get every byte of every reply.
      const head = `VALUE big 0 ${VALUE}\r\n`.length;
      const each = head + VALUE + 2;
      const [pipelined, multi] = await within(
        Promise.all([
          readAll(greedy[0].conn, PIPELINED * (each + 5)),
          readAll(greedy[4].conn, MULTI * each + 5),
        ]),
        30_000,
        "draining the greedy clients",
      );
      assert.equal(pipelined, `VALUE big 0 ${VALUE}\r\nbbbb|END\r\n`);
      assert.equal(multi, `VALUE big 0 ${VALUE}\r\nbbbb|END\r\n`);
    } finally {
      for (const c of greedy) c.close();
      await settle(200);
      const alive = await answers(srv.port);
      await srv.stop();
      assert.ok(
        alive,
        "server stopped answering after the greedy clients left",
      );
    }
  },
);
