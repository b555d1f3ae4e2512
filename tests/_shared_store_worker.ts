/// <reference lib="deno.worker" />
/**
 * Worker side of tests/shared_store_test.ts: attaches to a shared store
 * and runs one racing workload on it, then posts what it saw.
 * @module
 */

import { attachStore, type SharedStoreHandle } from "../lib/store/shared.ts";
import { Mode, newResult, Status, type Store } from "../lib/store/types.ts";

/** A task for one worker. */
export interface Task {
  handle: SharedStoreHandle;
  loop: number;
  kind: "incr" | "add" | "cas" | "append" | "big" | "churn" | "grow";
  n: number;
  /** The shared clock word (unix seconds), so expiry can be driven. */
  clock: SharedArrayBuffer;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function key(s: string): Uint8Array {
  return enc.encode(s);
}

function set(
  st: Store,
  mode: Mode,
  k: Uint8Array,
  v: Uint8Array,
  cas = 0,
  exp = 0,
) {
  const r = st.store(mode, k, 0, k.length, 0, exp, v, 0, v.length, cas);
  st.release();
  return r;
}

function get(st: Store, k: Uint8Array): Uint8Array | null {
  const h = st.find(k, 0, k.length);
  if (h < 0) {
    st.release();
    return null;
  }
  const b = st.valueBytes(h);
  const o = st.valueStart(h);
  const v = b.slice(o, o + st.valueLen(h));
  st.release();
  return v;
}

function run(t: Task): unknown {
  const now = new Int32Array(t.clock);
  const st = attachStore(t.handle, t.loop, { now: () => Atomics.load(now, 0) });
  const r = newResult();
  switch (t.kind) {
    case "incr": {
      const k = key("counter");
      for (let i = 0; i < t.n; i++) {
        const s = st.incrDecr(k, 0, k.length, true, 1n, r);
        st.release();
        if (s !== Status.Stored) return { error: `incr ${s}` };
      }
      return { ok: true };
    }
    case "add": {
      const won: number[] = [];
      const v = enc.encode(`w${t.loop}`);
      for (let i = 0; i < t.n; i++) {
        if (set(st, Mode.Add, key(`add:${i}`), v) === Status.Stored) {
          won.push(i);
        }
      }
      return { won };
    }
    case "cas": {
      // A counter bumped with gets + cas retries: a lost update would
      // leave it short of loops * n.
      const k = key("casctr");
      let retries = 0;
      for (let i = 0; i < t.n;) {
        const h = st.find(k, 0, k.length);
        const b = st.valueBytes(h);
        const o = st.valueStart(h);
        const cur = Number(dec.decode(b.subarray(o, o + st.valueLen(h))));
        const cas = st.casOf(h);
        st.release();
        const nv = enc.encode(String(cur + 1));
        if (set(st, Mode.Cas, k, nv, cas) === Status.Stored) i++;
        else retries++;
      }
      return { retries };
    }
    case "append": {
      const k = key("log");
      const tok = enc.encode(
        `${String.fromCharCode(64 + t.loop)}${"-".repeat(3)}`,
      );
      for (let i = 0; i < t.n; i++) {
        const s = set(st, Mode.Append, k, tok);
        if (s !== Status.Stored) return { error: `append ${s}` };
      }
      return { ok: true };
    }
    case "big": {
      // Odd loops overwrite one 100 KB value with one byte repeated;
      // even loops read it and check it is never a mix of two writes.
      const k = key("big");
      let mixed = 0;
      let reads = 0;
      const v = new Uint8Array(100_000);
      for (let i = 0; i < t.n; i++) {
        if (t.loop % 2 === 1) {
          v.fill(65 + ((i + t.loop) % 26));
          set(st, Mode.Set, k, v.subarray(0, 50_000 + (i % 3) * 25_000));
        } else {
          const got = get(st, k);
          if (got === null) continue;
          reads++;
          for (let j = 1; j < got.length; j++) {
            if (got[j] !== got[0]) {
              mixed++;
              break;
            }
          }
        }
      }
      return { mixed, reads };
    }
    case "grow": {
      // Enough new keys to double the index while every loop reads back
      // what it wrote: none may go missing or change.
      let bad = 0;
      for (let i = 0; i < t.n; i++) {
        set(st, Mode.Set, key(`g:${t.loop}:${i}`), enc.encode(`v${i}`));
        const j = (i * 31) % (i + 1);
        const got = get(st, key(`g:${t.loop}:${j}`));
        if (got === null || dec.decode(got) !== `v${j}`) bad++;
      }
      return { bad };
    }
    case "churn": {
      // Many keys under a small limit (evictions, page moves, index growth,
      // expiry): every hit must carry its own key's value.
      let bad = 0;
      let hits = 0;
      for (let i = 0; i < t.n; i++) {
        const id = (((i / 3) | 0) * 7919 + t.loop * 13) % 20_000;
        const k = key(`k:${id}`);
        if (i % 3 === 0) {
          const size = 20 + (id % 7) * 300;
          const v = enc.encode(
            `${id}:`.padEnd(size, String.fromCharCode(97 + (id % 26))),
          );
          set(
            st,
            Mode.Set,
            k,
            v,
            0,
            id % 5 === 0 ? Atomics.load(now, 0) + 1 : 0,
          );
        } else {
          const got = get(st, k);
          if (got === null) continue;
          hits++;
          const s = dec.decode(got);
          if (!s.startsWith(`${id}:`)) bad++;
        }
      }
      return { bad, hits };
    }
  }
}

self.onmessage = (e: MessageEvent<Task>) => {
  try {
    self.postMessage(run(e.data));
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
