/**
 * Administrative commands: flush_all, verbosity, shutdown, cache_memlimit,
 * and the tuning commands (slabs, lru, lru_crawler, watch) that memcached
 * clients and tools may send. Tuning commands validate their arguments as
 * memcached does and answer as it would; they change nothing we do not have.
 * @module
 */

import { absoluteExpiry } from "./exptime.ts";
import { line } from "./outbuf.ts";
import { R, reply } from "./reply.ts";
import type { Store } from "../store/types.ts";
import type { Session } from "./types.ts";
import { noreplyLast } from "./text.ts";
import { ascii, parseInt32, parseUint32, tokenIs } from "./tokens.ts";
import { CTL } from "./shared_counters.ts";

export { authCommand } from "./auth.ts";

const MEMLIMIT_SMALL = line(
  "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m",
);
const MEMLIMIT_BYTES = line(
  "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes",
);
const WATCH_DISABLED = line("CLIENT_ERROR watch commands not allowed");
const SAME = line("SAME src and dst class are identical");
const BADCLASS = line("BADCLASS invalid src or dst class id");
const NOSPARE = line("NOSPARE source class has no spare pages");
const SLEEP = line("CLIENT_ERROR sleep must be one second or less");
const BADCLASS_CRAWL = line("BADCLASS invalid class id");
const METADUMP = line("ERROR metadump not allowed");
const LRU_PCT = line("ERROR hot and warm pcts must not exceed 80");
const LRU_FACTOR = line("ERROR hot/warm age factors must be greater than 0");

const W = {
  graceful: ascii("graceful"),
  reassign: ascii("reassign"),
  automove: ascii("automove"),
  ratio: ascii("ratio"),
  crawl: ascii("crawl"),
  metadump: ascii("metadump"),
  tocrawl: ascii("tocrawl"),
  sleep: ascii("sleep"),
  enable: ascii("enable"),
  disable: ascii("disable"),
  tune: ascii("tune"),
  mode: ascii("mode"),
  flat: ascii("flat"),
  segmented: ascii("segmented"),
  temp_ttl: ascii("temp_ttl"),
  all: ascii("all"),
};

/**
 * Chunks one shrink step empties (evicting their items): a page of small
 * items holds thousands, so a page is drained over many steps.
 */
const SHRINK_CHUNKS = 256;
/**
 * Chunks one sweep step looks at: well under a millisecond even when every
 * one holds a dead item to reclaim (1-3 us each with 4 M items).
 */
export const SWEEP_STEP = 512;

/** Runs `step` in slices between client work (or at once without a scheduler). */
function later(s: Session, step: () => boolean): void {
  const bg = s.ctx.background;
  if (bg) bg(step);
  else while (step());
}

/**
 * A task (for `ctx.background`) that sweeps `total` chunks for dead items,
 * {@link SWEEP_STEP} per step, or one full pass if the store holds fewer.
 */
export function sweepTask(store: Store, total: number): () => boolean {
  let looked = 0;
  return () => {
    const n = store.sweep(SWEEP_STEP);
    looked += n;
    // sweep looks at fewer than asked only when it completed a pass.
    return n === SWEEP_STEP && looked < total;
  };
}

/**
 * A task that gives back pages while the store holds more than its limit:
 * a size class with no page gets its first one past `-m` (as memcached's
 * do_slabs_newslab allows, so a set never waits on a page move), and this
 * drains and releases a page of another class afterwards, in slices, so
 * the store settles back to `-m` rather than `-m` plus a page per class
 * (issue #14: 70 pages at `-m 64` after a size shift). A no-op when under.
 */
export function fitTask(store: Store): () => boolean {
  return () =>
    store.stats.totalMalloced > store.limitBytes &&
    store.shrink(SHRINK_CHUNKS);
}

/**
 * One full pass of the expiry sweep, as memcached's LRU crawler does in its
 * own thread: the reply goes out at once, the pass runs in slices.
 */
function crawl(s: Session): void {
  const store = s.ctx.store;
  let chunks = 0;
  for (const c of store.classes()) chunks += c.pages * c.chunksPerPage;
  later(s, sweepTask(store, chunks));
}

/** flush_all [delay] [noreply]. */
export function flushAll(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n > 3) {
    reply(s, R.ERROR);
    return 0;
  }
  s.noreply = t.n > 1 && noreplyLast(buf, t);
  const ctx = s.ctx;
  ctx.counters.cmd_flush++;
  if (ctx.config.disableFlush) {
    reply(s, R.FLUSH_DISABLED);
    return 0;
  }
  let delay = 0;
  if (t.n !== (s.noreply ? 2 : 1)) {
    delay = parseInt32(buf, t.start[1], t.end[1]);
    if (Number.isNaN(delay)) {
      reply(s, R.BAD_EXPTIME);
      return 0;
    }
  }
  const now = ctx.clock.now();
  ctx.store.flushAll(
    delay > 0 ? absoluteExpiry(delay, now, ctx.started) : now,
  );
  reply(s, R.OK);
  return 0;
}

/** verbosity <level> [noreply]. */
export function verbosity(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n !== 2 && t.n !== 3) {
    reply(s, R.ERROR);
    return 0;
  }
  s.noreply = noreplyLast(buf, t);
  const v = parseUint32(buf, t.start[1], t.end[1]);
  if (Number.isNaN(v)) {
    reply(s, R.BAD_FORMAT);
    return 0;
  }
  s.ctx.verbose = Math.min(v, 2);
  // -t N: the other loops take it from the shared word on their next tick.
  const sh = s.ctx.counters.shared;
  if (sh !== undefined) Atomics.store(sh.ctl, CTL.VERBOSE, s.ctx.verbose);
  reply(s, R.OK);
  return 0;
}

/** shutdown [graceful]: only with `-A`. */
export function shutdown(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (!s.ctx.config.enableShutdown) {
    reply(s, R.SHUTDOWN_DISABLED);
    return 0;
  }
  if (t.n === 1 || (t.n === 2 && tokenIs(buf, t, 1, W.graceful))) {
    s.close = true;
    s.ctx.requestShutdown(t.n === 2);
    return 0;
  }
  reply(s, R.SHUTDOWN_MODE);
  return 0;
}

/** cache_memlimit <MB> [noreply]. */
export function memlimit(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n !== 2 && t.n !== 3) {
    reply(s, R.ERROR);
    return 0;
  }
  s.noreply = noreplyLast(buf, t);
  const mb = parseUint32(buf, t.start[1], t.end[1]);
  if (Number.isNaN(mb)) reply(s, R.ERROR);
  else if (mb < 8) reply(s, MEMLIMIT_SMALL);
  else if (mb > 1_000_000_000) reply(s, MEMLIMIT_BYTES);
  else {
    const store = s.ctx.store;
    if (store.setLimit(mb * 1024 * 1024, SHRINK_CHUNKS)) {
      later(s, () => store.shrink(SHRINK_CHUNKS));
    }
    s.ctx.config.memoryLimitMb = mb;
    reply(s, R.OK);
  }
  return 0;
}

/** slabs reassign <src> <dst> | slabs automove <0|1|2|ratio N>. */
export function slabs(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n === 4 && tokenIs(buf, t, 1, W.reassign)) {
    const src = parseInt32(buf, t.start[2], t.end[2]);
    const dst = parseInt32(buf, t.start[3], t.end[3]);
    if (Number.isNaN(src) || Number.isNaN(dst)) reply(s, R.BAD_FORMAT);
    else if (src === dst) reply(s, SAME);
    else if (src < -1 || src > 63 || dst < 1 || dst > 63) reply(s, BADCLASS);
    else reply(s, NOSPARE); // pages move between classes automatically here
    return 0;
  }
  if (t.n >= 3 && tokenIs(buf, t, 1, W.automove)) {
    s.noreply = noreplyLast(buf, t);
    if (tokenIs(buf, t, 2, W.ratio)) {
      if (
        t.n < 4 || Number.isNaN(Number(decodeToken(buf, t.start[3], t.end[3])))
      ) {
        reply(s, R.ERROR);
      } else reply(s, R.OK);
      return 0;
    }
    const level = parseUint32(buf, t.start[2], t.end[2]);
    if (Number.isNaN(level)) reply(s, R.BAD_FORMAT);
    else reply(s, level <= 2 ? R.OK : R.ERROR);
    return 0;
  }
  reply(s, R.ERROR);
  return 0;
}

/** lru tune|mode|temp_ttl ... */
export function lru(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n < 2) {
    reply(s, R.ERROR);
    return 0;
  }
  s.noreply = noreplyLast(buf, t);
  if (tokenIs(buf, t, 1, W.tune) && t.n >= 6) {
    const hot = parseUint32(buf, t.start[2], t.end[2]);
    const warm = parseUint32(buf, t.start[3], t.end[3]);
    const hf = Number(decodeToken(buf, t.start[4], t.end[4]));
    const f = Number(decodeToken(buf, t.start[5], t.end[5]));
    if ([hot, warm, hf, f].some(Number.isNaN)) reply(s, R.ERROR);
    else if (hot + warm > 80) reply(s, LRU_PCT);
    else if (hf <= 0 || f <= 0) reply(s, LRU_FACTOR);
    else reply(s, R.OK);
  } else if (tokenIs(buf, t, 1, W.mode) && t.n >= 3) {
    const ok = tokenIs(buf, t, 2, W.flat) || tokenIs(buf, t, 2, W.segmented);
    reply(s, ok ? R.OK : R.ERROR);
  } else if (tokenIs(buf, t, 1, W.temp_ttl) && t.n >= 3) {
    reply(
      s,
      Number.isNaN(parseInt32(buf, t.start[2], t.end[2])) ? R.ERROR : R.OK,
    );
  } else reply(s, R.ERROR);
  return 0;
}

/** lru_crawler crawl|tocrawl|sleep|enable|disable|metadump. */
export function lruCrawler(s: Session, buf: Uint8Array): number {
  const t = s.t;
  if (t.n === 3 && tokenIs(buf, t, 1, W.crawl)) {
    if (tokenIs(buf, t, 2, W.all)) {
      crawl(s);
      reply(s, R.OK);
      return 0;
    }
    const id = parseUint32(buf, t.start[2], t.end[2]);
    if (Number.isNaN(id) || id > 63) reply(s, BADCLASS_CRAWL);
    else {
      crawl(s);
      reply(s, R.OK);
    }
    return 0;
  }
  if (t.n === 3 && tokenIs(buf, t, 1, W.metadump)) {
    reply(s, METADUMP);
    return 0;
  }
  if (
    t.n === 3 && (tokenIs(buf, t, 1, W.tocrawl) || tokenIs(buf, t, 1, W.sleep))
  ) {
    const v = parseUint32(buf, t.start[2], t.end[2]);
    if (Number.isNaN(v)) reply(s, R.BAD_FORMAT);
    else if (tokenIs(buf, t, 1, W.sleep) && v > 1_000_000) reply(s, SLEEP);
    else reply(s, R.OK);
    return 0;
  }
  if (
    t.n === 2 && (tokenIs(buf, t, 1, W.enable) || tokenIs(buf, t, 1, W.disable))
  ) {
    reply(s, R.OK);
    return 0;
  }
  reply(s, R.ERROR);
  return 0;
}

/** watch: log streaming is not offered; memcached's "disabled" answer. */
export function watch(s: Session): number {
  reply(s, WATCH_DISABLED);
  return 0;
}

const dec = new TextDecoder();
function decodeToken(buf: Uint8Array, a: number, b: number): string {
  return dec.decode(buf.subarray(a, b));
}
