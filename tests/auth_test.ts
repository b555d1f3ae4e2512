/**
 * ASCII authentication (`-Y`): the auth file parser, the constant-time
 * checker, the protocol replies (compared with a real memcached started
 * with `-Y` when installed), per-connection state, and the SIGHUP reload
 * of the file in a subprocess.
 * @module
 */

import assert from "node:assert/strict";
import {
  AuthFileError,
  constantTimeEqual,
  createAuthStore,
  parseAuthFile,
} from "../lib/authfile.ts";
import { type Config, defaultConfig } from "../lib/config.ts";
import { type Server, startServer } from "../lib/server/server.ts";
import { freePort, raw, settle, startMemcached } from "./_helpers.ts";
import { DENO, MAIN, spawnMain } from "./_proc.ts";

const enc = new TextEncoder();
/** Also a valid memcached auth file (memcached rejects blank lines). */
const FILE_TEXT = "alice:secret\r\nbob:pw:with:colons\n";

function inProcess(opts: Partial<Config>): Server {
  const c = defaultConfig();
  c.port = 0;
  Object.assign(c, opts);
  return startServer(c);
}

/** Sends `text` on a fresh connection and returns what arrives in `ms`. */
async function exchange(port: number, text: string, ms = 150): Promise<string> {
  const c = await raw(port);
  try {
    await c.send(text);
    return await c.drain(ms);
  } finally {
    c.close();
    await settle();
  }
}

Deno.test("authfile: parse lines, CRLF, blank lines, colons in passwords", () => {
  const creds = parseAuthFile(FILE_TEXT + "\n\n");
  assert.deepEqual(creds, [
    { user: enc.encode("alice"), pass: enc.encode("secret") },
    { user: enc.encode("bob"), pass: enc.encode("pw:with:colons") },
  ]);
  assert.deepEqual(parseAuthFile(""), []);
  assert.throws(
    () => parseAuthFile("alice:x\nnocolon\n", "f"),
    (e) => e instanceof AuthFileError && /f line 2: malformed/.test(e.message),
  );
});

Deno.test("authfile: constant-time checks accept exactly the listed pairs", () => {
  assert.equal(constantTimeEqual(enc.encode("abc"), enc.encode("abc")), true);
  for (const other of ["", "ab", "abd", "abcd", "ABC"]) {
    assert.equal(
      constantTimeEqual(enc.encode(other), enc.encode("abc")),
      false,
    );
  }
  const a = createAuthStore(parseAuthFile(FILE_TEXT));
  const ok = (u: string, p: string) => a.check(enc.encode(u), enc.encode(p));
  assert.equal(ok("alice", "secret"), true);
  assert.equal(ok("bob", "pw:with:colons"), true);
  assert.equal(ok("alice", "pw:with:colons"), false); // no mixing entries
  assert.equal(ok("alice", "secre"), false);
  assert.equal(ok("alice", "secret2"), false);
  assert.equal(ok("carol", "secret"), false);
  assert.equal(ok("", ""), false);
  a.set(parseAuthFile("alice:new\n"));
  assert.equal(ok("alice", "secret"), false);
  assert.equal(ok("alice", "new"), true);
  assert.equal(a.size, 1);
});

/** One write per fresh connection, and the exact reply memcached 1.6.18 gives. */
const CASES: [string, string][] = [
  ["get a\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["version\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["quit\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["stats\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["set x 0 0\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["set x 0 0 abc\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  ["set x 0 0 -1\r\n", "CLIENT_ERROR unauthenticated\r\n"],
  [
    "set x 0 0 11\r\nalice wrong\r\n",
    "CLIENT_ERROR authentication failure\r\n",
  ],
  [
    "set x 0 0 12\r\ncarol secret\r\n",
    "CLIENT_ERROR authentication failure\r\n",
  ],
  [
    "set x 0 0 5\r\nalice\r\n",
    "CLIENT_ERROR bad authentication token format\r\n",
  ],
  [
    "set x 0 0 12\r\nalice secretXX",
    "CLIENT_ERROR bad command line termination\r\n",
  ],
  ["set x 0 0 12\r\nalice secret\r\nget a\r\n", "STORED\r\nEND\r\n"],
  ["set x 0 0 12 noreply\r\nalice secret\r\nget a\r\n", "STORED\r\nEND\r\n"],
  ["set anykey 9 9 13\r\nalice  secret\r\nget a\r\n", "STORED\r\nEND\r\n"],
  ["set x 0 0 17\r\nalice secret more\r\nget a\r\n", "STORED\r\nEND\r\n"],
  ["set x 0 0 18\r\nbob pw:with:colons\r\nget a\r\n", "STORED\r\nEND\r\n"],
];

Deno.test("auth: replies before and after authenticating", async () => {
  const auth = createAuthStore(parseAuthFile(FILE_TEXT));
  const s = inProcess({ auth: auth.check });
  try {
    for (const [send, want] of CASES) {
      assert.equal(await exchange(s.port, send), want, JSON.stringify(send));
    }
    // Authentication is per connection; a failure can be retried.
    const c = await raw(s.port);
    try {
      await c.send("set x 0 0 11\r\nalice wrong\r\n");
      assert.equal(
        await c.until("\r\n"),
        "CLIENT_ERROR authentication failure\r\n",
      );
      await c.send("set x 0 0 12\r\nalice secret\r\n");
      assert.equal(await c.until("\r\n"), "STORED\r\n");
      await c.send("set k 3 0 2\r\nhi\r\nget k\r\n");
      assert.equal(
        await c.until("END\r\n"),
        "STORED\r\nVALUE k 3 2\r\nhi\r\nEND\r\n",
      );
      assert.equal(
        await exchange(s.port, "get k\r\n"),
        "CLIENT_ERROR unauthenticated\r\n",
      );
      await c.send("stats\r\n");
      const stats = await c.until("END\r\n");
      // Every finished auth attempt counts; failures also as errors.
      const failures = CASES.filter(([, w]) => w.includes("failure")).length +
        1;
      assert.match(stats, new RegExp(`STAT auth_errors ${failures}\r\n`));
    } finally {
      c.close();
      await settle();
    }
  } finally {
    await s.close();
  }
});

Deno.test("auth: the same replies as memcached -Y", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-auth-" });
  const file = `${dir}/auth`;
  await Deno.writeTextFile(file, FILE_TEXT);
  const mc = await startMemcached(["-Y", file]);
  const auth = createAuthStore(parseAuthFile(FILE_TEXT));
  const s = inProcess({ auth: auth.check });
  try {
    if (!mc) return;
    for (const [send] of CASES) {
      const theirs = await exchange(mc.port, send);
      const ours = await exchange(s.port, send);
      assert.equal(ours, theirs, JSON.stringify(send));
    }
  } finally {
    await s.close();
    await mc?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth: the server re-reads the auth file on SIGHUP", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-auth-" });
  const file = `${dir}/auth`;
  await Deno.writeTextFile(file, "alice:secret\n");
  const port = freePort();
  const p = await spawnMain(
    ["--allow-net", `--allow-read=${file}`],
    ["-p", String(port), "-Y", file, "-v"],
    port,
  );
  const login = (user: string, pass: string) => {
    const body = `${user} ${pass}`;
    return exchange(port, `set x 0 0 ${body.length}\r\n${body}\r\n`);
  };
  const eventually = async (user: string, pass: string, want: string) => {
    let got = "";
    for (let i = 0; i < 100 && got !== want; i++) {
      got = await login(user, pass);
      if (got !== want) await settle(50);
    }
    assert.equal(got, want, `${user}:${pass}`);
  };
  try {
    assert.equal(await login("alice", "secret"), "STORED\r\n");
    await Deno.writeTextFile(file, "alice:rotated\n");
    p.child.kill("SIGHUP");
    await eventually("alice", "rotated", "STORED\r\n");
    assert.equal(
      await login("alice", "secret"),
      "CLIENT_ERROR authentication failure\r\n",
    );
    // A broken file on reload keeps the credentials in force.
    await Deno.writeTextFile(file, "garbage line\n");
    p.child.kill("SIGHUP");
    for (
      let i = 0;
      i < 100 && !p.stderr().includes("keeping the previous");
      i++
    ) {
      await settle(50);
    }
    assert.match(
      p.stderr(),
      /malformed entry.*keeping the previous credentials/,
    );
    assert.equal(await login("alice", "rotated"), "STORED\r\n");
  } finally {
    const st = await p.stop("SIGTERM");
    assert.equal(st.code, 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth: unreadable or malformed auth files stop the start with a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-auth-" });
  try {
    const file = `${dir}/auth`;
    await Deno.writeTextFile(file, "alice:secret\n");
    const run = async (perms: string[], f: string) => {
      const out = await new Deno.Command(DENO, {
        args: ["run", ...perms, MAIN, "-p", String(freePort()), "-Y", f],
        stdout: "null",
        stderr: "piped",
      }).output();
      return { code: out.code, err: new TextDecoder().decode(out.stderr) };
    };
    let r = await run(["--allow-net"], file);
    assert.equal(r.code, 77); // EX_NOPERM: not permitted
    assert.match(r.err, new RegExp(`--allow-read=${file}`));
    await Deno.writeTextFile(file, "no colon here\n");
    r = await run(["--allow-net", `--allow-read=${file}`], file);
    assert.equal(r.code, 78);
    assert.match(r.err, /malformed entry, should be 'user:password'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
