/**
 * `-t N` admin views that span every loop, as memcached's threads share
 * them: `stats conns` from any connection lists every loop's clients (and
 * each listener once), and `verbosity` sent to one loop sets every loop's
 * level within a tick (`stats settings`).
 * @module
 */

import { ask, skip } from "./_helpers.ts";
import {
  assert,
  assertEquals,
  busyLoops,
  closeAll,
  NO_EPOLL,
  openMany,
  stats,
  withLoops,
} from "./_threads.ts";

if (NO_EPOLL) skip(`threads conns tests: epoll ${NO_EPOLL}`);

/** `stats conns` rows grouped by connection id. */
async function connRows(
  port: number,
): Promise<Map<string, Map<string, string>>> {
  const text = await ask("127.0.0.1", port, "stats conns\r\n");
  const out = new Map<string, Map<string, string>>();
  for (const line of text.split("\r\n")) {
    const m = /^STAT (\d+):(\w+) (.*)$/.exec(line);
    if (!m) continue;
    if (!out.has(m[1])) out.set(m[1], new Map());
    out.get(m[1])!.set(m[2], m[3]);
  }
  return out;
}

Deno.test({
  name: "-t 4: stats conns lists every loop's connections, each listener once",
  ignore: NO_EPOLL !== null,
  fn: () =>
    withLoops(4, [], async (port) => {
      const conns = await openMany(port, 24);
      const per = await busyLoops(port);
      assert(per.filter((c) => c > 0).length >= 2, `one loop took all: ${per}`);
      // Asked several times: each may land on another loop, same answer.
      for (let i = 0; i < 6; i++) {
        const rows = await connRows(port);
        const listeners = [...rows.values()].filter((r) =>
          r.get("state") === "conn_listening"
        );
        const clients = [...rows.values()].filter((r) =>
          r.get("state") !== "conn_listening"
        );
        assertEquals(listeners.length, 1, "one row per listening address");
        assertEquals(listeners[0].get("addr"), `tcp:127.0.0.1:${port}`);
        // The 24 held plus the one asking.
        assertEquals(clients.length, 25);
        for (const c of clients) {
          assert(/^tcp:127\.0\.0\.1:\d+$/.test(c.get("addr")!), c.get("addr"));
          assertEquals(c.get("listen_addr"), `tcp:127.0.0.1:${port}`);
          assert(/^conn_/.test(c.get("state")!));
        }
      }
      await closeAll(conns);
      let left = 0;
      for (let i = 0; i < 50; i++) {
        left = [...(await connRows(port)).values()].filter((r) =>
          r.get("state") !== "conn_listening"
        ).length;
        if (left === 1) {
          break;
        }
        await new Promise((r) =>
          setTimeout(r, 20)
        );
      }
      assertEquals(left, 1, "closed connections leave the table");
    }),
});

Deno.test({
  name: "-t 4: verbosity on one loop is every loop's",
  ignore: NO_EPOLL !== null,
  fn: () =>
    withLoops(4, [], async (port) => {
      assertEquals((await stats(port, "settings")).get("verbosity"), "0");
      assertEquals(
        await ask("127.0.0.1", port, "verbosity 1\r\n", "OK\r\n"),
        "OK\r\n",
      );
      const conns = await openMany(port, 16);
      try {
        const per = await busyLoops(port);
        assert(per.filter((c) => c > 0).length >= 2, `one loop: ${per}`);
        // Every loop takes it on its next once-a-second tick.
        let seen = 0;
        for (let i = 0; i < 60 && seen < 12; i++) {
          const v = (await stats(port, "settings")).get("verbosity");
          seen = v === "1" ? seen + 1 : 0;
          if (v !== "1") await new Promise((r) => setTimeout(r, 100));
        }
        assertEquals(seen, 12, "twelve asks in a row, on any loop, see 1");
      } finally {
        await closeAll(conns);
      }
      assertEquals(
        await ask("127.0.0.1", port, "verbosity 0\r\n", "OK\r\n"),
        "OK\r\n",
      );
    }),
});
