/**
 * `-l` as memcached takes it: a comma (or `;`) separated list, each entry
 * with its own port or `-p`'s, IPv6 in brackets, and `notls:` (plain TCP
 * there while `-Z` makes the others TLS). Served on both transports; the
 * listeners appear in `stats conns` as memcached prints them, and each
 * client's `listen_addr` names the listener that accepted it.
 * @module
 */

import assert from "node:assert/strict";
import { parseListen } from "../lib/listen.ts";
import { defaultConfig } from "../lib/config.ts";
import { startServer } from "../lib/server/server.ts";
import { ask, freePort, ioTest } from "./_helpers.ts";
import { DENO, MAIN, spawnServer } from "./_proc.ts";
import { makePki } from "./_pki.ts";

const dec = new TextDecoder();

function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("parseListen: memcached's -l syntax", () => {
  assert.deepEqual(parseListen("127.0.0.1", 11211), [
    { host: "127.0.0.1", port: 11211, notls: false },
  ]);
  assert.deepEqual(
    parseListen("127.0.0.1,127.0.0.2:1234;[::1]:99,::1,notls:0.0.0.0:5", 7),
    [
      { host: "127.0.0.1", port: 7, notls: false },
      { host: "127.0.0.2", port: 1234, notls: false },
      { host: "::1", port: 99, notls: false },
      { host: "::1", port: 7, notls: false },
      { host: "0.0.0.0", port: 5, notls: true },
    ],
  );
  assert.equal(parseListen("[::1", 1), 'Invalid IPV6 address: "[::1"');
  assert.equal(parseListen("a:b", 1), 'Invalid port number: "b"');
  assert.equal(parseListen("a:70000", 1), 'Invalid port number: "70000"');
  assert.deepEqual(parseListen("proto[ascii]:a", 1), [
    { host: "a", port: 1, notls: false, proto: "ascii" },
  ]); // more in listen_proto_test.ts
  assert.match(parseListen(",", 1) as string, /no interface/);
});

ioTest(
  "-l 127.0.0.1,127.0.0.2[,::1]: each serves; stats conns lists them",
  async (io) => {
    const v6 = hasIpv6Loopback();
    const config = defaultConfig();
    config.io = io as "portable" | "epoll"; // one loop: lib/server's own start
    config.port = 0;
    config.listen = "127.0.0.1,127.0.0.2" + (v6 ? ",[::1]:0" : "");
    const server = startServer(config);
    try {
      assert.equal(server.io, io);
      const first = await ask("127.0.0.1", server.port, "stats conns\r\n");
      const rows = [...first.matchAll(/^STAT (\d+):(\w+) (.*)\r$/gm)];
      const listeners = rows.filter((r) =>
        r[2] === "state" && r[3] === "conn_listening"
      )
        .map((r) => rows.find((x) => x[1] === r[1] && x[2] === "addr")![3]);
      assert.equal(listeners.length, v6 ? 3 : 2, first);
      assert.equal(listeners[0], `tcp:127.0.0.1:${server.port}`);
      const second = /^tcp:127\.0\.0\.2:(\d+)$/.exec(listeners[1]);
      assert.ok(second, listeners[1]);
      // A listener has addr, state and secs_since_last_cmd only.
      assert.doesNotMatch(
        first,
        new RegExp(`^STAT ${rows[0][1]}:listen_addr`, "m"),
      );
      const p2 = Number(second[1]);
      assert.notEqual(p2, server.port);
      const out = await ask(
        "127.0.0.2",
        p2,
        "set k 0 0 2\r\nhi\r\nstats conns\r\n",
      );
      assert.match(out, /^STORED\r\n/);
      assert.match(
        out,
        new RegExp(`:listen_addr tcp:127\\.0\\.0\\.2:${p2}\r\n`),
      );
      if (v6) {
        const m = /^tcp:\[::1\]:(\d+)$/.exec(listeners[2]);
        assert.ok(m, listeners[2]);
        assert.equal(
          await ask("::1", Number(m[1]), "get k\r\n"),
          "VALUE k 0 2\r\nhi\r\nEND\r\n",
        );
      }
      // Only the listeners are left once the clients are gone.
      const after = await ask("127.0.0.1", server.port, "stats conns\r\n");
      assert.equal(
        (after.match(/conn_listening/g) ?? []).length,
        v6 ? 3 : 2,
      );
    } finally {
      await server.close();
    }
  },
  // lib/server's startServer serves one loop; -t N's listeners: threads_test.ts
  { threads: false },
);

Deno.test("-l with notls: and -Z: TLS on one interface, plain TCP on the other", async () => {
  const pki = await makePki();
  if (pki === null) return;
  const tlsPort = freePort();
  const plainPort = freePort();
  try {
    const p = await spawnServer(DENO, [
      "run",
      "-A",
      MAIN,
      "-Z",
      "-o",
      `ssl_chain_cert=${pki.certFile},ssl_key=${pki.keyFile}`,
      "-p",
      String(tlsPort),
      "-l",
      `127.0.0.1,notls:127.0.0.1:${plainPort}`,
    ], plainPort);
    try {
      assert.equal(
        await ask("127.0.0.1", plainPort, "version\r\n", "\r\n"),
        "VERSION 1.6.18\r\n",
      );
      assert.equal(
        await ask("127.0.0.1", tlsPort, "version\r\n", "\r\n", pki.ca),
        "VERSION 1.6.18\r\n",
      );
    } finally {
      const st = await p.stop("SIGTERM");
      assert.equal(st.code, 0, p.stderr());
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("-l notls: without -Z is refused as memcached does; bad lists exit 64", async () => {
  for (
    const [l, want] of [
      ["notls:127.0.0.1", /'notls' option is valid only when SSL is enabled/],
      ["127.0.0.1:x", /Invalid port number: "x"/],
    ]
  ) {
    const out = await new Deno.Command(DENO, {
      args: ["run", "--allow-net", MAIN, "-l", l as string],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 64);
    assert.match(dec.decode(out.stderr), want as RegExp);
  }
});

ioTest(
  "an IPv6 client shows as tcp:[::1]:PORT in stats conns, as memcached",
  async (io) => {
    if (!hasIpv6Loopback()) return;
    const config = defaultConfig();
    config.io = io as "portable" | "epoll"; // one loop: lib/server's own start
    config.port = 0;
    config.listen = "::1";
    const server = startServer(config);
    try {
      const out = await ask("::1", server.port, "stats conns\r\n");
      assert.match(out, /^STAT \d+:addr tcp:\[::1\]:\d+\r$/m);
      assert.match(
        out,
        new RegExp(`:listen_addr tcp:\\[::1\\]:${server.port}\r`),
      );
    } finally {
      await server.close();
    }
  },
  // lib/server's startServer serves one loop; -t N's listeners: threads_test.ts
  { threads: false },
);
