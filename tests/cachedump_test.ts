/**
 * `stats cachedump` answered in slices: a dump of tens of thousands of
 * items comes out whole, newest first, each key once, capped at 2 MiB as in
 * memcached; a command pipelined behind it is answered after its END; and
 * the store's resumable walk underneath (`Store.lruWalk` with `from`) picks
 * up where it stopped, or ends when that item left its class.
 * @module
 */

import assert from "node:assert/strict";
import { createStore } from "../lib/store/store.ts";
import { Mode, Status } from "../lib/store/types.ts";
import { defaultConfig } from "../lib/config.ts";
import { ioTest, type Raw, raw, withServer } from "./_helpers.ts";

const key = (i: number) => `k${String(i).padStart(7, "0")}`;

/** Sets keys 0..n-1 (8-byte values) with noreply, then syncs on `mn`. */
async function fill(c: Raw, n: number): Promise<void> {
  for (let at = 0; at < n; at += 5000) {
    let text = "";
    for (let i = at; i < Math.min(n, at + 5000); i++) {
      text += `set ${key(i)} 0 0 8 noreply\r\n12345678\r\n`;
    }
    await c.send(text + "mn\r\n");
    await c.until("MN\r\n", 20000);
  }
}

/** The size class holding the items (from `stats items`). */
async function classOf(c: Raw): Promise<number> {
  await c.send("stats items\r\n");
  const text = await c.until("END\r\n");
  const m = /STAT items:(\d+):number /.exec(text);
  assert.ok(m, text);
  return Number(m[1]);
}

ioTest(
  "stats cachedump: many slices, newest first, each key once",
  async (io) => {
    await withServer({ io, memoryLimitMb: 64 }, async (srv) => {
      const c = await raw(srv.port);
      const other = await raw(srv.port);
      try {
        const n = 30_000; // ~8 slices of 4096, 0.8 MB of lines
        await fill(c, n);
        const cls = await classOf(c);
        c.drain(0);
        // A get pipelined behind the dump is answered after its END.
        await c.send(`stats cachedump ${cls} 0\r\nget ${key(7)}\r\n`);
        // Another client is served while the dump runs.
        await other.send("version\r\n");
        assert.match(await other.until("\r\n"), /^VERSION /);
        const text = await c.until(
          `END\r\nVALUE ${key(7)} 0 8\r\n12345678\r\nEND\r\n`,
          20000,
        );
        const lines = text.split("\r\n");
        const items = lines.filter((l) => l.startsWith("ITEM "));
        assert.equal(items.length, n);
        // Newest first: the reverse of the order they were set in.
        for (let i = 0; i < n; i++) {
          assert.equal(items[i], `ITEM ${key(n - 1 - i)} [8 b; 0 s]`);
        }
        assert.equal(lines[n], "END");
        // limit 1 still reads one item.
        c.drain(0);
        await c.send(`stats cachedump ${cls} 1\r\n`);
        assert.equal(
          await c.until("END\r\n"),
          `ITEM ${key(n - 1)} [8 b; 0 s]\r\nEND\r\n`,
        );
      } finally {
        c.close();
        other.close();
      }
    });
  },
);

ioTest(
  "stats cachedump: the reply stops under 2 MiB, as memcached's",
  async (io) => {
    await withServer({ io, memoryLimitMb: 64 }, async (srv) => {
      const c = await raw(srv.port);
      try {
        const n = 90_000; // ~2.3 MB of lines
        await fill(c, n);
        const cls = await classOf(c);
        c.drain(0);
        await c.send(`stats cachedump ${cls} 0\r\n`);
        const text = await c.until("END\r\n", 20000);
        assert.ok(text.length <= 2 * 1024 * 1024, String(text.length));
        assert.ok(text.length > 2 * 1024 * 1024 - 64, String(text.length));
        const items = text.split("\r\n").filter((l) => l.startsWith("ITEM "));
        assert.equal(items[0], `ITEM ${key(n - 1)} [8 b; 0 s]`);
        assert.equal(new Set(items).size, items.length);
        // The connection goes on.
        await c.send("version\r\n");
        assert.match(await c.until("\r\n"), /^VERSION /);
      } finally {
        c.close();
      }
    });
  },
);

Deno.test("store lruWalk: resumes from the item it stopped at, ends if it left", () => {
  const store = createStore({
    limitBytes: 64 << 20,
    maxItemSize: 1 << 20,
    clock: defaultConfig().clock,
  });
  const enc = new TextEncoder();
  const val = enc.encode("12345678");
  for (let i = 0; i < 100; i++) {
    const k = enc.encode(key(i));
    store.store(Mode.Set, k, 0, k.length, 0, 0, val, 0, 8, 0);
  }
  const first = enc.encode(key(0));
  const cls = store.classOf(store.peek(first, 0, first.length));
  const name = (h: number) =>
    new TextDecoder().decode(
      store.keyBytes(h).subarray(
        store.keyStart(h),
        store.keyStart(h) + store.keyLen(h),
      ),
    );
  const seen: string[] = [];
  const visit = (h: number) => {
    seen.push(name(h));
    return true;
  };
  let at = store.lruWalk(cls, visit, 30);
  assert.notEqual(at, 0);
  assert.equal(seen.length, 30);
  assert.equal(name(at), key(69)); // the next one, not yet visited
  at = store.lruWalk(cls, visit, 30, at);
  assert.equal(seen.length, 60);
  // The resume point is deleted: the walk ends there.
  const gone = enc.encode(name(at));
  assert.equal(store.remove(gone, 0, gone.length), Status.Deleted);
  assert.equal(store.lruWalk(cls, visit, 30, at), 0);
  assert.equal(seen.length, 60);
  // A walk with budget to spare reaches the end and says so.
  seen.length = 0;
  assert.equal(store.lruWalk(cls, visit, 1000), 0);
  assert.equal(seen.length, 99);
  assert.deepEqual(seen.slice(0, 2), [key(99), key(98)]);
});
