/**
 * `-s PATH` / `-a MASK`: serving a unix socket, in-process and from the
 * command line, with memcached's permission mask semantics and the same
 * replies as memcached over its own unix socket.
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../mod.ts";
import { normalizeCas, raw, settle, skip, which } from "./_helpers.ts";
import { DENO, smoke, spawnMain, spawnServer } from "./_proc.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "denocached-unix-" });
}

function mode(path: string): number {
  return (Deno.lstatSync(path).mode ?? 0) & 0o777;
}

/** Sends `script` + `version` over the socket; returns replies before VERSION. */
async function talk(path: string, script: string): Promise<string> {
  const c = await raw(path);
  try {
    await c.send(script + "version\r\n");
    const out = await c.until("\r\nVERSION ");
    await c.until("\r\n");
    return out.slice(0, -"VERSION ".length);
  } finally {
    c.close();
    await settle();
  }
}

const SCRIPT = "set a 1 0 3\r\nabc\r\nset b 2 0 1\r\nx\r\nget a b c\r\n" +
  "gets a\r\nappend a 0 0 2\r\nde\r\nget a\r\nincr a 1\r\n" +
  "set n 0 0 1\r\n9\r\nincr n 1\r\ndelete b\r\ndelete b\r\n" +
  "touch a 100\r\ngets a b\r\nbogus\r\n";

Deno.test("in-process: unix socket only, default mask 0700, removed on close", async () => {
  const dir = await tempDir();
  const path = `${dir}/mc.sock`;
  try {
    const s = await startServer({ unixSocket: path, memoryLimitMb: 8 });
    try {
      assert.equal(s.port, 0, "TCP is off when only a socket is asked for");
      assert.ok(Deno.lstatSync(path).isSocket);
      assert.equal(mode(path), 0o700);
      await smoke(path);
      const settings = await talk(path, "stats settings\r\n");
      assert.match(settings, new RegExp(`STAT domain_socket ${path}\r\n`));
      assert.equal(s.ctx.counters.curr_connections, 0);
    } finally {
      await s.close();
    }
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stale socket is replaced, a regular file is never deleted", async () => {
  const dir = await tempDir();
  try {
    const stale = `${dir}/stale.sock`;
    // A socket left behind by a crashed process (a clean close unlinks it).
    const crashed = await spawnServer(DENO, [
      "eval",
      `for await (const c of Deno.listen({ transport: "unix", path: ${
        JSON.stringify(stale)
      } })) c.close();`,
    ], stale);
    await crashed.stop("SIGKILL");
    assert.ok(Deno.lstatSync(stale).isSocket);
    const s = await startServer({ unixSocket: stale });
    try {
      await smoke(stale);
    } finally {
      await s.close();
    }

    const file = `${dir}/data.txt`;
    await Deno.writeTextFile(file, "precious");
    await assert.rejects(() => startServer({ unixSocket: file }));
    assert.equal(await Deno.readTextFile(file), "precious");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: -s PATH -a 0770 with path-scoped permissions", async () => {
  const dir = await tempDir();
  const path = `${dir}/mc.sock`;
  try {
    const p = await spawnMain(
      ["--allow-net", `--allow-read=${path}`, `--allow-write=${path}`],
      ["-s", path, "-a", "0770"],
      path,
    );
    try {
      assert.equal(mode(path), 0o770);
      await smoke(path);
      // Many clients at once over the socket, each with its own keys.
      await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const out = await talk(
            path,
            `set k${i} 0 0 2\r\nv${i}\r\nget k${i}\r\n`,
          );
          assert.equal(out, `STORED\r\nVALUE k${i} 0 2\r\nv${i}\r\nEND\r\n`);
        }),
      );
    } finally {
      const s = await p.stop("SIGTERM");
      assert.equal(s.code, 0, p.stderr());
    }
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: a bad -a mask is a usage error", async () => {
  const { parseCli } = await import("../lib/cli.ts");
  assert.equal(parseCli(["-s", "/x", "-a", "0755"]).config.unixMask, 0o755);
  assert.equal(parseCli(["-s", "/x"]).config.unixMask, 0o700);
  assert.throws(() => parseCli(["-s", "/x", "-a", "0999"]));
});

Deno.test("same replies as memcached over a unix socket", async () => {
  const bin = which("memcached");
  if (!bin && skip("memcached not installed (apt-get install -y memcached)")) {
    return;
  }
  const dir = await tempDir();
  const ours = `${dir}/ours.sock`;
  const theirs = `${dir}/theirs.sock`;
  try {
    const mc = await spawnServer(
      bin!,
      ["-s", theirs, "-a", "0700", "-U", "0", "-t", "1", "-u", "root"],
      theirs,
    );
    const s = await startServer({ unixSocket: ours });
    try {
      assert.equal(mode(theirs), mode(ours));
      const want = normalizeCas(await talk(theirs, SCRIPT));
      const got = normalizeCas(await talk(ours, SCRIPT));
      assert.equal(got, want);
    } finally {
      await s.close();
      await mc.stop("SIGTERM");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
