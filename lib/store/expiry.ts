/**
 * Liveness: expired and flushed items are dead. Every store call treats them
 * as absent and reclaims them when met (see {@link lookup}); {@link sweep}
 * reclaims them in the background.
 *
 * `flushAll(at)` kills items whose last update is before `at` (or in second
 * `at` with a cas not newer than the flush) once `at` has come. Two
 * watermarks are kept: the pending or latest flush (`flushAt`/`flushCas`)
 * and the newest flush already in force before it (`pastFlushAt`/
 * `pastFlushCas`), so a delayed flush does not undo an earlier one.
 * @module
 */

import * as chunk from "./chunk.ts";
import { indexFind } from "./hash_index.ts";
import { unlinkItem } from "./items.ts";
import { dead, deadReason } from "./liveness.ts";
import { ST } from "./layout.ts";
import { lastCas, type StoreState, u32Of, wordOf } from "./state.ts";
import {
  enterKey,
  lockClass,
  lockPool,
  syncViews,
  tryItem,
  unlockClass,
  unlockPool,
  untryItem,
} from "./sync.ts";
import { Miss } from "./types.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { FETCHED, LINKED, META } = chunk;

/** Unlinks a dead item, counting it as reclaimed. */
export function reclaim(s: StoreState, h: number): void {
  s.st[ST.RECLAIMED]++;
  if ((u32Of(s, h)[wordOf(s, h) + META] & FETCHED) === 0) {
    s.st[ST.EXPIRED_UNFETCHED]++;
  }
  unlinkItem(s, h);
}

/**
 * The live item with this key (hash `hv`), reclaiming a dead one; 0 if none
 * (`s.miss` then says whether a dead one was met). Changes nothing else (no
 * policy access, no access time).
 */
export function lookup(
  s: StoreState,
  key: Uint8Array,
  start: number,
  len: number,
  hv: number,
  now: number,
): number {
  enterKey(s, hv);
  const h = indexFind(s, key, start, len, hv);
  s.miss = Miss.None;
  if (h === 0) return 0;
  const p = h >>> s.cb;
  const why = deadReason(s, s.pool.u32[p], (h & s.cm) * s.pool.cw[p], now);
  if (why !== Miss.None) {
    s.miss = why;
    const c = s.pool.cls[p];
    lockClass(s, c);
    reclaim(s, h);
    unlockClass(s, c);
    return 0;
  }
  return h;
}

/** Invalidates every item stored at or before unix time `at` once `at` has come. */
export function flushAll(s: StoreState, at: number): void {
  lockPool(s);
  try {
    flushLocked(s, at);
  } finally {
    unlockPool(s);
  }
}

function flushLocked(s: StoreState, at: number): void {
  const now = s.clock.now();
  if (at <= 0) at = now;
  if (s.flushAt !== 0 && now >= s.flushAt) {
    if (s.flushAt >= s.pastFlushAt) {
      s.pastFlushAt = s.flushAt;
      s.pastFlushCas = s.flushCas;
    }
  }
  s.flushAt = at;
  s.flushCas = at <= now ? lastCas(s) : 0;
}

/**
 * Looks at up to `budget` chunks from the sweep cursor on, reclaiming dead
 * items, and returns how many were looked at (at most one pass per call).
 */
export function sweep(s: StoreState, budget: number): number {
  const pool = s.pool;
  if (s.shared) syncViews(s); // pages other loops added since
  const n = pool.u32.length;
  if (n <= 1 || budget <= 0) return 0;
  const now = s.clock.now();
  let p = s.sweepPage;
  let i = s.sweepChunk;
  let looked = 0;
  let wraps = 0;
  while (looked < budget) {
    if (p >= n) {
      p = 1;
      i = 0;
      if (++wraps > 1) break;
    }
    if (i >= pool.carved[p]) {
      p++;
      i = 0;
      continue;
    }
    const u = pool.u32[p];
    const w = i * pool.cw[p];
    const h = (p << s.cb) | i;
    i++;
    looked++;
    if ((u[w + META] & LINKED) !== 0 && dead(s, u, w, now) && tryItem(s, h)) {
      // Checked again under the locks: a loop may have rewritten it.
      if (dead(s, u, w, now)) reclaim(s, h);
      untryItem(s);
    }
  }
  s.sweepPage = p;
  s.sweepChunk = i;
  return looked;
}
