/**
 * Example: denocached as an in-process test fixture. Each test gets a real
 * memcached-compatible server on an ephemeral port, talks to it over TCP
 * like any memcached client would, and closes it — so Deno's resource and
 * op sanitizers stay happy.
 *
 * In your project, import from the package instead of "../mod.ts":
 *   import { startServer } from "jsr:@denocached/denocached";
 *
 * Run: deno test --allow-net examples/fixture_test.ts
 * @module
 */

import assert from "node:assert/strict";
import { manualClock, startServer } from "../mod.ts";

/** A minimal text-protocol exchange: send `request`, read until `end`. */
async function memcached(
  port: number,
  request: string,
  end: string,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(4096);
    let reply = "";
    while (!reply.endsWith(end)) {
      const n = await conn.read(buf);
      if (n === null) break;
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
    return reply;
  } finally {
    conn.close();
  }
}

Deno.test("cache-aside code against a real server", async () => {
  const server = await startServer({ port: 0, memoryLimitMb: 16 });
  try {
    // Point the code under test at 127.0.0.1:server.port.
    const port = server.port;
    assert.equal(
      await memcached(port, "set greeting 0 60 5\r\nhello\r\n", "\r\n"),
      "STORED\r\n",
    );
    assert.equal(
      await memcached(port, "get greeting\r\n", "END\r\n"),
      "VALUE greeting 0 5\r\nhello\r\nEND\r\n",
    );
    // Internal state is there for assertions, too.
    assert.equal(server.ctx.counters.get_hits, 1);
  } finally {
    await server.close();
  }
});

Deno.test("expiry without sleeping: inject a manual clock", async () => {
  const clock = manualClock();
  const server = await startServer({ port: 0, memoryLimitMb: 16, clock });
  try {
    await memcached(server.port, "set session 0 30 2\r\nok\r\n", "\r\n");
    clock.advance(31);
    assert.equal(
      await memcached(server.port, "get session\r\n", "END\r\n"),
      "END\r\n",
    );
  } finally {
    await server.close();
  }
});

Deno.test("fixture: ASCII authentication in-process", async () => {
  const server = await startServer({ port: 0, users: { alice: "s3cret" } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const ask = async (line: string) => {
      await conn.write(new TextEncoder().encode(line));
      const buf = new Uint8Array(256);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    };
    assert.equal(await ask("get k\r\n"), "CLIENT_ERROR unauthenticated\r\n");
    assert.equal(await ask("set a 0 0 12\r\nalice s3cret\r\n"), "STORED\r\n");
    assert.equal(await ask("get k\r\n"), "END\r\n");
  } finally {
    conn.close();
    await server.close();
  }
});
