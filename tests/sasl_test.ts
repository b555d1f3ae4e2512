/**
 * SASL (`-S`) over the binary protocol: byte scripts compared with a real
 * memcached 1.6.18 started with Cyrus SASL (`mech_list: plain` and a sasldb
 * made by saslpasswd2), then `npm:memjs` with and without credentials, the
 * password file reloaded on SIGHUP, and text connections refused.
 * @module
 */
// deno-lint-ignore-file no-import-prefix

import assert from "node:assert/strict";
import memjs from "npm:memjs@1.3.2";
import {
  freePort,
  raw,
  skip,
  startMemcached,
  which,
  withServer,
} from "./_helpers.ts";
import { binConn, cat, pkt, render } from "./_binary.ts";
import { O } from "./_binary_cases.ts";
import { DENO, MAIN, spawnServer } from "./_proc.ts";

const plain = (authz: string, user: string, pass: string) =>
  `${authz}\0${user}\0${pass}`;
const auth = (value: string, key = "PLAIN", op: number = O.saslAuth) =>
  pkt({ op, key, value });

/** Scripts of one connection each; `closes` ones end with the server hanging up. */
const SCRIPTS: [string, Uint8Array, "closes"?][] = [
  ["list mechs", pkt({ op: O.saslList })],
  ["version before auth", pkt({ op: O.version })],
  ["get before auth closes", pkt({ op: O.get, key: "k" }), "closes"],
  ["noop before auth closes", pkt({ op: O.noop, opaque: 5 }), "closes"],
  [
    "auth ok, then commands",
    cat(
      auth(plain("", "alice", "secret")),
      pkt({ op: O.set, key: "k", extras: new Uint8Array(8), value: "v" }),
      pkt({ op: O.get, key: "k" }),
    ),
  ],
  ["auth with authzid = user", auth(plain("alice", "alice", "secret"))],
  ["mechanism name in lower case", auth(plain("", "alice", "secret"), "plain")],
  ["wrong password", auth(plain("", "alice", "wrong"))],
  ["unknown user", auth(plain("", "mallory", "secret"))],
  ["unknown mechanism", auth(plain("", "alice", "secret"), "CRAM-MD5")],
  ["mechanism name over 32 bytes", auth("xyz", "M".repeat(33))],
  [
    "wrong then right",
    cat(
      auth(plain("", "alice", "wrong")),
      auth(plain("", "alice", "secret")),
      pkt({ op: O.get, key: "k" }),
    ),
  ],
  [
    "empty auth continues, step completes",
    cat(
      auth(""),
      auth(plain("", "alice", "secret"), "PLAIN", O.saslStep),
      pkt({ op: O.get, key: "k" }),
    ),
  ],
  [
    "step without auth",
    auth(plain("", "alice", "secret"), "PLAIN", O.saslStep),
  ],
  [
    "auth twice: the second fails and logs out",
    cat(
      auth(plain("", "alice", "secret")),
      auth(plain("", "alice", "secret")),
      pkt({ op: O.get, key: "k" }),
    ),
    "closes",
  ],
  [
    "failed auth then a command closes",
    cat(
      auth(plain("", "alice", "nope")),
      pkt({ op: O.get, key: "k" }),
    ),
    "closes",
  ],
];

async function run(port: number, [, bytes, closes]: typeof SCRIPTS[0]) {
  const c = await binConn(port);
  try {
    await c.send(bytes);
    if (closes) {
      const { res, closed } = await c.untilClosed(3000);
      return render(res).join("\n") + (closed ? "\n<closed>" : "\n<open>");
    }
    return render(await c.sync(3000)).join("\n");
  } finally {
    c.close();
  }
}

/** Starts memcached -S with a Cyrus sasldb holding alice:secret, or null. */
async function startSaslMemcached() {
  const mc = which("memcached");
  const pw = which("saslpasswd2");
  if (!mc || !pw) {
    skip(
      "memcached or saslpasswd2 missing (apt-get install -y memcached sasl2-bin libsasl2-modules)",
    );
    return null;
  }
  const dir = await Deno.makeTempDir();
  const db = `${dir}/sasldb`;
  const p = new Deno.Command(pw, {
    args: ["-p", "-a", "memcached", "-c", "-f", db, "alice"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode("secret"));
  await w.close();
  assert.ok((await p.status).success, "saslpasswd2 failed");
  await Deno.writeTextFile(
    `${dir}/memcached.conf`,
    `mech_list: plain\nsasldb_path: ${db}\n`,
  );
  // memcached reads SASL_CONF_PATH from the environment it inherits.
  Deno.env.set("SASL_CONF_PATH", dir);
  const ext = await startMemcached(["-S"]);
  Deno.env.delete("SASL_CONF_PATH");
  if (!ext) return null;
  return { ...ext, dir };
}

Deno.test("sasl diff: the same replies as memcached -S with Cyrus PLAIN", async () => {
  const mc = await startSaslMemcached();
  if (!mc) return;
  try {
    await withServer({ sasl: { alice: "secret" } }, async (srv) => {
      const diffs: string[] = [];
      for (const script of SCRIPTS) {
        const want = await run(mc.port, script);
        const got = await run(srv.port, script);
        if (want !== got) {
          diffs.push(
            `${script[0]}:\n  memcached:  ${want}\n  denocached: ${got}`,
          );
        }
      }
      assert.equal(
        diffs.join("\n"),
        "",
        `${diffs.length} of ${SCRIPTS.length} differ`,
      );
      // The counters moved the same way: compare after the same scripts.
      const counts = [];
      for (const port of [mc.port, srv.port]) {
        const c = await binConn(port);
        await c.send(
          cat(auth(plain("", "alice", "secret")), pkt({ op: O.stat })),
        );
        const rows = await c.sync();
        c.close();
        const m = new Map(
          rows.map((r) => [r.key, new TextDecoder().decode(r.value)]),
        );
        counts.push([m.get("auth_cmds"), m.get("auth_errors")]);
      }
      assert.deepEqual(counts[1], counts[0]);
    });
  } finally {
    await mc.stop();
    await Deno.remove(mc.dir, { recursive: true });
  }
});

Deno.test("sasl: a text client is closed, as memcached -S closes it", async () => {
  await withServer({ sasl: { alice: "secret" } }, async (srv) => {
    const c = await raw(srv.port);
    await c.send("get k\r\nversion\r\n" + " ".repeat(40));
    assert.ok(await c.closed(3000), "text connection left open");
    assert.equal(await c.drain(0), "");
    c.close();
  });
});

Deno.test("sasl: memjs with credentials works, without or wrong is refused", async () => {
  await withServer({ sasl: { alice: "secret" } }, async (srv) => {
    const good = memjs.Client.create(`alice:secret@127.0.0.1:${srv.port}`, {
      retries: 0,
      timeout: 3,
    });
    try {
      assert.equal(await good.set("k", "hello", {}), true);
      const r = await good.get("k");
      assert.equal(r.value?.toString(), "hello");
      assert.deepEqual(await good.increment("n", 2, { initial: 40 }), {
        success: true,
        value: 40,
      });
      assert.deepEqual(await good.increment("n", 2, {}), {
        success: true,
        value: 42,
      });
    } finally {
      good.close();
    }
    for (const creds of ["alice:wrong@", ""]) {
      const bad = memjs.Client.create(`${creds}127.0.0.1:${srv.port}`, {
        retries: 0,
        timeout: 3,
      });
      await assert.rejects(() => bad.get("k"), `credentials '${creds}'`);
      bad.close();
    }
    assert.equal(srv.ctx.counters.auth_cmds, 2);
    assert.equal(srv.ctx.counters.auth_errors, 1);
  });
});

Deno.test("sasl: -S with MEMCACHED_SASL_PWDB, reloaded on SIGHUP", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/pwdb`;
  await Deno.writeTextFile(file, "alice:one\n");
  const port = freePort();
  const srv = await spawnServer(
    DENO,
    [
      "run",
      "--allow-net",
      `--allow-read=${dir}`,
      "--allow-env",
      MAIN,
      "-S",
      "-p",
      String(port),
    ],
    port,
    { env: { MEMCACHED_SASL_PWDB: file } },
  );
  try {
    const login = async (pass: string) => {
      const c = await binConn(port);
      await c.send(auth(plain("", "alice", pass)));
      const [r] = await c.sync();
      c.close();
      return r.status;
    };
    assert.equal(await login("one"), 0);
    await Deno.writeTextFile(file, "alice:two:extra fields\n");
    srv.child.kill("SIGHUP");
    let status = -1;
    for (let i = 0; i < 50 && status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await login("two");
    }
    assert.equal(status, 0, "new password after SIGHUP");
    assert.equal(await login("one"), 0x20, "old password refused");
  } finally {
    await srv.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
