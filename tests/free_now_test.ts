/**
 * `freeNow`: a buffer's bytes go at once (its views read as empty), and
 * what must not be detached (empty, shared) is left alone; a closed
 * connection's buffers are freed that way and the server goes on serving.
 * @module
 */

import assert from "node:assert/strict";
import { freeNow } from "../lib/free_now.ts";
import { ioTest, raw, withServer } from "./_helpers.ts";

Deno.test("freeNow detaches a private buffer and leaves shared or empty ones", () => {
  const b = new Uint8Array(1 << 20);
  const view = b.subarray(10, 20);
  freeNow(b);
  assert.equal(b.byteLength, 0);
  assert.equal(view.byteLength, 0);
  const empty = new Uint8Array(0);
  freeNow(empty);
  assert.equal(empty.buffer.detached, false);
  const shared = new Uint8Array(new SharedArrayBuffer(64));
  freeNow(shared);
  assert.equal(shared.byteLength, 64);
  freeNow(b); // twice is harmless
});

ioTest(
  "closed connections free their buffers; the server goes on",
  async (io) => {
    await withServer({ io }, async (srv) => {
      // Connections that leave a partial value, a big reply and a partial
      // line behind, closed by the client mid-way.
      for (let round = 0; round < 3; round++) {
        const cs = await Promise.all(
          Array.from({ length: 20 }, () => raw(srv.port)),
        );
        await Promise.all(cs.map(async (c, i) => {
          await c.send(`set big${i} 0 0 4000\r\n${"x".repeat(4000)}\r\n`);
          await c.until("STORED\r\n");
          await c.send(
            `get ${`big${i} `.repeat(40)}\r\nset half 0 0 9000\r\nabc`,
          );
        }));
        for (const c of cs) c.close();
      }
      const c = await raw(srv.port);
      try {
        await c.send("set k 0 0 2\r\nok\r\nget k big3\r\n");
        const text = await c.until("END\r\n");
        assert.ok(
          text.startsWith(
            "STORED\r\nVALUE k 0 2\r\nok\r\nVALUE big3 0 4000\r\n",
          ),
        );
      } finally {
        c.close();
      }
    });
  },
);
