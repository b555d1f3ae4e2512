/**
 * Chunk allocation under the memory limit: free lists first, then carving
 * the class's current page, then a new page while under `limitBytes`, then
 * freeing the eviction policy's victim (`policy.ts`), and last moving a whole
 * page over from the class that holds most pages (memcached's slab
 * reassignment; only when a class with pages has nothing to evict, since a
 * class's first page may exceed the limit, as in memcached).
 *
 * Pages are carved lazily: a class hands out chunks of its `carvePage` in
 * order and only then looks for another page. The item in `s.pin` (the old
 * version of an item being rewritten) is never evicted, nor is its page
 * taken, so the caller can still copy from it.
 *
 * Shrinking under a lowered limit (`cache_memlimit`) drains one page at a
 * time in bounded steps between client work: the page first leaves its
 * class's carving and free list, then its chunks are emptied from a cursor,
 * and a chunk freed meanwhile goes on no free list, so nothing refills it.
 * @module
 */

import * as chunk from "./chunk.ts";
import { reclaim, sweep } from "./expiry.ts";
import { freeDropPage, freeDropStep, freePop } from "./free_list.ts";
import { unlinkItem } from "./items.ts";
import { dead } from "./liveness.ts";
import { isHeld, pageHeld } from "./holds.ts";
import { CI, ST } from "./layout.ts";
import { policyOldest, policySkip, policyVictim } from "./policy.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";
import {
  lockClass,
  lockPool,
  tryClass,
  tryControl,
  tryItem,
  unlockClass,
  unlockControl,
  unlockPool,
  untryClass,
  untryItem,
} from "./sync.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { FETCHED, LINKED, META } = chunk;

/**
 * Chunks the sweep looks at before each eviction: small enough to cost
 * about a microsecond, large enough that a pass over a full cache takes a
 * few hundred evictions (so expired items rarely outlive their class's
 * next victims).
 */
const EVICT_SWEEP = 512;

/** Whether one more page fits under the limit (the first page always does). */
function canGrow(s: StoreState): boolean {
  return s.pool.count === 0 ||
    s.totalMalloced + s.pool.pageSize <= s.limitBytes;
}

/**
 * Victims in a row that another loop held (shared stores) before an
 * allocation gives up and answers out of memory.
 */
const MAX_SKIPS = 16;

/**
 * A free chunk of class `c`, evicting if needed; 0 if none can be had. The
 * caller holds class `c`'s lock and keeps it until the chunk is linked (a
 * carved, unlinked chunk is invisible to the page moves of other loops only
 * while that lock is held).
 */
export function alloc(s: StoreState, c: number): number {
  const fh = freePop(s, c);
  if (fh !== 0) return fh;
  const h = carve(s, c);
  if (h !== 0) return h;
  // A class without pages gets its first one even at the limit, as in
  // memcached (do_slabs_newslab lets a class with no slabs allocate past
  // mem_limit): at most one page per class over `-m`, and no whole page of
  // another class emptied in one step (taking one cost ~10 ms at 64 MB).
  lockPool(s);
  let p = 0;
  if (canGrow(s) || s.pages[c] === 0) {
    p = s.pool.alloc(c, s.sc.size[c]);
    if (p !== 0) s.totalMalloced += s.pool.pageSize;
  }
  unlockPool(s);
  if (p !== 0) {
    s.pages[c]++;
    s.carvePage[c] = p;
    return carve(s, c);
  }
  // Dead items anywhere free memory before a live one is evicted: a short
  // slice of the background sweep, which may free a chunk of this class.
  sweep(s, EVICT_SWEEP);
  let got = freePop(s, c);
  if (got !== 0) return got;
  // A victim in the page being drained frees no chunk (the page is leaving
  // its class), so go on to the next victim; each one empties a chunk of
  // that page, so this ends within a page's worth (its drain then ends too).
  let skips = 0;
  while (s.items[c] > 0) {
    const r = evictTail(s, c);
    if (r === Evict.None) break;
    if (r === Evict.Busy) {
      if (++skips > MAX_SKIPS) break;
      continue;
    }
    skips = 0;
    got = freePop(s, c);
    if (got !== 0) return got;
  }
  if (reassign(s, c)) return carve(s, c);
  return 0;
}

/** The next uncarved chunk of class `c`'s carve page; 0 when it is used up. */
function carve(s: StoreState, c: number): number {
  const p = s.carvePage[c];
  if (p === 0) return 0;
  const i = s.pool.carved[p];
  if (i < s.sc.perPage[c]) {
    s.pool.carved[p] = i + 1;
    return (p << s.cb) | i;
  }
  s.carvePage[c] = 0;
  return 0;
}

/** What {@link evictTail} did. */
const Evict = { None: 0, Freed: 1, Busy: 2 } as const;
type Evict = typeof Evict[keyof typeof Evict];

/** Frees the policy's victim in class `c` (reclaimed if dead, else evicted). */
function evictTail(s: StoreState, c: number): Evict {
  const now = s.clock.now();
  const h = policyVictim(s, c, now);
  if (h === 0) return Evict.None;
  if (!tryItem(s, h)) {
    policySkip(s, h, c);
    return Evict.Busy;
  }
  if (dead(s, u32Of(s, h), wordOf(s, h), now)) reclaim(s, h);
  else evictOne(s, h, c);
  untryItem(s);
  return Evict.Freed;
}

/** Unlinks live item `h` of class `c`, counting an eviction. */
function evictOne(s: StoreState, h: number, c: number): void {
  s.st[ST.EVICTIONS]++;
  s.evicted[c]++;
  if ((u32Of(s, h)[wordOf(s, h) + META] & FETCHED) === 0) {
    s.st[ST.EVICTED_UNFETCHED]++;
  }
  unlinkItem(s, h);
}

/**
 * A page of class `c` that neither holds the pinned item nor is being
 * drained (the next victim's first); 0 if none.
 */
function pickPage(s: StoreState, c: number): number {
  const pinPage = s.pin === 0 ? 0 : s.pin >>> s.cb;
  const busy = s.drainPage;
  const tail = policyOldest(s, c);
  if (tail !== 0) {
    const tp = tail >>> s.cb;
    if (tp !== pinPage && tp !== busy && !pageHeld(s, tp)) return tp;
  }
  const cls = s.pool.cls;
  const n = s.pool.u32.length;
  for (let p = 1; p < n; p++) {
    if (cls[p] === c && p !== pinPage && p !== busy && !pageHeld(s, p)) {
      return p;
    }
  }
  return 0;
}

/** The page to take from the class with most pages (other than `not`); 0 if none. */
function victimPage(s: StoreState, not: number): number {
  let best = 0;
  let bestPages = 0;
  for (let c = 1; c <= s.sc.count; c++) {
    if (c !== not && s.pages[c] > bestPages && pickPage(s, c) !== 0) {
      best = c;
      bestPages = s.pages[c];
    }
  }
  return best === 0 ? 0 : pickPage(s, best);
}

/**
 * Evicts every item of page `p` (class `c`, whose lock the caller holds)
 * and detaches it from its class; false (and the page stays) when another
 * loop holds one of its items.
 */
function drainPage(s: StoreState, p: number, c: number): boolean {
  const n = s.pool.carved[p];
  const now = s.clock.now();
  const u = s.pool.u32[p];
  const cw = s.pool.cw[p];
  for (let i = 0; i < n; i++) {
    const h = (p << s.cb) | i;
    if ((u[i * cw + META] & LINKED) !== 0) {
      if (!tryItem(s, h)) return false;
      // Held since the page was picked (another loop's reply): it stays.
      if (isHeld(s, h)) {
        untryItem(s);
        return false;
      }
      if (dead(s, u, i * cw, now)) reclaim(s, h);
      else evictOne(s, h, c);
      untryItem(s);
    }
  }
  // A zombie held since the pick (its hold began while it was linked):
  // with every item unlinked no new hold can start, so this check holds.
  if (pageHeld(s, p)) return false;
  // Every carved chunk is now on the free list; take them all off.
  freeDropPage(s, c, p);
  if (s.carvePage[c] === p) s.carvePage[c] = 0;
  s.pages[c]--;
  return true;
}

/** Moves a page from the class with most pages to class `c`. */
function reassign(s: StoreState, c: number): boolean {
  const p = victimPage(s, c);
  if (p === 0) return false;
  const from = s.pool.cls[p];
  const got = tryClass(s, from);
  if (got === 0) return false;
  // Chosen unlocked: make sure it is still a page of that class.
  const ok = s.pool.cls[p] === from && p !== s.drainPage &&
    drainPage(s, p, from);
  untryClass(s, from, got);
  if (!ok) return false;
  lockPool(s);
  s.pool.assign(p, c, s.sc.size[c]);
  unlockPool(s);
  s.pages[c]++;
  s.carvePage[c] = p;
  s.st[ST.SLAB_REASSIGNS]++;
  return true;
}

/**
 * Changes the memory limit; while over it, drains and releases pages,
 * emptying at most `maxChunks` chunks now. True while still over the limit
 * (go on with {@link shrink} between other work).
 */
export function setLimit(
  s: StoreState,
  limitBytes: number,
  maxChunks = Infinity,
): boolean {
  s.limitBytes = limitBytes;
  return shrink(s, maxChunks);
}

/**
 * Page `p` leaves its class's carving, to be drained; its chunks leave the
 * free list over the next steps (a list can hold millions after a flush).
 */
function beginDrain(s: StoreState, p: number): void {
  const c = s.pool.cls[p];
  if (s.carvePage[c] === p) s.carvePage[c] = 0;
  s.drainPage = p;
  s.drainAt = 0;
  s.dropping = s.freeHead[c] !== 0;
  s.dropPrev = 0;
}

/**
 * Shrinks toward the limit by at most `maxChunks` chunks: one page at a time
 * is drained from a cursor (`s.drainPage`/`s.drainAt`, so a page of small
 * items is emptied over many calls, never at once), then released. True
 * while more remains (a page half drained, or still over the limit).
 */
export function shrink(s: StoreState, maxChunks: number): boolean {
  // One drain at a time; a loop that finds another draining tries later.
  if (!tryControl(s, CI.DRAIN_LOCK)) return true;
  try {
    return shrinkLocked(s, maxChunks);
  } finally {
    unlockControl(s, CI.DRAIN_LOCK);
  }
}

function shrinkLocked(s: StoreState, maxChunks: number): boolean {
  let budget = maxChunks;
  const pool = s.pool;
  for (;;) {
    if (s.drainPage === 0) {
      if (s.totalMalloced <= s.limitBytes || pool.count <= 1) {
        return false;
      }
      const v = victimPage(s, 0);
      if (v === 0) return false;
      const vc = pool.cls[v];
      lockClass(s, vc);
      // Chosen unlocked: another loop may have moved it meanwhile.
      const ok = pool.cls[v] === vc;
      if (ok) beginDrain(s, v);
      unlockClass(s, vc);
      if (!ok) return true;
    }
    if (budget <= 0) return true;
    const p = s.drainPage;
    const c = pool.cls[p];
    lockClass(s, c);
    let done = false;
    try {
      if (s.dropping) {
        budget -= freeDropStep(s, c, budget);
        if (s.dropping) return true;
      }
      const n = pool.carved[p];
      const u = pool.u32[p];
      const cw = pool.cw[p];
      const now = s.clock.now();
      let i = s.drainAt;
      for (; i < n && budget > 0; i++, budget--) {
        if ((u[i * cw + META] & LINKED) === 0) continue;
        const h = (p << s.cb) | i;
        // A key another loop holds: stop here and come back next step.
        if (!tryItem(s, h)) break;
        if (dead(s, u, i * cw, now)) reclaim(s, h);
        else evictOne(s, h, c);
        untryItem(s);
      }
      s.drainAt = i;
      // A reply still sends from this page: it goes once that is out.
      if (i < n || pageHeld(s, p)) return true;
      // Every chunk is empty and on no free list: the page can go.
      s.drainPage = 0;
      s.pages[c]--;
      done = true;
    } finally {
      unlockClass(s, c);
    }
    if (done) {
      lockPool(s);
      pool.release(p);
      s.totalMalloced -= pool.pageSize;
      unlockPool(s);
    }
  }
}
