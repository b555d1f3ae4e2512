/**
 * Differential tests of large values that arrive in pieces — the path
 * where denocached reserves the item when the command line is read and
 * copies the block into it as it comes (lib/protocol/sink.ts). Each script
 * is a list of pieces sent 20 ms apart, so the server sees the line and
 * then the block in several reads; text, meta and binary commands go to a
 * real memcached 1.6.18 and to denocached over every transport, and the
 * replies must be byte-identical (cas values compared by identity).
 * @module
 */

import assert from "node:assert/strict";
import {
  type Io,
  ioTest,
  normalizeCas,
  raw,
  settle,
  startMemcached,
  withServer,
} from "./_helpers.ts";

const SENTINEL = "VERSION 1.6.18\r\n";
const N = 100_000;
const v = (ch: string, n = N) => ch.repeat(n);

/** Splits `s` into `parts` pieces of about equal length. */
function pieces(s: string, parts: number): string[] {
  const out: string[] = [];
  const step = Math.ceil(s.length / parts);
  for (let i = 0; i < s.length; i += step) out.push(s.slice(i, i + step));
  return out;
}

/** A script: its pieces, sent 20 ms apart, then a text `version` sentinel. */
type Script = [name: string, parts: string[]];

/** The line, then the block in three pieces, then `after` whole. */
const upload = (line: string, block: string, after = ""): string[] => [
  line,
  ...pieces(block, 3),
  after,
];

const TEXT: Script[] = [
  ["set, get", upload("set k 5 0 100000\r\n", v("a") + "\r\n", "get k\r\n")],
  [
    "set over a value, gets",
    [
      "set k 0 0 3\r\nold\r\n",
      ...upload("set k 1 0 100000\r\n", v("b") + "\r\n", "gets k\r\n"),
    ],
  ],
  [
    "add present, add absent",
    [
      "set k 0 0 1\r\nx\r\n",
      ...upload("add k 0 0 100000\r\n", v("c") + "\r\n"),
      ...upload("add k2 0 0 100000\r\n", v("d") + "\r\n", "get k k2\r\n"),
    ],
  ],
  [
    "replace absent, replace present",
    [
      ...upload("replace k 0 0 100000\r\n", v("e") + "\r\n"),
      "set k 0 0 1\r\nx\r\n",
      ...upload("replace k 0 0 100000\r\n", v("f") + "\r\n", "get k\r\n"),
    ],
  ],
  [
    "cas absent, cas wrong",
    [
      ...upload("cas k 0 0 100000 1\r\n", v("g") + "\r\n"),
      "set k 0 0 1\r\nx\r\n",
      ...upload("cas k 0 0 100000 999999\r\n", v("h") + "\r\n", "get k\r\n"),
    ],
  ],
  [
    "noreply",
    upload("set k 0 0 100000 noreply\r\n", v("i") + "\r\n", "get k\r\n"),
  ],
  [
    "bad chunk keeps the old value",
    [
      "set k 0 0 1\r\nx\r\n",
      ...upload("set k 0 0 100000\r\n", v("j") + "XY", "get k\r\n"),
    ],
  ],
  [
    "pipelined behind a get",
    upload("get k\r\nset k 0 0 100000\r\n", v("k") + "\r\nget k\r\n"),
  ],
  [
    "append stays buffered",
    [
      "set k 0 0 1\r\nx\r\n",
      ...upload("append k 0 0 100000\r\n", v("l") + "\r\n", "get k\r\n"),
    ],
  ],
  [
    "too large is swallowed",
    upload(
      "set k 0 0 1100000\r\n",
      v("m", 1_100_000) + "\r\n",
      "get k\r\n",
    ),
  ],
  [
    "ms with flags",
    upload(
      "ms k 100000 T0 F7 c O123 k\r\n",
      v("n") + "\r\n",
      "mg k v f c\r\n",
    ),
  ],
  [
    "ms E (add) present, q hides HD",
    [
      "set k 0 0 1\r\nx\r\n",
      ...upload("ms k 100000 ME O1\r\n", v("o") + "\r\n"),
      ...upload("ms k2 100000 q O2\r\n", v("p") + "\r\n", "mn\r\nmg k2 s\r\n"),
    ],
  ],
  [
    "ms cas wrong, base64 key, bad chunk",
    [
      "set k 0 0 1\r\nx\r\n",
      ...upload("ms k 100000 C999999 O3\r\n", v("q") + "\r\n"),
      ...upload("ms aw== 100000 b k c\r\n", v("r") + "\r\n", "get k\r\n"),
      ...upload("ms k3 100000 O4\r\n", v("s") + "ZZ", "mg k3 v\r\n"),
    ],
  ],
];

/** A binary request frame as latin1 text (value bytes are ASCII here). */
function frame(
  op: number,
  key: string,
  extras: number[],
  value: string,
  cas = 0,
  opaque = 0,
): string {
  const body = extras.length + key.length + value.length;
  const h = new Uint8Array(24);
  const d = new DataView(h.buffer);
  h[0] = 0x80;
  h[1] = op;
  d.setUint16(2, key.length);
  h[4] = extras.length;
  d.setUint32(8, body);
  d.setUint32(12, opaque);
  d.setBigUint64(16, BigInt(cas));
  return String.fromCharCode(...h, ...extras) + key + value;
}

const SET_EXTRAS = [0, 0, 0, 9, 0, 0, 0, 0]; // flags 9, exptime 0
const [SET, ADD, REPLACE, GETK, SETQ, NOOP] = [1, 2, 3, 0x0c, 0x11, 0x0a];

/** The binary scripts: an upload frame split in four, then a getk and noop. */
const binUpload = (op: number, key: string, ch: string, cas = 0) =>
  pieces(frame(op, key, SET_EXTRAS, v(ch), cas, 7), 4);
const tail = (key: string) =>
  frame(GETK, key, [], "", 0, 8) + frame(NOOP, "", [], "", 0, 9);

const BINARY: Script[] = [
  ["bin set", [...binUpload(SET, "k", "A"), tail("k")]],
  [
    "bin add present, replace absent",
    [
      frame(SET, "k", SET_EXTRAS, "x"),
      ...binUpload(ADD, "k", "B"),
      ...binUpload(REPLACE, "k2", "C"),
      tail("k"),
    ],
  ],
  [
    "bin set with a wrong cas, setq",
    [
      frame(SET, "k", SET_EXTRAS, "x"),
      ...binUpload(SET, "k", "D", 999999),
      ...binUpload(SETQ, "k2", "E"),
      tail("k2"),
    ],
  ],
];

/** Binary replies with their cas field zeroed (cas values differ). */
function maskBinary(s: string): string {
  let out = "";
  let p = 0;
  while (p + 24 <= s.length) {
    const body = ((s.charCodeAt(p + 8) << 24) | (s.charCodeAt(p + 9) << 16) |
      (s.charCodeAt(p + 10) << 8) | s.charCodeAt(p + 11)) >>> 0;
    out += s.slice(p, p + 16) + "\0".repeat(8) +
      s.slice(p + 24, p + 24 + body);
    p += 24 + body;
  }
  return out + s.slice(p);
}

/** Sends the pieces 20 ms apart and collects the replies. */
async function exchange(
  port: number,
  parts: string[],
  binary: boolean,
): Promise<string> {
  const c = await raw(port);
  try {
    for (const part of parts) {
      if (part === "") continue;
      await c.send(part);
      await settle(20);
    }
    if (binary) {
      // The noop's reply (opaque 9) ends the script.
      const end = "\x81\x0a\0\0\0\0\0\0\0\0\0\0\0\0\0\x09";
      let out = "";
      for (let i = 0; i < 100 && !out.includes(end); i++) {
        out += await c.drain(50);
      }
      return maskBinary(out);
    }
    await c.send("version\r\n");
    const out = await c.until(SENTINEL, 10000);
    return normalizeCas(out);
  } finally {
    c.close();
    await settle(5);
  }
}

/** Set SPLIT_DIFF_DUMP=1 to print memcached's replies. */
const dump = Deno.env.get("SPLIT_DIFF_DUMP") === "1";

/** Runs every script on both servers; fails listing each difference. */
async function compare(io: Io, scripts: Script[], binary: boolean) {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const diffs: string[] = [];
      for (const [name, parts] of scripts) {
        const got: string[] = [];
        for (const port of [mc.port, srv.port]) {
          await exchange(port, ["flush_all\r\n"], false);
          got.push(await exchange(port, parts, binary));
        }
        if (dump) console.log(name, JSON.stringify(got[0].slice(0, 160)));
        if (got[0] !== got[1]) {
          diffs.push(
            `${name}:\n  memcached:  ${JSON.stringify(got[0].slice(0, 300))}` +
              `\n  denocached: ${JSON.stringify(got[1].slice(0, 300))}`,
          );
        }
      }
      assert.equal(diffs.join("\n"), "", `${diffs.length} scripts differ`);
    });
  } finally {
    await mc.stop();
  }
}

ioTest("diff: large text and meta values arriving in pieces", async (io) => {
  await compare(io, TEXT, false);
});

ioTest("diff: large binary values arriving in pieces", async (io) => {
  await compare(io, BINARY, true);
});
