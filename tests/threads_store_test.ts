/**
 * The store shared by `-t 4` loops, through real sockets: a key set on one
 * connection is seen on every other, `incr` races end exact, one `cas`
 * winner per round, one `add` STORED.
 * @module
 */

import { ask, raw } from "./_helpers.ts";
import {
  assertEquals,
  closeAll,
  NO_EPOLL,
  openMany,
  withLoops,
} from "./_threads.ts";

const storeTest = (name: string, fn: (port: number) => Promise<void>) =>
  Deno.test({
    name: `-t 4: ${name}`,
    ignore: NO_EPOLL !== null,
    fn: () => withLoops(4, [], fn),
  });

storeTest(
  "a key set on one connection is seen on every other",
  async (port) => {
    const a = await raw(port);
    await a.send("set shared 5 0 5\r\nhello\r\n");
    assertEquals(await a.until("\r\n"), "STORED\r\n");
    const conns = await openMany(port, 24);
    await Promise.all(conns.map(async (c) => {
      await c.send("get shared\r\n");
      assertEquals(
        await c.until("END\r\n"),
        "VALUE shared 5 5\r\nhello\r\nEND\r\n",
      );
    }));
    await closeAll([a, ...conns]);
  },
);

storeTest("incr races from many loops end exact", async (port) => {
  const conns = await openMany(port, 16);
  await ask("127.0.0.1", port, "set ctr 0 0 1\r\n0\r\n", "STORED\r\n");
  const PER = 200;
  await Promise.all(conns.map(async (c) => {
    await c.send("incr ctr 1\r\n".repeat(PER) + "mn\r\n");
    await c.until("MN\r\n", 20_000);
  }));
  assertEquals(
    await ask("127.0.0.1", port, "get ctr\r\n"),
    `VALUE ctr 0 ${String(16 * PER).length}\r\n${16 * PER}\r\nEND\r\n`,
  );
  await closeAll(conns);
});

storeTest("cas: exactly one winner per round", async (port) => {
  const conns = await openMany(port, 12);
  for (let round = 0; round < 10; round++) {
    await ask(
      "127.0.0.1",
      port,
      `set c 0 0 1\r\n${round % 10}\r\n`,
      "STORED\r\n",
    );
    const g = await ask("127.0.0.1", port, "gets c\r\n");
    const cas = g.split("\r\n")[0].split(" ")[4];
    const replies = await Promise.all(conns.map(async (c, i) => {
      await c.send(`cas c 0 0 2 ${cas}\r\n${String(i).padStart(2, "0")}\r\n`);
      return await c.until("\r\n");
    }));
    assertEquals(
      replies.filter((r) => r === "STORED\r\n").length,
      1,
      `${replies}`,
    );
    assertEquals(replies.filter((r) => r === "EXISTS\r\n").length, 11);
  }
  await closeAll(conns);
});

storeTest("add: exactly one STORED", async (port) => {
  const conns = await openMany(port, 16);
  for (let round = 0; round < 10; round++) {
    const replies = await Promise.all(conns.map(async (c) => {
      await c.send(`add a${round} 0 0 1\r\nx\r\n`);
      return await c.until("\r\n");
    }));
    assertEquals(
      replies.filter((r) => r === "STORED\r\n").length,
      1,
      `${replies}`,
    );
  }
  await closeAll(conns);
});
