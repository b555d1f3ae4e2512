/**
 * Snapshots are validated on load: crafted files (built with the format's
 * own encoder, so every checksum is right) with out-of-range cas values
 * and keys holding CR LF load soundly (cas renumbered, cachedump framing
 * kept), and the server then hands out cas
 * values that print exactly and never wrap. Bad `--snapshot` paths are a
 * clear error at start, before serving; a symlink is followed. Seeded.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { createStore } from "../lib/store/store.ts";
import { Mode, newResult, type Store } from "../lib/store/types.ts";
import { loadSnapshot } from "../lib/snapshot.ts";
import {
  BLOCK_HEADER,
  encodeBlockHeader,
  encodeFileHeader,
  encodeItemHeader,
  ITEM_HEADER,
  TAG_BLOCK,
  TAG_END,
} from "../lib/snapshot_format.ts";
import { freePort, raw, settle } from "./_helpers.ts";
import { rng } from "./_robust_helpers.ts";
import { DENO, MAIN, spawnMain, spawnProc } from "./_proc.ts";

const NOW = 1_700_000_000;
const enc = new TextEncoder();

interface Rec {
  key: Uint8Array;
  flags: number;
  exp: number;
  /** cas as low and high 32-bit words, so all 64 bits can be written. */
  casLo: number;
  casHi: number;
  value: Uint8Array;
}

/** A whole snapshot file with one block holding `recs`. */
function craft(recs: Rec[]): Uint8Array {
  let n = 0;
  for (const r of recs) n += ITEM_HEADER + r.key.length + r.value.length;
  const blk = new Uint8Array(BLOCK_HEADER + n);
  const dv = new DataView(blk.buffer);
  let off = BLOCK_HEADER;
  for (const r of recs) {
    encodeItemHeader(dv, off, r.key.length, r.flags, r.exp, 0, r.value.length);
    dv.setUint32(off + 10, r.casLo, true);
    dv.setUint32(off + 14, r.casHi, true);
    blk.set(r.key, off + ITEM_HEADER);
    blk.set(r.value, off + ITEM_HEADER + r.key.length);
    off += ITEM_HEADER + r.key.length + r.value.length;
  }
  encodeBlockHeader(
    blk,
    0,
    TAG_BLOCK,
    blk.subarray(BLOCK_HEADER),
    n,
    recs.length,
  );
  const end = new Uint8Array(BLOCK_HEADER);
  encodeBlockHeader(end, 0, TAG_END, end, 0, recs.length);
  const head = encodeFileHeader(NOW);
  const out = new Uint8Array(head.length + blk.length + end.length);
  out.set(head);
  out.set(blk, head.length);
  out.set(end, head.length + blk.length);
  return out;
}

function rec(key: string | Uint8Array, casHi: number, casLo: number): Rec {
  return {
    key: typeof key === "string" ? enc.encode(key) : key,
    flags: 0xffffffff,
    exp: 0,
    casLo,
    casHi,
    value: enc.encode("v"),
  };
}

function newStore(): Store {
  return createStore({
    limitBytes: 64 * 1024 * 1024,
    maxItemSize: 1024 * 1024,
    clock: manualClock(NOW),
  });
}

function find(s: Store, key: string): number {
  const k = enc.encode(key);
  return s.peek(k, 0, k.length);
}

Deno.test("snapshot validation: out-of-range cas renumbered, counter never wraps (seeded)", async () => {
  const r = rng(12);
  const dir = await Deno.makeTempDir({ prefix: "denocached-val-" });
  const file = `${dir}/crafted.snap`;
  try {
    const bad = [" ", "\r\n", "\x00", "\n"].map((b) => `k${r.int(1000)}${b}x`);
    const recs = [
      rec("max64", 0xffffffff, 0xffffffff), // 2^64 - 1
      rec("two63", 0x80000000, 0), // 2^63
      rec("two53", 0x200000, 0), // 2^53: not exact in a JS number
      rec("zero", 0, 0),
      rec("ok", 0, 12345),
      rec("edge", 0x100000, 0), // exactly 2^52: kept
      rec("tab\tkey", 0, 7), // memcached's text protocol accepts a tab
      ...bad.map((k) => rec(k, 0, r.int(1000) + 1)),
    ];
    await Deno.writeFile(file, craft(recs));
    const s = newStore();
    const rep = loadSnapshot(s, file);
    // Keys with any bytes load (meta's base64 keys can hold them).
    assert.equal(rep.restored, 7 + bad.length);
    assert.equal(rep.renumbered, 4); // max64, two63, two53, zero
    for (const k of bad) assert.ok(find(s, k) > 0, JSON.stringify(k));
    assert.equal(s.casOf(find(s, "ok")), 12345);
    assert.equal(s.casOf(find(s, "edge")), 2 ** 52);
    for (const k of ["max64", "two63", "two53", "zero"]) {
      const c = s.casOf(find(s, k));
      assert.ok(c > 0 && c < 2 ** 52, `${k} renumbered, got ${c}`);
    }
    assert.equal(s.flagsOf(find(s, "ok")), 0xffffffff);
    // New items get cas above every restored one; a stale cas is refused.
    const k = enc.encode("ok");
    const v = enc.encode("w");
    const res = newResult();
    assert.equal(s.store(Mode.Set, k, 0, 2, 0, 0, v, 0, 1, 0, res), 0);
    const fresh = res.cas;
    assert.ok(fresh > 2 ** 52 && fresh < 2 ** 52 + 100, String(fresh));
    assert.equal(s.store(Mode.Cas, k, 0, 2, 0, 0, v, 0, 1, fresh - 1), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot validation through the server: cas prints exactly, stale cas is EXISTS, cachedump framing intact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-val-" });
  const file = `${dir}/crafted.snap`;
  try {
    await Deno.writeFile(
      file,
      craft([
        rec("max64", 0xffffffff, 0xffffffff),
        rec("evil\r\nITEM x [1 b; 0 s]", 0, 5),
        rec("big", 0x100000, 0),
      ]),
    );
    const port = freePort();
    const p = await spawnMain(
      ["--allow-net", `--allow-read=${dir}`, `--allow-write=${dir}`],
      ["-p", String(port), "--snapshot", file],
      port,
    );
    try {
      const c = await raw(port);
      await c.send(
        "gets big max64\r\nset n 0 0 1\r\nn\r\ngets n\r\nversion\r\n",
      );
      const got = await c.until("VERSION 1.6.18\r\n");
      assert.match(got, /VALUE big 4294967295 1 4503599627370496\r\n/);
      const casN = /VALUE n 0 1 (\d+)\r\n/.exec(got)![1];
      assert.equal(casN, String(2 ** 52 + 1), got); // exact, above 2^52
      await c.send(`cas n 0 0 1 ${BigInt(casN) - 1n}\r\nx\r\n`);
      assert.equal(await c.until("\r\n"), "EXISTS\r\n");
      await c.send("stats cachedump 1 0\r\n");
      const dump = await c.until("END\r\n");
      assert.doesNotMatch(dump, /evil|ITEM x/);
      c.close();
      await settle();
      assert.match(p.stderr(), /1 given a new cas/);
    } finally {
      assert.equal((await p.stop("SIGTERM")).code, 0, p.stderr());
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs main.ts with `--snapshot path` and returns exit code and stderr. */
async function startFails(dir: string, path: string) {
  const port = freePort();
  const p = spawnProc(DENO, [
    "run",
    "--allow-net",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    MAIN,
    "-p",
    String(port),
    "--snapshot",
    path,
  ]);
  const deadline = setTimeout(() => p.child.kill("SIGKILL"), 20_000);
  const st = await p.status;
  clearTimeout(deadline);
  return { code: st.code, err: p.stderr() };
}

Deno.test("snapshot path: directory, missing directory, unwritable directory refused at start; symlink followed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-path-" });
  try {
    await Deno.mkdir(`${dir}/sub`);
    let r = await startFails(dir, `${dir}/sub`);
    assert.equal(r.code, 73, r.err);
    assert.match(r.err, /is a directory/);
    r = await startFails(dir, `${dir}/missing/cache.snap`);
    assert.equal(r.code, 73, r.err);
    assert.match(r.err, /does not exist/);
    await Deno.writeTextFile(`${dir}/plain`, "x");
    r = await startFails(dir, `${dir}/plain/cache.snap`);
    assert.equal(r.code, 73, r.err);
    assert.match(r.err, /not a directory/i);
    if (Deno.uid() !== 0) {
      await Deno.mkdir(`${dir}/ro`, { mode: 0o500 });
      r = await startFails(dir, `${dir}/ro/cache.snap`);
      assert.equal(r.code, 73, r.err);
      assert.match(r.err, /cannot create/);
    } else {
      console.log("skip: unwritable-directory case (root can write anywhere)");
    }
    // A symlink is followed: the target is loaded and written, the link stays.
    const real = `${dir}/real.snap`;
    const link = `${dir}/link.snap`;
    await Deno.writeFile(real, craft([rec("viaLink", 0, 3)]));
    await Deno.symlink(real, link);
    const port = freePort();
    const p = await spawnMain(
      ["--allow-net", `--allow-read=${dir}`, `--allow-write=${dir}`],
      ["-p", String(port), "--snapshot", link],
      port,
    );
    const c = await raw(port);
    await c.send("get viaLink\r\nset more 0 0 1\r\nm\r\nversion\r\n");
    assert.match(await c.until("VERSION 1.6.18\r\n"), /VALUE viaLink/);
    c.close();
    await settle();
    assert.equal((await p.stop("SIGTERM")).code, 0, p.stderr());
    assert.ok((await Deno.lstat(link)).isSymlink, "link kept");
    const s = newStore();
    assert.equal(loadSnapshot(s, real).restored, 2);
    // A dangling symlink is refused.
    await Deno.remove(real);
    r = await startFails(dir, link);
    assert.equal(r.code, 73, r.err);
    assert.match(r.err, /symlink/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
