/**
 * The in-process fixture API (`mod.ts`): options validated as the CLI
 * validates flags, and `await using` closes the server at scope exit.
 * @module
 */

import assert from "node:assert/strict";
import { InvalidOptionError, startServer } from "../mod.ts";
import { raw, settle } from "./_helpers.ts";

Deno.test("fixture: out-of-range options are refused", async () => {
  for (
    const bad of [
      { memoryLimitMb: 0 },
      { memoryLimitMb: -5 },
      { maxConnections: 0 },
      { port: 70000 },
      { maxItemSize: 10 },
      { memoryLimitMb: 1, maxItemSize: 1024 * 1024 },
    ]
  ) {
    await assert.rejects(
      startServer(bad),
      InvalidOptionError,
      JSON.stringify(bad),
    );
  }
});

Deno.test("fixture: await using closes the server", async () => {
  let port = 0;
  {
    await using server = await startServer({ port: 0 });
    port = server.port;
    const c = await raw(port);
    await c.send("version\r\n");
    assert.equal(await c.until("\r\n"), "VERSION 1.6.18\r\n");
    c.close();
    await settle();
  }
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});
