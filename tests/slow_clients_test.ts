/**
 * Slow clients: hundreds of connections trickling commands a byte at a time
 * must not starve a normal client (and their commands still work once
 * complete); `-o idle_timeout=SECONDS` closes connections that stay idle.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, type Raw, raw, settle, skip, withServer } from "./_helpers.ts";
import {
  answers,
  politeRound,
  spawnServer,
  within,
} from "./_robust_helpers.ts";

const TRICKLERS = 300;
/** Milliseconds between two bytes of one trickler. */
const GAP_MS = 15;

ioTest(
  "slow clients: 300 byte-at-a-time connections do not starve a normal one",
  async (io) => {
    const srv = await spawnServer(["-m", "64"], { io });
    if (!srv) return void skip("cannot start server");
    const conns: Raw[] = [];
    try {
      for (let i = 0; i < TRICKLERS; i++) conns.push(await raw(srv.port));
      let sending = TRICKLERS;
      const trickle = async (c: Raw, i: number) => {
        const v = `slow-${i}`;
        const cmd =
          `set slow:${i} ${i} 0 ${v.length}\r\n${v}\r\nget slow:${i}\r\n`;
        for (let j = 0; j < cmd.length; j++) {
          await c.send(cmd[j]);
          await settle(GAP_MS);
        }
        sending--;
        const want =
          `STORED\r\nVALUE slow:${i} ${i} ${v.length}\r\n${v}\r\nEND\r\n`;
        const got = await c.until("END\r\n", 10_000);
        if (got !== want) {
          throw new Error(`trickler ${i}: ${JSON.stringify(got)}`);
        }
      };
      const all = Promise.all(conns.map(trickle));
      let rounds = 0;
      const t0 = Date.now();
      while (sending > 0) {
        await within(
          politeRound(srv.port, `s${rounds}`, 25),
          10_000,
          `polite round ${rounds}`,
        );
        rounds++;
      }
      console.log(
        `slow clients: ${rounds} polite rounds completed in ${
          Date.now() - t0
        } ms while ${TRICKLERS} connections trickled`,
      );
      assert.ok(rounds >= 1);
      await within(all, 30_000, "tricklers finishing");
    } finally {
      for (const c of conns) c.close();
      await settle(100);
      await srv.stop();
    }
  },
);

ioTest(
  "slow clients: idle_timeout closes idle connections, keeps busy ones",
  async (io) => {
    await withServer({ io, idleTimeout: 1 }, async (s) => {
      const idle = await raw(s.port);
      const partial = await raw(s.port);
      const busy = await raw(s.port);
      try {
        await partial.send("set k 0 0 5\r\nab"); // then nothing: idle mid-command
        let stop = false;
        const keepAlive = (async () => {
          while (!stop) {
            await busy.send("version\r\n");
            await busy.until("VERSION 1.6.18\r\n", 2000);
            await settle(300);
          }
        })();
        assert.equal(
          await idle.closed(5000),
          true,
          "idle connection not closed",
        );
        assert.equal(
          await partial.closed(3000),
          true,
          "idle half-command connection not closed",
        );
        stop = true;
        await keepAlive;
        await busy.send("version\r\n");
        assert.equal(
          await busy.until("VERSION 1.6.18\r\n", 2000),
          "VERSION 1.6.18\r\n",
        );
        assert.ok(
          s.ctx.counters.idle_kicks >= 2,
          `idle_kicks ${s.ctx.counters.idle_kicks}`,
        );
        assert.ok(await answers(s.port), "new connections still served");
      } finally {
        idle.close();
        partial.close();
        busy.close();
        await settle();
      }
    });
  },
);

ioTest(
  "slow clients: -o idle_timeout works from the command line",
  async (io) => {
    const srv = await spawnServer(["-o", "idle_timeout=1"], { io });
    if (!srv) return void skip("cannot start server");
    const c = await raw(srv.port);
    try {
      assert.equal(await c.closed(5000), true, "idle connection not closed");
    } finally {
      c.close();
      await settle();
      await srv.stop();
    }
  },
);
