/**
 * Connections reset before the server accepts them (connect, then RST via
 * SO_LINGER 0 — node's `resetAndDestroy`) must not stall the accept loop:
 * 200 such cycles, then a normal client connects and is answered. Deno's
 * `accept()` reports each of them as NotConnected (os error 107); the
 * loop skips them at once. The victim's latency is printed; only a
 * generous bound (a multi-second stall) is asserted. Both transports.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, raw, settle, skip, which } from "./_helpers.ts";
import { spawnServer } from "./_robust_helpers.ts";

const CYCLES = 200;

/** Node script: CYCLES connect-then-RST cycles against 127.0.0.1:port. */
const RESETTER = `
const net = require("node:net");
const [port, n] = process.argv.slice(1).map(Number);
let done = 0;
function one() {
  const s = net.connect({ host: "127.0.0.1", port });
  s.on("error", () => {});
  s.on("connect", () => {
    s.resetAndDestroy();
    if (++done < n) one(); else process.exit(0);
  });
}
for (let i = 0; i < 10; i++) one();
`;

ioTest(
  "accept: 200 connect-then-RST cycles do not stall new clients",
  async (io) => {
    const node = which("node");
    if (!node) return void skip("node not installed (needed to send RSTs)");
    const srv = await spawnServer(["-c", "1024"], { io });
    if (!srv) return void skip("cannot start server");
    try {
      const t0 = performance.now();
      const out = await new Deno.Command(node, {
        args: ["-e", RESETTER, String(srv.port), String(CYCLES)],
        stdout: "null",
        stderr: "piped",
      }).output();
      const floodMs = performance.now() - t0;
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      // Each victim connects right after the flood.
      let worst = 0;
      for (let i = 0; i < 3; i++) {
        const t1 = performance.now();
        const c = await raw(srv.port);
        try {
          await c.send(`set v${i} 0 0 2\r\nok\r\nget v${i}\r\n`);
          assert.equal(
            await c.until("END\r\n", 15_000),
            `STORED\r\nVALUE v${i} 0 2\r\nok\r\nEND\r\n`,
          );
        } finally {
          c.close();
          await settle();
        }
        worst = Math.max(worst, performance.now() - t1);
      }
      console.log(
        `accept [${io}]: ${CYCLES} RST cycles in ${floodMs.toFixed(0)} ms, ` +
          `victim worst ${worst.toFixed(1)} ms`,
      );
      assert.ok(worst < 3000, `victim waited ${worst.toFixed(0)} ms`);
    } finally {
      await srv.stop();
    }
  },
);
