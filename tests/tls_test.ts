/**
 * TLS (`-Z -o ssl_chain_cert=,ssl_key=`): a throwaway CA and server
 * certificate are made with `openssl` at test time (skipped without it);
 * the protocol is spoken through `Deno.connectTls`, in process and through
 * `main.ts` with only the documented permissions, next to a plain listener,
 * with auth, and against a real `memcached -Z` when installed.
 * @module
 */

import { cat, parse, pkt, setExtras } from "./_binary.ts";
import assert from "node:assert/strict";
import { type Config, defaultConfig } from "../lib/config.ts";
import { type Server, startServer } from "../lib/server/server.ts";
import { readTlsFiles } from "../lib/tls.ts";
import { createAuthStore, parseAuthFile } from "../lib/authfile.ts";
import {
  bytes,
  freePort,
  latin1,
  raw,
  settle,
  skip,
  spawnListening,
  which,
} from "./_helpers.ts";
import { DENO, MAIN, spawnMain } from "./_proc.ts";
import { makePki } from "./_pki.ts";

/** Sends `text` over TLS and reads until `suffix`. */
async function tlsExchange(
  port: number,
  ca: string,
  text: string | Uint8Array,
  suffix = "VERSION 1.6.18\r\n",
): Promise<string> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [ca],
  });
  try {
    const data = typeof text === "string" ? bytes(text) : text;
    const writing = (async () => {
      let off = 0;
      while (off < data.length) off += await conn.write(data.subarray(off));
    })();
    // Chunks, not one growing string: checking the end of a huge rope
    // string on every read is quadratic.
    const parts: string[] = [];
    let tail = "";
    const buf = new Uint8Array(64 * 1024);
    while (!tail.endsWith(suffix)) {
      const n = await conn.read(buf);
      if (n === null) break;
      const chunk = latin1(buf.subarray(0, n));
      parts.push(chunk);
      tail = (tail + chunk).slice(-suffix.length);
    }
    const got = parts.join("");
    await writing;
    return got;
  } finally {
    conn.close();
    await settle();
  }
}

function inProcess(opts: Partial<Config>): Server {
  const c = defaultConfig();
  c.port = 0;
  Object.assign(c, opts);
  return startServer(c);
}

const SCRIPT = "set a 5 0 2\r\nhi\r\nget a b\r\nincr a 1\r\nversion\r\n";
const REPLY = "STORED\r\nVALUE a 5 2\r\nhi\r\nEND\r\n" +
  "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nVERSION 1.6.18\r\n";

Deno.test("tls: -Z serves the protocol over TLS, large values and pipelining included", async () => {
  const pki = await makePki();
  if (!pki) return;
  const s = inProcess({ tls: readTlsFiles(pki.certFile, pki.keyFile) });
  try {
    assert.equal(s.tlsPort, s.port);
    assert.equal(await tlsExchange(s.port, pki.ca, SCRIPT), REPLY);
    const big = "\x00\xff\r\n".repeat(250_000);
    let script = `set big 1 0 ${big.length}\r\n${big}\r\n`;
    for (let i = 0; i < 20; i++) script += `get big\r\n`;
    script += "version\r\n";
    const got = await tlsExchange(s.port, pki.ca, script);
    const one = `VALUE big 1 ${big.length}\r\n${big}\r\nEND\r\n`;
    assert.equal(got, "STORED\r\n" + one.repeat(20) + "VERSION 1.6.18\r\n");
    // A plaintext client on the TLS port gets no protocol reply.
    const c = await raw(s.port);
    await c.send("version\r\n");
    assert.ok(!(await c.drain(300)).includes("VERSION"));
    c.close();
    await settle();
  } finally {
    await s.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("tls: binary protocol clients are served over TLS too", async () => {
  const pki = await makePki();
  if (!pki) return;
  const s = inProcess({ tls: readTlsFiles(pki.certFile, pki.keyFile) });
  try {
    const script = cat(
      pkt({ op: 0x01, key: "k", extras: setExtras(9, 0), value: "tls" }),
      pkt({ op: 0x0c, key: "k" }),
      pkt({ op: 0x0b }),
    );
    // The Version reply ("1.6.18" body) ends the exchange.
    const got = await tlsExchange(s.port, pki.ca, script, "1.6.18");
    const res = parse(Uint8Array.from(got, (c) => c.charCodeAt(0))).res;
    assert.deepEqual(res.map((r) => [r.op, r.status, r.key]), [
      [0x01, 0, ""],
      [0x0c, 0, "k"],
      [0x0b, 0, ""],
    ]);
    assert.equal(latin1(res[1].value), "tls");
  } finally {
    await s.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("tls: plain and TLS listeners side by side, both behind auth", async () => {
  const pki = await makePki();
  if (!pki) return;
  const auth = createAuthStore(parseAuthFile("u:p\n"));
  const s = inProcess({
    tls: readTlsFiles(pki.certFile, pki.keyFile, 0),
    auth: auth.check,
  });
  try {
    assert.notEqual(s.tlsPort, s.port);
    assert.ok(s.tlsPort > 0);
    const login = "set x 0 0 3\r\nu p\r\n";
    assert.equal(
      await tlsExchange(s.tlsPort, pki.ca, "get a\r\n", "\r\n"),
      "CLIENT_ERROR unauthenticated\r\n",
    );
    assert.equal(
      await tlsExchange(s.tlsPort, pki.ca, login + SCRIPT),
      "STORED\r\n" + REPLY,
    );
    const c = await raw(s.port);
    await c.send(login + "get a\r\n");
    assert.equal(
      await c.until("END\r\n"),
      "STORED\r\nVALUE a 5 2\r\nhi\r\nEND\r\n",
    );
    c.close();
    await settle();
  } finally {
    await s.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("tls: main.ts with -Z, -o ssl_port= and only --allow-read of cert and key", async () => {
  const pki = await makePki();
  if (!pki) return;
  const perms = ["--allow-net", `--allow-read=${pki.certFile},${pki.keyFile}`];
  const tlsOpt = `ssl_chain_cert=${pki.certFile},ssl_key=${pki.keyFile}`;
  try {
    let port = freePort();
    let p = await spawnMain(
      perms,
      ["-p", String(port), "-Z", "-o", tlsOpt],
      port,
    );
    try {
      assert.equal(await tlsExchange(port, pki.ca, SCRIPT), REPLY);
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    port = freePort();
    const tport = freePort();
    p = await spawnMain(
      perms,
      ["-p", String(port), "-Z", "-o", `${tlsOpt},ssl_port=${tport}`],
      port,
    );
    try {
      assert.equal(await tlsExchange(tport, pki.ca, SCRIPT), REPLY);
      const c = await raw(port);
      await c.send("get a\r\n");
      assert.equal(await c.until("END\r\n"), "VALUE a 5 2\r\nhi\r\nEND\r\n");
      c.close();
      await settle();
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    // Setup errors: exit codes and messages an operator can act on.
    const fail = async (perm: string[], flags: string[]) => {
      const out = await new Deno.Command(DENO, {
        args: ["run", ...perm, MAIN, "-p", String(freePort()), ...flags],
        stdout: "null",
        stderr: "piped",
      }).output();
      return { code: out.code, err: new TextDecoder().decode(out.stderr) };
    };
    let r = await fail(perms, ["-Z"]);
    assert.equal(r.code, 64);
    assert.match(r.err, /-Z needs -o ssl_chain_cert=FILE/);
    r = await fail(["--allow-net"], ["-Z", "-o", tlsOpt]);
    assert.equal(r.code, 77); // EX_NOPERM: not permitted
    assert.match(r.err, /--allow-read=/);
    r = await fail(perms, [
      "-Z",
      "-o",
      `ssl_chain_cert=${pki.keyFile},ssl_key=${pki.keyFile}`,
    ]);
    assert.equal(r.code, 78);
    assert.match(r.err, /no PEM certificate/);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("tls: the same replies as memcached -Z", async () => {
  const pki = await makePki();
  if (!pki) return;
  const bin = which("memcached");
  const s = inProcess({ tls: readTlsFiles(pki.certFile, pki.keyFile) });
  let mc = null;
  try {
    if (!bin) {
      skip("memcached not installed (apt-get install -y memcached)");
      return;
    }
    const port = freePort();
    try {
      mc = await spawnListening(bin, [
        "-p",
        String(port),
        "-U",
        "0",
        "-l",
        "127.0.0.1",
        "-t",
        "1",
        "-u",
        "root",
        "-Z",
        "-o",
        `ssl_chain_cert=${pki.certFile},ssl_key=${pki.keyFile}`,
      ], port); // deno-fmt-ignore
    } catch {
      skip("this memcached was built without TLS");
      return;
    }
    const script = SCRIPT.replace("version\r\n", "") +
      "gets a\r\ndelete a\r\ndelete a\r\nset n 0 0 1\r\n9\r\nincr n 1\r\nversion\r\n";
    const theirs = await tlsExchange(port, pki.ca, script);
    const ours = await tlsExchange(s.port, pki.ca, script);
    const norm = (t: string) =>
      t.replace(/^(VALUE a 5 2) \d+\r$/m, "$1 <cas>\r");
    assert.equal(norm(ours), norm(theirs));
  } finally {
    await s.close();
    await mc?.stop();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("tls: the in-process fixture (mod.ts) serves TLS and auth", async () => {
  const pki = await makePki();
  if (!pki) return;
  const { startServer: startFixture } = await import("../mod.ts");
  const s = await startFixture({
    port: 0,
    tls: {
      cert: await Deno.readTextFile(pki.certFile),
      key: await Deno.readTextFile(pki.keyFile),
    },
    users: { alice: "pw" },
  });
  try {
    const got = await tlsExchange(
      s.port,
      pki.ca,
      "get a\r\nset x 0 0 8\r\nalice pw\r\n" + SCRIPT,
    );
    assert.equal(got, "CLIENT_ERROR unauthenticated\r\nSTORED\r\n" + REPLY);
  } finally {
    await s.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
