/**
 * The shared store (`-t N`'s one store in SharedArrayBuffers) raced by
 * 2–4 Workers calling it directly: per-key atomicity of incr, add, cas and
 * append, no torn large values, and no cross-key corruption under
 * evictions, page moves, index doubling and expiry while the creating
 * thread sweeps, scans and shrinks at the same time.
 * @module
 */

import assert from "node:assert/strict";
import { createSharedStore } from "../lib/store/shared.ts";
import { Mode, newResult, Status, type Store } from "../lib/store/types.ts";
import type { Task } from "./_shared_store_worker.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function clockWord(): { sab: SharedArrayBuffer; now: Int32Array } {
  const sab = new SharedArrayBuffer(4);
  const now = new Int32Array(sab);
  now[0] = 1_700_000_000;
  return { sab, now };
}

async function race(
  kind: Task["kind"],
  loops: number,
  n: number,
  limitMb = 64,
  meanwhile?: (store: Store, now: Int32Array) => void,
): Promise<{ store: Store; results: Record<string, unknown>[] }> {
  const { sab, now } = clockWord();
  const clock = { now: () => Atomics.load(now, 0) };
  const { store, handle } = createSharedStore({
    limitBytes: limitMb * 1024 * 1024,
    maxItemSize: 1024 * 1024,
    clock,
  }, loops);
  const seed = (k: string, v: string) => {
    const kb = enc.encode(k);
    const vb = enc.encode(v);
    store.store(Mode.Set, kb, 0, kb.length, 0, 0, vb, 0, vb.length, 0);
    store.release();
  };
  seed("counter", "0");
  seed("casctr", "0");
  seed("log", "");
  const workers = Array.from(
    { length: loops },
    () =>
      new Worker(new URL("./_shared_store_worker.ts", import.meta.url), {
        type: "module",
      }),
  );
  let stop = false;
  const side = meanwhile
    ? (async () => {
      while (!stop) {
        meanwhile(store, now);
        store.release();
        await new Promise((r) => setTimeout(r, 1));
      }
    })()
    : Promise.resolve();
  try {
    const results = await Promise.all(
      workers.map((w, i) =>
        new Promise<Record<string, unknown>>((res, rej) => {
          w.onmessage = (e) => res(e.data);
          w.onerror = (e) => {
            e.preventDefault();
            rej(new Error(e.message));
          };
          w.postMessage({ handle, loop: i + 1, kind, n, clock: sab } as Task);
        })
      ),
    );
    for (const r of results) assert.equal(r.error, undefined, String(r.error));
    return { store, results };
  } finally {
    stop = true;
    await side;
    for (const w of workers) w.terminate();
  }
}

function value(store: Store, k: string): string | null {
  const kb = enc.encode(k);
  const h = store.find(kb, 0, kb.length);
  if (h < 0) {
    store.release();
    return null;
  }
  const o = store.valueStart(h);
  const v = dec.decode(store.valueBytes(h).subarray(o, o + store.valueLen(h)));
  store.release();
  return v;
}

for (const loops of [2, 4]) {
  Deno.test(`shared store, ${loops} loops: incr on one key is exact`, async () => {
    const { store } = await race("incr", loops, 20_000);
    assert.equal(value(store, "counter")?.trim(), String(loops * 20_000));
  });

  Deno.test(`shared store, ${loops} loops: add races have one winner each`, async () => {
    const { results } = await race("add", loops, 5_000);
    const wins = new Map<number, number>();
    for (const r of results) {
      for (const i of r.won as number[]) wins.set(i, (wins.get(i) ?? 0) + 1);
    }
    assert.equal(wins.size, 5_000);
    for (const [, n] of wins) assert.equal(n, 1);
  });

  Deno.test(`shared store, ${loops} loops: cas increments lose no update`, async () => {
    const { store } = await race("cas", loops, 3_000);
    assert.equal(value(store, "casctr"), String(loops * 3_000));
  });

  Deno.test(`shared store, ${loops} loops: appends lose no bytes`, async () => {
    const { store } = await race("append", loops, 2_000);
    const v = value(store, "log")!;
    assert.equal(v.length, loops * 2_000 * 4);
    for (let l = 1; l <= loops; l++) {
      const tag = String.fromCharCode(64 + l);
      assert.equal(v.split(tag).length - 1, 2_000, `tokens of loop ${l}`);
    }
  });

  Deno.test(`shared store, ${loops} loops: a large value is never read torn`, async () => {
    const { results } = await race("big", loops, 1_500);
    let reads = 0;
    for (const r of results) {
      assert.equal(r.mixed ?? 0, 0);
      reads += (r.reads as number | undefined) ?? 0;
    }
    assert.ok(reads > 0);
  });

  Deno.test(`shared store, ${loops} loops: the index doubles under load and keeps every key`, async () => {
    const n = 200_000 / loops;
    const { store, results } = await race("grow", loops, n);
    for (const r of results) assert.equal(r.bad, 0);
    assert.equal(store.stats.currItems, 3 + 200_000);
    for (let l = 1; l <= loops; l++) {
      for (let i = 0; i < n; i += 997) {
        assert.equal(value(store, `g:${l}:${i}`), `v${i}`);
      }
    }
  });

  Deno.test(`shared store, ${loops} loops: churn under a small limit keeps every key's value`, async () => {
    let tick = 0;
    const { store, results } = await race(
      "churn",
      loops,
      60_000,
      8,
      (st, now) => {
        // The creator sweeps, scans, walks and moves the limit meanwhile.
        if (++tick % 5 === 0) Atomics.add(now, 0, 1);
        st.sweep(2_000);
        st.scan(0, 500, (h) => {
          st.keyLen(h);
        });
        if (tick % 50 === 0) {
          st.setLimit((tick % 100 === 0 ? 6 : 8) * 1024 * 1024, 2_000);
        } else st.shrink(2_000);
      },
    );
    let hits = 0;
    for (const r of results) {
      assert.equal(r.bad, 0);
      hits += r.hits as number;
    }
    assert.ok(hits > 0);
    // The structure is still whole: after a sweep reclaims the expired,
    // a full scan sees each linked key once.
    store.sweep(10_000_000);
    const seen = new Set<string>();
    let cursor = 0;
    do {
      cursor = store.scan(cursor, 10_000, (h) => {
        const o = store.keyStart(h);
        const k = dec.decode(
          store.keyBytes(h).subarray(o, o + store.keyLen(h)),
        );
        assert.ok(!seen.has(k), `key ${k} twice`);
        seen.add(k);
      });
    } while (cursor >= 0);
    assert.equal(seen.size, store.stats.currItems);
    const r = newResult();
    const kb = enc.encode("after");
    assert.equal(
      store.store(Mode.Set, kb, 0, 5, 0, 0, kb, 0, 5, 0, r),
      Status.Stored,
    );
    store.release();
  });
}
