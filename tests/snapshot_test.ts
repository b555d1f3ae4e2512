/**
 * Warm restart, in process: the snapshot format round-trips every item byte
 * for byte (flags, absolute exptime, cas), recovers intact blocks from
 * damaged or truncated files without ever loading unchecked data, and a save
 * taken while clients write stays exact per item. The server side (signals,
 * `kill -9`) is in `snapshot_server_test.ts`.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { createStore } from "../lib/store/store.ts";
import { Cursor, Mode, newResult, type Store } from "../lib/store/types.ts";
import {
  loadClean,
  loadSnapshot,
  saveSnapshot,
  SnapshotError,
  tmpPath,
} from "../lib/snapshot.ts";
import {
  BLOCK_HEADER,
  decodeBlockHeader,
  FILE_HEADER,
  TAG_END,
} from "../lib/snapshot_format.ts";
import { bytes, latin1 } from "./_helpers.ts";

const T0 = 1_700_000_000;

function newStore(clock = manualClock(T0), mb = 64): Store {
  return createStore({
    limitBytes: mb * 1024 * 1024,
    maxItemSize: 1024 * 1024,
    clock,
  });
}

/** Result record of the store calls below. */
const R = newResult();

function put(
  s: Store,
  key: string,
  value: string | Uint8Array,
  flags = 0,
  exp = 0,
) {
  const k = bytes(key);
  const v = typeof value === "string" ? bytes(value) : value;
  assert.equal(
    s.store(Mode.Set, k, 0, k.length, flags, exp, v, 0, v.length, 0, R),
    0,
  );
}

interface Item {
  flags: number;
  exp: number;
  cas: number;
  value: string;
}

/** Every live item, keyed by latin1 key. */
function dump(s: Store): Map<string, Item> {
  const m = new Map<string, Item>();
  s.scan(Cursor.Start, Infinity, (h) => {
    const ks = s.keyStart(h);
    const vs = s.valueStart(h);
    m.set(latin1(s.keyBytes(h).subarray(ks, ks + s.keyLen(h))), {
      flags: s.flagsOf(h),
      exp: s.expOf(h),
      cas: s.casOf(h),
      value: latin1(s.valueBytes(h).subarray(vs, vs + s.valueLen(h))),
    });
  });
  return m;
}

/** A store with varied items: binary, empty, large, max flags, TTLs, many sizes. */
function filledStore(clock = manualClock(T0)): Store {
  const s = newStore(clock);
  put(s, "bin\x01\xff key", "\x00\r\n\xff\x80value\r\n", 4294967295);
  put(s, "empty", "", 1);
  const big = new Uint8Array(700_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  put(s, "big", big, 7);
  put(s, "k".repeat(250), "longest key", 2);
  put(s, "ttl-short", "goes", 3, T0 + 10);
  put(s, "ttl-long", "stays", 4, T0 + 1000);
  for (let i = 0; i < 3000; i++) put(s, `item:${i}`, "x".repeat(i % 900), i);
  return s;
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "denocached-snap-" });
}

/** Offsets of the block headers in a valid snapshot file. */
function blockOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  let pos = FILE_HEADER;
  while (pos < b.length) {
    const h = decodeBlockHeader(b, pos);
    assert.ok(h, `block header at ${pos}`);
    out.push(pos);
    if (h.tag === TAG_END) break;
    pos += BLOCK_HEADER + h.len;
  }
  return out;
}

/** Every restored item must be exactly an original one (never wrong data). */
function assertSubset(got: Map<string, Item>, want: Map<string, Item>) {
  for (const [k, v] of got) assert.deepEqual(v, want.get(k), `item ${k}`);
}

Deno.test("snapshot: round trip keeps bytes, flags, cas, exptime; drops expired", async () => {
  const dir = await tempDir();
  try {
    const src = filledStore();
    const want = dump(src);
    const path = `${dir}/s.bin`;
    // Small blocks: many batches, exercising the cursor between awaits.
    const rep = await saveSnapshot(src, path, 32 * 1024);
    assert.equal(rep.items, want.size);
    await assert.rejects(Deno.stat(tmpPath(path)), Deno.errors.NotFound);

    const clock = manualClock(T0 + 10); // "ttl-short" expires at T0+10
    const dst = newStore(clock);
    const r = loadSnapshot(dst, path);
    assert.ok(loadClean(r), JSON.stringify(r));
    assert.equal(r.expired, 1);
    assert.equal(r.restored, want.size - 1);
    want.delete("ttl-short");
    assert.deepEqual(dump(dst), want);
    // New stores get a cas above every restored one.
    const maxCas = Math.max(...[...want.values()].map((i) => i.cas));
    put(dst, "new", "v");
    assert.ok(R.cas > maxCas);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot: missing file, foreign file and newer version", async () => {
  const dir = await tempDir();
  try {
    const s = newStore();
    assert.equal(loadSnapshot(s, `${dir}/none`).found, false);
    await Deno.writeTextFile(
      `${dir}/passwd`,
      "root:x:0:0:root:/root:/bin/bash\n",
    );
    assert.throws(() => loadSnapshot(s, `${dir}/passwd`), SnapshotError);
    // Same magic, a future version with a valid header CRC: refuse.
    await saveSnapshot(filledStore(), `${dir}/v.bin`);
    const b = await Deno.readFile(`${dir}/v.bin`);
    const v = new DataView(b.buffer);
    v.setUint32(8, 2, true);
    const { crc32 } = await import("../lib/snapshot_format.ts");
    v.setUint32(28, crc32(b, 0, 28), true);
    await Deno.writeFile(`${dir}/v.bin`, b);
    assert.throws(() => loadSnapshot(s, `${dir}/v.bin`), /format version 2/);
    // An empty file (e.g. touched by hand) is a damaged snapshot: start empty.
    await Deno.writeFile(`${dir}/e.bin`, new Uint8Array());
    const r = loadSnapshot(s, `${dir}/e.bin`);
    assert.equal(r.truncated, true);
    assert.equal(r.restored, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot: damaged blocks, headers and truncation recover intact blocks only", async () => {
  const dir = await tempDir();
  try {
    const src = filledStore();
    const want = dump(src);
    const path = `${dir}/s.bin`;
    await saveSnapshot(src, path, 16 * 1024);
    const good = await Deno.readFile(path);
    const blocks = blockOffsets(good);
    assert.ok(blocks.length > 10);
    const load = (b: Uint8Array) => {
      Deno.writeFileSync(path, b);
      const s = newStore();
      const r = loadSnapshot(s, path);
      const got = dump(s);
      assertSubset(got, want);
      return { r, got };
    };

    // A flipped payload byte: that block is skipped, all others restored.
    const mid = blocks[Math.floor(blocks.length / 2)];
    const lost = decodeBlockHeader(good, mid)!.count;
    let b = good.slice();
    b[mid + BLOCK_HEADER + 5] ^= 0x40;
    let { r, got } = load(b);
    assert.equal(r.badBlocks, 1);
    assert.equal(r.lostItems, lost);
    assert.equal(got.size, want.size - lost);
    assert.equal(r.truncated, false);

    // A flipped block-header byte: resynchronised at the next block.
    b = good.slice();
    b[mid + 6] ^= 0x01;
    ({ r, got } = load(b));
    assert.ok(r.skippedBytes > 0);
    assert.equal(got.size, want.size - lost);

    // A damaged file header (even its magic): blocks still recovered.
    for (const at of [0, 12]) {
      b = good.slice();
      b[at] ^= 0xff;
      ({ r, got } = load(b));
      assert.equal(r.headerDamaged, true);
      assert.equal(got.size, want.size);
    }

    // Truncated in the middle of a block, at a block boundary, in the header.
    for (const cut of [mid + 100, mid, 10]) {
      ({ r, got } = load(good.slice(0, cut)));
      assert.equal(r.truncated, true);
      assert.ok(got.size < want.size);
    }
    // Junk appended after the end marker is reported, data kept.
    ({ r, got } = load(new Uint8Array([...good, 1, 2, 3])));
    assert.equal(got.size, want.size);
    assert.ok(!loadClean(r));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot: random single-byte damage never throws nor yields wrong items", async () => {
  const dir = await tempDir();
  try {
    const src = newStore();
    for (let i = 0; i < 400; i++) {
      put(src, `k${i}`, `value-${i}-`.repeat(i % 40), i, 0);
    }
    const want = dump(src);
    const path = `${dir}/s.bin`;
    await saveSnapshot(src, path, 2048);
    const good = await Deno.readFile(path);
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 150; i++) {
      const b = good.slice();
      b[rnd(b.length)] ^= 1 + rnd(255);
      const cut = rnd(4) === 0 ? rnd(b.length) : b.length;
      Deno.writeFileSync(path, b.subarray(0, cut));
      const s = newStore();
      try {
        loadSnapshot(s, path);
      } catch (e) {
        // Only a destroyed magic with no intact first block may be refused.
        assert.ok(e instanceof SnapshotError, String(e));
      }
      assertSubset(dump(s), want);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot: saving while clients write stays loadable and exact per item", async () => {
  const dir = await tempDir();
  try {
    const s = newStore();
    for (let i = 0; i < 2000; i++) put(s, `k${i}`, `v0-${i}`.repeat(20), 0);
    let writing = true;
    let rounds = 0;
    const versions = new Map<string, Set<string>>();
    for (let i = 0; i < 2000; i++) {
      versions.set(`k${i}`, new Set([`v0-${i}`.repeat(20)]));
    }
    const writer = (async () => {
      for (let round = 1; writing && round < 200; round++) {
        rounds = round;
        for (let i = round % 7; i < 2000; i += 7) {
          // Values change size, so items move between chunks and classes.
          const v = `v${round}-${i}`.repeat(1 + ((round + i) % 50));
          put(s, `k${i}`, v, round);
          versions.get(`k${i}`)!.add(v);
        }
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    await saveSnapshot(s, `${dir}/s.bin`, 4096);
    writing = false;
    await writer;
    assert.ok(rounds > 1, "writes interleaved with the save");
    const d = newStore();
    const r = loadSnapshot(d, `${dir}/s.bin`);
    assert.ok(loadClean(r));
    for (const [k, item] of dump(d)) {
      assert.ok(versions.get(k)?.has(item.value), `${k} holds a value it had`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
