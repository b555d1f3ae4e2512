/**
 * Binary-protocol clients against denocached: `npm:memjs` (binary only)
 * doing set/get/delete/incr/decr/append/touch/flush/stats, the fixture's
 * `protocol` pinning (`-B`), and the binary protocol over a unix socket.
 * @module
 */
// deno-lint-ignore-file no-import-prefix

import assert from "node:assert/strict";
import memjs from "npm:memjs@1.3.2";
import { freePort, raw, skip, which, withServer } from "./_helpers.ts";
import { spawnMain } from "./_proc.ts";
import { unsupportedReason } from "../lib/server/ffi/libc.ts";
import { binConn, cat, pkt, render, setExtras } from "./_binary.ts";
import { O } from "./_binary_cases.ts";

Deno.test("memjs: every common call against denocached", async () => {
  await withServer({}, async (srv) => {
    const mc = memjs.Client.create(`127.0.0.1:${srv.port}`, {
      retries: 0,
      timeout: 3,
    });
    try {
      assert.equal(await mc.set("k", "hello", { expires: 100 }), true);
      assert.equal((await mc.get("k")).value?.toString(), "hello");
      assert.equal(await mc.add("k", "x", {}), false);
      assert.equal(await mc.add("k2", "x", {}), true);
      assert.equal(await mc.replace("k2", "y", {}), true);
      assert.equal(await mc.append("k2", "z"), true);
      assert.equal(await mc.prepend("k2", "w"), true);
      // memjs 1.3.2's prepend sends Append's opcode (0x0e), so "w" lands at
      // the end here exactly as it does on memcached.
      assert.equal((await mc.get("k2")).value?.toString(), "yzw");
      assert.equal(await mc.touch("k2", 50), true);
      assert.deepEqual(await mc.increment("n", 5, { initial: 1 }), {
        success: true,
        value: 1,
      });
      assert.deepEqual(await mc.increment("n", 5, {}), {
        success: true,
        value: 6,
      });
      assert.deepEqual(await mc.decrement("n", 10, {}), {
        success: true,
        value: 0,
      });
      assert.equal(await mc.delete("k"), true);
      assert.equal(await mc.delete("k"), false);
      assert.equal((await mc.get("k")).value, null);
      const stats = await new Promise<Record<string, string>>((res, rej) =>
        mc.stats((err: unknown, _s: string, st: Record<string, string>) =>
          err ? rej(err) : res(st)
        )
      );
      assert.equal(stats.version, "1.6.18");
      assert.equal(stats.curr_items, "2");
      assert.equal(stats.get_hits, "2");
      const settings = await new Promise<Record<string, string>>((res) =>
        mc.statsWithKey(
          "settings",
          (_e: unknown, _s: string, st: Record<string, string>) => res(st),
        )
      );
      assert.equal(settings.binding_protocol, "auto-negotiate");
      await mc.flush();
      assert.equal((await mc.get("k2")).value, null);
      assert.equal(srv.ctx.counters.cmd_flush, 1);
    } finally {
      mc.close();
    }
  });
});

Deno.test("protocol: -B binary refuses text, -B ascii takes 0x80 as text", async () => {
  await withServer({ protocol: "binary" }, async (srv) => {
    const c = await raw(srv.port);
    await c.send("version\r\n" + " ".repeat(30));
    assert.ok(await c.closed(3000));
    c.close();
    const b = await binConn(srv.port);
    await b.send(pkt({ op: O.version }));
    assert.equal(new TextDecoder().decode((await b.sync())[0].value), "1.6.18");
    b.close();
  });
  await withServer({ protocol: "ascii" }, async (srv) => {
    const c = await raw(srv.port);
    await c.send(new Uint8Array([0x80, 0x0a, 13, 10]));
    assert.equal(await c.until("\r\n"), "ERROR\r\n");
    c.close();
  });
});

Deno.test("binary: replies before a bad-magic close are still sent", async () => {
  await withServer({}, async (srv) => {
    const c = await binConn(srv.port);
    await c.send(cat(
      pkt({ op: O.set, key: "k", extras: setExtras(0, 0), value: "v" }),
      pkt({ op: O.get, key: "k", magic: 0x00 }),
    ));
    const { res, closed } = await c.untilClosed(3000);
    assert.ok(closed);
    assert.deepEqual(render(res).map((l) => l.slice(0, 30)), [
      "magic=81 op=1 status=0 opaque=",
    ]);
    c.close();
  });
});

Deno.test("binary: served over a unix socket too", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/mc.sock`;
  try {
    await withServer({ unixSocket: path }, async () => {
      const c = await binConn(path);
      await c.send(cat(
        pkt({ op: O.set, key: "k", extras: setExtras(3, 0), value: "v" }),
        pkt({ op: O.getk, key: "k" }),
      ));
      const res = await c.sync();
      assert.equal(res.length, 2);
      assert.equal(res[1].key, "k");
      assert.equal(new TextDecoder().decode(res[1].value), "v");
      c.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("binary: memccapable -b passes on the epoll backend too", async () => {
  const bin = which("memccapable");
  if (unsupportedReason() !== null || !bin) {
    skip("needs Linux x86_64/aarch64 and memccapable (libmemcached-tools)");
    return;
  }
  const port = freePort();
  const p = await spawnMain(["--allow-net", "--allow-ffi"], [
    "--io=epoll",
    "-p",
    String(port),
  ], port);
  try {
    const out = await new Deno.Command(bin, {
      args: ["-b", "-t", "10", "-h", "127.0.0.1", "-p", String(port)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.match(text, /All tests passed/, text);
    assert.equal((text.match(/^binary .*\[pass\]$/gm) ?? []).length, 27);
  } finally {
    await p.stop("SIGTERM");
  }
});

Deno.test("libmemcached tools: memccp/memccat --binary, with and without SASL", async () => {
  const cp = which("memccp");
  const catBin = which("memccat");
  if (!cp || !catBin) {
    skip("memccp/memccat missing (apt-get install -y libmemcached-tools)");
    return;
  }
  const dir = await Deno.makeTempDir();
  const file = `${dir}/note.txt`;
  await Deno.writeTextFile(file, "copied over binary\n");
  const run = async (bin: string, args: string[]) => {
    const o = await new Deno.Command(bin, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: o.code, out: new TextDecoder().decode(o.stdout) };
  };
  try {
    for (const sasl of [null, { alice: "secret" }]) {
      await withServer(sasl ? { sasl } : {}, async (srv) => {
        const args = [`--servers=127.0.0.1:${srv.port}`, "--binary"];
        if (sasl) args.push("-u", "alice", "-p", "secret");
        assert.equal((await run(cp, [...args, file])).code, 0);
        const got = await run(catBin, [...args, "note.txt"]);
        assert.equal(got.code, 0);
        assert.equal(got.out, "copied over binary\n\n");
        if (sasl) {
          const bad = await run(catBin, [
            `--servers=127.0.0.1:${srv.port}`,
            "--binary",
            "-u",
            "alice",
            "-p",
            "wrong",
            "note.txt",
          ]);
          assert.notEqual(bad.code, 0, "a wrong password is refused");
          assert.equal(srv.ctx.counters.auth_errors, 1);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
