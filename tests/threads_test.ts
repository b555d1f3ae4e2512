/**
 * `-t N` event loops through real sockets: connections spread over the
 * loops, `stats` sums exact across loops, `curr_connections` and `-c`
 * counted across loops, SIGTERM, `shutdown` and `--single` stop every
 * loop, the unix socket shared, the bundle runs its loops from another
 * directory, the one-loop fallback, and `startServer({ threads })`.
 * Cross-loop store races: threads_store_test.ts.
 * @module
 */

import { ask, freePort, type Raw, raw, settle, skip } from "./_helpers.ts";
import { DENO, MAIN, ROOT, spawnMain, spawnServer } from "./_proc.ts";
import { startServer } from "../mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  busyLoops,
  closeAll,
  NO_EPOLL,
  num,
  openMany,
  PERMS,
  stats,
  withLoops,
} from "./_threads.ts";

if (NO_EPOLL) skip(`threads tests: epoll ${NO_EPOLL}`);

for (const n of [2, 4]) {
  Deno.test({
    name:
      `-t ${n}: connections land on several loops; threads row; curr_connections exact`,
    ignore: NO_EPOLL !== null,
    fn: () =>
      withLoops(n, [], async (port) => {
        const s = await stats(port);
        assertEquals(s.get("threads"), String(n));
        assertEquals(
          (await stats(port, "settings")).get("num_threads"),
          String(n),
        );
        const conns = await openMany(port, 48);
        const per = await busyLoops(port);
        // loop_0 is the main thread's own epoll loop: one of the n.
        assertEquals(per.length, n);
        const used = per.filter((c) => c > 0).length;
        assert(used >= 2, `one loop took every connection: ${per}`);
        // The 48 held plus the one asking.
        assertEquals(num(await stats(port), "curr_connections"), 49);
        await closeAll(conns);
        let curr = 0;
        for (let i = 0; i < 100; i++) {
          curr = num(await stats(port), "curr_connections");
          if (curr === 1) break;
          await settle(20);
        }
        assertEquals(curr, 1);
      }),
  });

  Deno.test({
    name:
      `-t ${n}: stats sums are exact after a workload over many connections`,
    ignore: NO_EPOLL !== null,
    fn: () =>
      withLoops(n, [], async (port) => {
        // A connection the kernel queued (spawnMain's probe) may be
        // accepted later: read until two reads differ by this one only.
        let before = await stats(port);
        for (let i = 0; i < 50; i++) {
          const again = await stats(port);
          const settled = num(again, "total_connections") ===
            num(before, "total_connections") + 1;
          before = again;
          if (settled) break;
          await settle(20);
        }
        const conns = await openMany(port, 32);
        const SETS = 5, GETS = 7;
        await Promise.all(conns.map(async (c, i) => {
          let script = "";
          for (let j = 0; j < SETS; j++) {
            script += `set k${i}_${j} 0 0 3\r\nabc\r\n`;
          }
          for (let j = 0; j < GETS; j++) {
            script += `get k${i}_${j % SETS} nope${i}\r\n`;
          }
          script += "incr nothere 1\r\nmn\r\n";
          await c.send(script);
          const out = await c.until("MN\r\n");
          assertEquals(out.split("STORED").length - 1, SETS);
        }));
        const s = await stats(port);
        const d = (k: string) => num(s, k) - (num(before, k) || 0);
        if (d("cmd_set") !== 32 * SETS) {
          console.log("stats before/after/loops:", [...before], [...s], [
            ...await stats(port, "loops"),
          ]);
        }
        assertEquals(d("cmd_set"), 32 * SETS);
        // Each get asks for two keys: memcached counts both.
        assertEquals(d("cmd_get"), 32 * GETS * 2);
        assertEquals(d("get_hits"), 32 * GETS);
        assertEquals(d("get_misses"), 32 * GETS);
        assertEquals(d("incr_misses"), 32);
        assertEquals(d("total_connections"), 32 + 1);
        let slabSets = 0;
        for (const [k, v] of await stats(port, "slabs")) {
          if (/^\d+:cmd_set$/.test(k)) slabSets += Number(v);
        }
        assertEquals(slabSets, 32 * SETS);
        // stats reset zeroes every loop's counters.
        assertEquals(
          await ask("127.0.0.1", port, "stats reset\r\n", "RESET\r\n"),
          "RESET\r\n",
        );
        const r = await stats(port);
        assertEquals(num(r, "cmd_set"), 0);
        assertEquals(num(r, "cmd_get"), 0);
        // The 32 held, this one, and maybe the last one still closing.
        assert(num(r, "curr_connections") >= 33);
        await closeAll(conns);
      }),
  });
}

Deno.test({
  name: "-t 2: -c counts connections across loops",
  ignore: NO_EPOLL !== null,
  fn: () =>
    withLoops(2, ["-c", "10"], async (port) => {
      const conns = await openMany(port, 10);
      const per = await (async () => {
        // The 11th: refused whichever loop it reaches.
        const extra: string[] = [];
        for (let i = 0; i < 4; i++) {
          const c = await raw(port);
          extra.push(await c.until("\r\n"));
          assert(await c.closed());
          c.close();
        }
        return extra;
      })();
      for (const l of per) {
        assertEquals(l, "ERROR Too many open connections\r\n");
      }
      conns.pop()!.close();
      await settle(100);
      const s = await stats(port);
      assertEquals(num(s, "curr_connections"), 10);
      assertEquals(num(s, "rejected_connections"), 4);
      await closeAll(conns);
    }),
});

Deno.test({
  name: "-t 2: SIGTERM stops every loop, exit 0, clients closed",
  ignore: NO_EPOLL !== null,
  async fn() {
    const port = freePort();
    const p = await spawnMain(PERMS, ["-p", String(port), "-t", "2"], port);
    const conns = await openMany(port, 8);
    const st = await p.stop("SIGTERM");
    assertEquals(st.code, 0, p.stderr());
    for (const c of conns) assert(await c.closed(), "client left open");
    await closeAll(conns);
  },
});

Deno.test({
  name: "-t 2 -A: shutdown from a client stops every loop",
  ignore: NO_EPOLL !== null,
  async fn() {
    const port = freePort();
    const p = await spawnMain(
      PERMS,
      ["-p", String(port), "-t", "2", "-A"],
      port,
    );
    const c = await raw(port);
    await c.send("shutdown\r\n");
    const st = await p.status;
    assertEquals(st.code, 0, p.stderr());
    c.close();
  },
});

Deno.test({
  name: "-t 2 --single: one connection served, then exit 0",
  ignore: NO_EPOLL !== null,
  async fn() {
    const port = freePort();
    // spawnMain's readiness probe is the single connection.
    const p = await spawnMain(PERMS, [
      "-p",
      String(port),
      "-t",
      "2",
      "--single",
    ], port);
    const st = await p.status;
    assertEquals(st.code, 0, p.stderr());
  },
});

Deno.test({
  name: "-t 2 -s: loops share the unix socket",
  ignore: NO_EPOLL !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const path = `${dir}/mc.sock`;
    const p = await spawnMain(PERMS, ["-s", path, "-t", "2"], path);
    try {
      const conns: Raw[] = [];
      for (let i = 0; i < 6; i++) {
        const c = await raw(path);
        await c.send("set u 0 0 1\r\nx\r\nget u\r\n");
        assertEquals(
          await c.until("END\r\n"),
          "STORED\r\nVALUE u 0 1\r\nx\r\nEND\r\n",
        );
        conns.push(c);
      }
      await closeAll(conns);
    } finally {
      assertEquals((await p.stop("SIGTERM")).code, 0, p.stderr());
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "-t 2 without --allow-read: one line on stderr, one loop",
  ignore: NO_EPOLL !== null,
  async fn() {
    const port = freePort();
    const p = await spawnMain(
      ["--allow-net", "--allow-ffi"],
      ["-p", String(port), "-t", "2"],
      port,
    );
    try {
      assertEquals((await stats(port)).get("threads"), "1");
      assertMatch(p.stderr(), /-t 2 needs --allow-read .*running 1 loop/);
    } finally {
      assertEquals((await p.stop("SIGTERM")).code, 0, p.stderr());
    }
  },
});

Deno.test({
  name: "bundle -t 2 runs its loops from another directory",
  ignore: NO_EPOLL !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const out = `${dir}/denocached.js`;
    try {
      const b = await new Deno.Command(DENO, {
        args: ["bundle", "--quiet", "--output", out, MAIN],
        cwd: ROOT,
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!b.success) {
        skip(`deno bundle failed: ${new TextDecoder().decode(b.stderr)}`);
        return;
      }
      const port = freePort();
      const p = await spawnServer(
        DENO,
        ["run", ...PERMS, out, "-p", String(port), "-t", "2"],
        port,
        { cwd: "/" },
      );
      try {
        assertEquals((await stats(port)).get("threads"), "2");
        const conns = await openMany(port, 24);
        const per = await busyLoops(port);
        assert(per.filter((c) => c > 0).length >= 2, `${per}`);
        await closeAll(conns);
      } finally {
        assertEquals((await p.stop("SIGTERM")).code, 0, p.stderr());
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "startServer({ threads: 2 }) serves from two loops",
  ignore: NO_EPOLL !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using s = await startServer({ threads: 2 });
    assertEquals((await stats(s.port)).get("threads"), "2");
    const conns = await openMany(s.port, 24);
    const per = await busyLoops(s.port);
    assert(per.filter((c) => c > 0).length >= 2, `${per}`);
    await closeAll(conns);
  },
});
