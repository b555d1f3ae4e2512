/**
 * One memory budget for the whole process, beside the item memory of `-m`:
 * input buffered for values still arriving, reply bytes queued for slow
 * readers and TLS buffers all draw from it (admin replies are replies, so
 * they count as {@link Kind.Response}). This module is the accounting; the
 * connection core (lib/server/core.ts) acts on it.
 *
 * Every holder (a connection) has a per-kind balance. {@link take} grants
 * bytes only while the total stays within the limit, so the process never
 * grows past it; a refused take is the signal to stop reading from that
 * holder, or to answer a large set `SERVER_ERROR out of memory storing
 * object`. {@link heaviest} names the holders to pause or close first.
 * @module
 */

import { lockWord, unlockWord } from "./store/locks.ts";

/** What the budget accounts for, as memcached's `stats` names them. */
export const Kind = {
  /** Input buffered for a command or value not yet complete (`read_buf_bytes`). */
  ReadBuf: 0,
  /** Reply bytes queued for a client that reads slowly (`response_obj_bytes`). */
  Response: 1,
  /** TLS record buffers. */
  Tls: 2,
  /** Replies of admin commands (`stats cachedump`, ...). */
  Admin: 3,
} as const;
/** One of the {@link Kind} values. */
export type Kind = typeof Kind[keyof typeof Kind];
const KINDS = 4;

/** Smallest budget, whatever `-m` is: enough for a few large values in flight. */
export const BUDGET_FLOOR = 64 * 1024 * 1024;

/** The default budget for `-m` MiB of items: 10% of it, at least {@link BUDGET_FLOOR}. */
export function defaultBudgetBytes(memoryLimitMb: number): number {
  return Math.max(BUDGET_FLOOR, Math.floor(memoryLimitMb * 1024 * 1024 / 10));
}

/** A process-wide budget; holders are small integer ids (connection ids). */
export interface Budget {
  readonly limit: number;
  /** Bytes granted in total. */
  readonly used: number;
  /** Bytes granted per {@link Kind}, for `stats`. */
  readonly byKind: Float64Array;
  /** Refused takes so far. */
  readonly refusals: number;
  /** Connections closed because the budget stayed spent (the core counts them). */
  closes: number;
  /** Grants `n` bytes of `kind` to `holder` if the total stays within the limit. */
  take(holder: number, kind: Kind, n: number): boolean;
  /**
   * Records `n` bytes of `kind` already spent by `holder`, even past the
   * limit (memory a batch allocated before it could ask); the core keeps
   * such overshoot small and stops reading while the budget is spent.
   */
  charge(holder: number, kind: Kind, n: number): void;

  /** Returns `n` bytes of `kind` from `holder` (clamped to what it holds). */
  give(holder: number, kind: Kind, n: number): void;
  /** Returns everything `holder` holds (its connection closed). */
  release(holder: number): void;
  /** Bytes `holder` holds in all kinds. */
  held(holder: number): number;
  /** Up to `k` holders holding the most, largest first. */
  heaviest(k: number): number[];
  /**
   * The `stats` rows memcached 1.6.18 prints for its connection buffers, in
   * its order: response_obj_* are queued replies (`oom`: connections closed
   * because the budget stayed spent), read_buf_* are input and TLS buffers
   * (`free`: what is left of the budget, `oom`: refused takes).
   */
  statRows(): [string, number][];
}

/**
 * Words a budget shared by several event loops (`-t N`) keeps its totals
 * in: Float64 [used, by kind ×4, refusals, closes], under lock word `lock`
 * of `ctl` (see `protocol/shared_counters.ts`).
 */
export interface SharedBudgetWords {
  readonly ctl: Int32Array;
  readonly lock: number;
  readonly f: Float64Array;
}

/**
 * Creates a budget of `limit` bytes; with `shared`, every loop attached to
 * the same words draws from one total (a server-wide bound), while each
 * keeps the holders (its own connections) to itself.
 */
export function createBudget(
  limit: number,
  shared?: SharedBudgetWords,
): Budget {
  return shared === undefined
    ? localBudget(limit)
    : sharedBudget(limit, shared);
}

const USED = 0;
const REFUSALS = KINDS + 1;
const CLOSES = KINDS + 2;

function sharedBudget(limit: number, w: SharedBudgetWords): Budget {
  const local = localBudget(Infinity);
  const f = w.f;
  const byKind = f.subarray(1, 1 + KINDS);
  // Every total moves under the lock: loops take and give concurrently.
  const locked = <T>(fn: () => T): T => {
    lockWord(w.ctl, w.lock);
    try {
      return fn();
    } finally {
      unlockWord(w.ctl, w.lock);
    }
  };
  const move = (kind: Kind, n: number) => {
    f[USED] += n;
    f[1 + kind] += n;
  };
  return {
    limit,
    get used() {
      return f[USED];
    },
    byKind,
    get refusals() {
      return f[REFUSALS];
    },
    get closes() {
      return f[CLOSES];
    },
    set closes(v: number) {
      locked(() => (f[CLOSES] = v));
    },
    take(holder, kind, n) {
      if (n < 0 || !Number.isFinite(n)) return false;
      const ok = locked(() => {
        if (f[USED] + n > limit) {
          f[REFUSALS]++;
          return false;
        }
        move(kind, n);
        return true;
      });
      if (ok) local.charge(holder, kind, n);
      return ok;
    },
    charge(holder, kind, n) {
      if (n <= 0 || !Number.isFinite(n)) return;
      locked(() => move(kind, n));
      local.charge(holder, kind, n);
    },
    give(holder, kind, n) {
      const before = local.byKind[kind];
      local.give(holder, kind, n);
      const m = before - local.byKind[kind];
      if (m > 0) locked(() => move(kind, -m));
    },
    release(holder) {
      const before = Array.from(local.byKind);
      local.release(holder);
      locked(() => {
        for (let k = 0; k < KINDS; k++) {
          const m = before[k] - local.byKind[k];
          if (m > 0) move(k as Kind, -m);
        }
      });
    },
    held: (holder) => local.held(holder),
    heaviest: (k) => local.heaviest(k),
    statRows() {
      const rows = local.statRows();
      // This loop's counts of holders; bytes, free and refusals server-wide.
      const at = (name: string, v: number) => {
        const r = rows.find((x) => x[0] === name);
        if (r) r[1] = v;
      };
      at("response_obj_bytes", byKind[Kind.Response] + byKind[Kind.Admin]);
      at("read_buf_bytes", byKind[Kind.ReadBuf] + byKind[Kind.Tls]);
      at("read_buf_bytes_free", Math.max(0, limit - f[USED]));
      at("read_buf_oom", f[REFUSALS]);
      at("response_obj_oom", f[CLOSES]);
      return rows;
    },
  };
}

function localBudget(limit: number): Budget {
  const holders = new Map<number, Float64Array>();
  const byKind = new Float64Array(KINDS);
  let used = 0;
  let refusals = 0;
  const of = (h: number) => {
    let a = holders.get(h);
    if (!a) holders.set(h, a = new Float64Array(KINDS + 1)); // [kinds..., total]
    return a;
  };
  return {
    limit,
    get used() {
      return used;
    },
    byKind,
    get refusals() {
      return refusals;
    },
    closes: 0,
    take(holder, kind, n) {
      if (n < 0 || !Number.isFinite(n)) return false;
      if (used + n > limit) {
        refusals++;
        return false;
      }
      const a = of(holder);
      a[kind] += n;
      a[KINDS] += n;
      byKind[kind] += n;
      used += n;
      return true;
    },
    charge(holder, kind, n) {
      if (n <= 0 || !Number.isFinite(n)) return;
      const a = of(holder);
      a[kind] += n;
      a[KINDS] += n;
      byKind[kind] += n;
      used += n;
    },
    give(holder, kind, n) {
      const a = holders.get(holder);
      if (!a || n <= 0) return;
      const m = Math.min(n, a[kind]);
      a[kind] -= m;
      a[KINDS] -= m;
      byKind[kind] -= m;
      used -= m;
      if (a[KINDS] === 0) holders.delete(holder);
    },
    release(holder) {
      const a = holders.get(holder);
      if (!a) return;
      for (let k = 0; k < KINDS; k++) byKind[k] -= a[k];
      used -= a[KINDS];
      holders.delete(holder);
    },
    held(holder) {
      return holders.get(holder)?.[KINDS] ?? 0;
    },
    heaviest(k) {
      return [...holders.entries()]
        .sort((x, y) => y[1][KINDS] - x[1][KINDS])
        .slice(0, k)
        .map(([h]) => h);
    },
    statRows() {
      const count = (k: Kind) => {
        let n = 0;
        for (const a of holders.values()) if (a[k] > 0) n++;
        return n;
      };
      return [
        ["response_obj_oom", this.closes],
        ["response_obj_count", count(Kind.Response) + count(Kind.Admin)],
        ["response_obj_bytes", byKind[Kind.Response] + byKind[Kind.Admin]],
        ["read_buf_count", count(Kind.ReadBuf) + count(Kind.Tls)],
        ["read_buf_bytes", byKind[Kind.ReadBuf] + byKind[Kind.Tls]],
        ["read_buf_bytes_free", Math.max(0, limit - used)],
        ["read_buf_oom", refusals],
      ];
    },
  };
}
