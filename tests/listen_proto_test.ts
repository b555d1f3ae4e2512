/**
 * `-l proto[ascii|binary|negotiating]:` and `tag[T]:` as memcached 1.6.18
 * takes them: a listener with a forced protocol serves only that one, over
 * `-B` (text on a binary listener: silence, then a close once a 24-byte
 * "header" arrived; a binary packet on a text listener: one text line, or
 * nothing until a newline comes), on every transport and over TLS; tags
 * are accepted; a bad spec stops the start with memcached's message. The
 * expected bytes were taken from memcached and, where it is installed, are
 * checked against it in the same run.
 * @module
 */

import assert from "node:assert/strict";
import { type ListenAddr, parseListen } from "../lib/listen.ts";
import { parseCli, UsageError } from "../lib/cli.ts";
import {
  bytes,
  freePort,
  ioFlags,
  ioTest,
  latin1,
  settle,
  skip,
  startMemcached,
  which,
  withServer,
} from "./_helpers.ts";
import { pkt } from "./_binary.ts";
import { canConnect, DENO, MAIN, runMain, spawnServer } from "./_proc.ts";
import { makePki } from "./_pki.ts";

Deno.test("parseListen: proto[...] and tag[...] prefixes, memcached's matching", () => {
  const one = (s: string) => (parseListen(s, 7) as ListenAddr[])[0];
  assert.deepEqual(one("proto[binary]:127.0.0.1:5"), {
    host: "127.0.0.1",
    port: 5,
    notls: false,
    proto: "binary",
  });
  assert.deepEqual(one("notls:proto[ascii]:tag[edge1]:[::1]:9"), {
    host: "::1",
    port: 9,
    notls: true,
    proto: "ascii",
    tag: "edge1",
  });
  assert.deepEqual(one("tag[12345678]:h"), {
    host: "h",
    port: 7,
    notls: false,
    tag: "12345678",
  });
  // strncmp(name, "ascii", len(name)): any prefix names the protocol, the
  // empty one too; anything else keeps -B's.
  for (
    const [name, want] of [
      ["negotiating", "auto"],
      ["n", "auto"],
      ["b", "binary"],
      ["", "ascii"],
      ["asc", "ascii"],
      ["bogus", undefined],
      ["asciix", undefined],
    ] as const
  ) {
    assert.equal(one(`proto[${name}]:h`).proto, want, name);
  }
  // The character after `]` is skipped whatever it is, as memcached does.
  assert.equal(one("proto[binary]X127.0.0.1").host, "127.0.0.1");
  // tag before proto is no prefix: memcached takes the rest as a host too.
  assert.equal(
    one("tag[x]:proto[binary]:127.0.0.1:5").host,
    "proto[binary]:127.0.0.1:5",
  );
  // A host that merely starts with the words stays whole.
  assert.equal(one("protohost").host, "protohost");
  assert.equal(one("tagged.example:1").host, "tagged.example");
});

/** Bad entries and memcached's message for each. */
// deno-fmt-ignore
const BAD: [string, string][] = [
  ["proto[binary:127.0.0.1:5", 'Invalid protocol spec: "[binary:127.0.0.1:5"'],
  ["tag[abc:h", 'Invalid tag in socket config: "[abc:h"'],
  ["tag[]:h", 'Listener tags must be between 1 and 8 characters: ""'],
  ["tag[abcdefghi]:h", 'Listener tags must be between 1 and 8 characters: "abcdefghi"'],
  ["tag[ééééé]:h", 'Listener tags must be between 1 and 8 characters: "ééééé"'],
  // memcached prints its strtok'd copy of the list: up to the first byte
  // its parse overwrote.
  ["proto[proxy]:127.0.0.1:5", 'Server not built with proxy: "proto[proxy"'],
  ["proto[p]:h", 'Server not built with proxy: "proto[p"'],
  ["notls:proto[proxy]:h", 'Server not built with proxy: "notls:proto[proxy"'],
  [",;proto[proxy]:h", 'Server not built with proxy: ",;proto[proxy"'],
  ["127.0.0.1:5,proto[proxy]:h", 'Server not built with proxy: "127.0.0.1"'],
  ["h,proto[proxy]:h", 'Server not built with proxy: "h"'],
  ["[::1]:5;proto[proxy]:h", 'Server not built with proxy: "[::1"'],
  ["proto[binary]:h:5,proto[proxy]:h", 'Server not built with proxy: "proto[binary"'],
  ["tag[t]:h:5,proto[proxy]:h", 'Server not built with proxy: "tag[t"'],
  ["proto[binary]", "-l: empty interface in 'proto[binary]'"],
];

Deno.test("parseListen: bad proto/tag specs give memcached's messages", () => {
  for (const [spec, want] of BAD) {
    assert.equal(parseListen(spec, 7), want, spec);
  }
});

Deno.test("cli: a proto[...] listener must fit -S / -Y (memcached lets its clients skip auth)", () => {
  const l = (p: string) => ["-l", `proto[${p}]:127.0.0.1`];
  parseCli(["-S", "--sasl-pwdb", "/x", ...l("binary")]);
  parseCli(["-Y", "/f", ...l("ascii")]);
  for (
    const bad of [
      ["-S", "--sasl-pwdb", "/x", ...l("ascii")],
      ["-S", "--sasl-pwdb", "/x", ...l("negotiating")],
      ["-Y", "/f", ...l("binary")],
      ["-Y", "/f", ...l("negotiating")],
    ]
  ) {
    assert.throws(() => parseCli(bad), UsageError, bad.join(" "));
  }
});

/** One connection's exchange: what it sent and what memcached answers. */
interface Case {
  /** Which listener: binary, ascii, negotiating, default (-B ascii), tagged. */
  on: "b" | "a" | "n" | "d" | "t";
  name: string;
  send: (string | Uint8Array)[];
  want: string;
  /** The server closes the connection afterwards. */
  closes: boolean;
}

const BIN_VERSION = pkt({ op: 0x0b, opaque: 7 });
const BIN_GET = pkt({ op: 0x00, key: "foo", opaque: 0xdeadbeef });
/** memcached's replies to those two, byte for byte. */
const VERSION_REPLY = "\x81\x0b\0\0\0\0\0\0\0\0\0\x06\0\0\0\x07" +
  "\0\0\0\0\0\0\0\x001.6.18";
const NOT_FOUND = "\x81\0\0\0\0\0\0\x01\0\0\0\x09\xde\xad\xbe\xef" +
  "\0\0\0\0\0\0\0\0Not found";

const c = (
  on: Case["on"],
  name: string,
  send: Case["send"],
  want: string,
  closes = false,
): Case => ({ on, name, send, want, closes });

// deno-fmt-ignore
const CASES: Case[] = [
  c("b", "text, under a header's 24 bytes: silence", ["get foo\r\n"], ""),
  c("b", "text, 24 bytes or more: closed", ["get foo\r\nget bar\r\nversion\r\n"], "", true),
  c("b", "binary get", [BIN_GET], NOT_FOUND),
  c("b", "binary, then text: closed", [BIN_VERSION, "version\r\nversion\r\nversion\r\n"], VERSION_REPLY, true),
  c("a", "text", ["version\r\n"], "VERSION 1.6.18\r\n"),
  c("a", "binary without a newline: silence", [BIN_VERSION], ""),
  c("a", "binary, then a text line: one ERROR", [BIN_VERSION, "version\r\n", "version\r\n"], "ERROR\r\nVERSION 1.6.18\r\n"),
  c("n", "binary get", [BIN_GET], NOT_FOUND),
  c("n", "text", ["get foo\r\n"], "END\r\n"),
  c("d", "-B ascii elsewhere: binary silence", [BIN_VERSION], ""),
  c("t", "text", ["version\r\n"], "VERSION 1.6.18\r\n"),
];

/** Ports of the five listeners, and the `-l` list naming them. */
function listeners(): { ports: Record<Case["on"], number>; spec: string } {
  const ports = { b: 0, a: 0, n: 0, d: 0, t: 0 };
  for (const k of Object.keys(ports) as Case["on"][]) ports[k] = freePort();
  const spec = [
    `127.0.0.1:${ports.d}`,
    `proto[binary]:127.0.0.1:${ports.b}`,
    `proto[ascii]:127.0.0.1:${ports.a}`,
    `proto[negotiating]:127.0.0.1:${ports.n}`,
    `tag[t1]:127.0.0.1:${ports.t}`,
  ].join(",");
  return { ports, spec };
}

/**
 * Runs `c` on a fresh connection from `connect`; what came back and
 * whether the server closed.
 */
async function exchange(
  connect: () => Promise<Deno.Conn>,
  c: Case,
): Promise<{ got: string; closed: boolean }> {
  const conn = await connect();
  let got = "";
  let closed = false;
  const buf = new Uint8Array(4096);
  let reading: Promise<void> | null = null;
  const pump = () =>
    reading ??= conn.read(buf).then((n) => {
      if (n === null) closed = true;
      else got += latin1(buf.subarray(0, n));
    }, () => void (closed = true)).finally(() => (reading = null));
  /** Reads until `done` or EOF, or `ms` have passed. */
  const wait = async (done: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!done() && !closed && Date.now() < end) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        pump(),
        new Promise((r) => (t = setTimeout(r, end - Date.now()))),
      ]);
      clearTimeout(t);
    }
  };
  try {
    for (const part of c.send) {
      await conn.write(typeof part === "string" ? bytes(part) : part);
      // Let each part arrive on its own, as a client's separate requests.
      await wait(() => false, 50);
    }
    if (c.want !== "") await wait(() => got.length >= c.want.length, 5000);
    // Nothing more should come (and, for `closes`, the close does).
    await wait(() => false, c.closes ? 5000 : 300);
    return { got, closed };
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
    await reading;
  }
}

async function checkAll(
  where: string,
  ports: Record<Case["on"], number>,
  connect: (port: number) => Promise<Deno.Conn> = (port) =>
    Deno.connect({ hostname: "127.0.0.1", port }),
): Promise<void> {
  for (const c of CASES) {
    const r = await exchange(() => connect(ports[c.on]), c);
    const what = `${where} ${c.on}: ${c.name}`;
    assert.equal(JSON.stringify(r.got), JSON.stringify(c.want), what);
    assert.equal(r.closed, c.closes, what);
  }
}

Deno.test("memcached 1.6.18 answers the proto[...] cases as expected", async () => {
  const { ports, spec } = listeners();
  const mc = await startMemcached(["-B", "ascii", "-l", spec]);
  if (mc === null) return;
  try {
    await checkAll("memcached", ports);
  } finally {
    await mc.stop();
  }
});

ioTest(
  "a proto[...] listener serves only its protocol, over -B",
  async (io) => {
    const { ports, spec } = listeners();
    await withServer({ io, hostname: spec, protocol: "ascii" }, async () => {
      await checkAll(io, ports);
    });
  },
);

ioTest("proto[...] on TLS listeners (-Z) and a notls: one", async (io) => {
  const pki = await makePki();
  if (pki === null) return;
  const tlsBin = freePort();
  const plainAscii = freePort();
  const tlsAuto = freePort();
  try {
    const p = await spawnServer(DENO, [
      "run",
      "-A",
      MAIN,
      ...ioFlags(io),
      "-Z",
      "-o",
      `ssl_chain_cert=${pki.certFile},ssl_key=${pki.keyFile}`,
      "-l",
      [
        `proto[binary]:127.0.0.1:${tlsBin}`,
        `notls:proto[ascii]:127.0.0.1:${plainAscii}`,
        `127.0.0.1:${tlsAuto}`,
      ].join(","),
    ], plainAscii);
    try {
      // All bound at once; waiting on the TLS ones too guards against a
      // stranger that took plainAscii's port for a moment.
      for (const port of [tlsBin, tlsAuto]) {
        for (let i = 0; i < 200 && !(await canConnect(port)); i++) {
          await settle(50);
        }
      }
      const tls = (port: number) =>
        Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pki.ca] });
      const pick = (on: Case["on"][]) => CASES.filter((c) => on.includes(c.on));
      for (const c of pick(["b"])) {
        const r = await exchange(() => tls(tlsBin), c);
        assert.equal(JSON.stringify(r.got), JSON.stringify(c.want), c.name);
        assert.equal(r.closed, c.closes, c.name);
      }
      for (const c of pick(["a"])) {
        const r = await exchange(
          () => Deno.connect({ hostname: "127.0.0.1", port: plainAscii }),
          c,
        );
        assert.equal(JSON.stringify(r.got), JSON.stringify(c.want), c.name);
        assert.equal(r.closed, c.closes, c.name);
      }
      // Unpinned, the TLS listener negotiates as -B's default does.
      for (const c of pick(["n"])) {
        const r = await exchange(() => tls(tlsAuto), c);
        assert.equal(JSON.stringify(r.got), JSON.stringify(c.want), c.name);
      }
    } finally {
      const st = await p.stop("SIGTERM");
      assert.equal(st.code, 0, p.stderr());
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

/** The `-vv` lines about listeners and clients, without their fd numbers. */
function vvLines(stderr: string): string[] {
  return stderr.split("\n")
    .filter((l) => /server listening|client connection/.test(l))
    .map((l) => l.replace(/^<\d+ /, ""));
}

Deno.test("-vv names each listener's protocol as memcached does", async () => {
  const { ports, spec } = listeners();
  const want = [
    "server listening (ascii)",
    "server listening (binary)",
    "server listening (ascii)",
    "server listening (auto-negotiate)",
    "server listening (ascii)",
    "new binary client connection.",
  ];
  const p = await spawnServer(DENO, [
    "run",
    "-A",
    MAIN,
    "--io=portable",
    "-vv",
    "-B",
    "ascii",
    "-l",
    spec,
  ], ports.d);
  try {
    await exchange(
      () => Deno.connect({ hostname: "127.0.0.1", port: ports.b }),
      CASES[2],
    );
  } finally {
    await p.stop("SIGTERM");
  }
  // The readiness probe's own connection to the first listener comes first.
  assert.deepEqual(
    vvLines(p.stderr()).filter((l) => l !== "new ascii client connection."),
    want,
  );
  const bin = which("memcached");
  if (bin === null) return void skip("memcached not installed");
  const mc = await spawnServer(bin, [
    "-u",
    "root",
    "-U",
    "0",
    "-vv",
    "-B",
    "ascii",
    "-p",
    String(ports.d),
    "-l",
    spec,
  ], ports.d);
  try {
    await exchange(
      () => Deno.connect({ hostname: "127.0.0.1", port: ports.b }),
      CASES[2],
    );
  } finally {
    await mc.stop("SIGTERM");
  }
  assert.deepEqual(
    vvLines(mc.stderr()).filter((l) => l !== "new ascii client connection."),
    want,
  );
});

Deno.test("bad proto/tag specs stop the start with memcached's message", async () => {
  const mc = which("memcached");
  if (mc === null) skip("memcached not installed: our messages only");
  const port = freePort();
  for (
    const spec of [
      `proto[binary:127.0.0.1:${port}`,
      `tag[abc:127.0.0.1:${port}`,
      `tag[]:127.0.0.1:${port}`,
      `tag[abcdefghi]:127.0.0.1:${port}`,
      `proto[proxy]:127.0.0.1:${port}`,
      `127.0.0.1:${freePort()},proto[proxy]:127.0.0.1:${port}`,
      `proto[binary]:127.0.0.1:${freePort()},proto[proxy]:127.0.0.1:${port}`,
    ]
  ) {
    const ours = await runMain(["--allow-net"], ["-l", spec]);
    // Like our other -l errors a usage error (64); memcached exits 71.
    assert.equal(ours.code, 64, spec);
    const line = /^denocached: (.*) \(try -h\)$/m.exec(ours.stderr);
    assert.ok(line, ours.stderr);
    assert.equal(line[1], parseListen(spec, 0), spec);
    if (mc === null) continue;
    const out = await new Deno.Command(mc, {
      args: ["-u", "root", "-U", "0", "-p", String(port), "-l", spec],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 71, spec);
    const first = new TextDecoder().decode(out.stderr).split("\n")[0];
    assert.equal(line[1], first, spec);
  }
});
