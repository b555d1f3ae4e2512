/**
 * Version, NoOp, Quit, Flush and Stat (and quiet forms) for the binary
 * protocol. Stat sends one packet per statistic (key = name, value = text)
 * and an empty packet to end, from the same rows the text `stats` prints.
 * @module
 */

import { resetCounters } from "../counters.ts";
import { absoluteExpiry } from "../exptime.ts";
import { VERSION } from "../context.ts";
import { classRows, generalStats, type Row, settingsStats } from "../stats.ts";
import type { Session } from "../types.ts";
import { St } from "./constants.ts";
import { error, statEnd, statPacket, success } from "./encode.ts";
import { type BinRequest, u32 } from "./request.ts";

const VERSION_BYTES = new TextEncoder().encode(VERSION);

/** Version: memcached's version string as the body. */
export function version(s: Session, r: BinRequest): number {
  success(s, r, 0, VERSION_BYTES);
  return 0;
}

/** NoOp: an empty success; it is how clients end a run of quiet commands. */
export function noop(s: Session, r: BinRequest): number {
  success(s, r, 0);
  return 0;
}

/** Quit (QuitQ: silently): replies, then closes. */
export function quit(s: Session, r: BinRequest): number {
  success(s, r, 0);
  s.close = true;
  return 0;
}

/** Flush with an optional 4-byte delay; `-F` answers Auth failure, uncounted. */
export function flush(s: Session, buf: Uint8Array, r: BinRequest): number {
  const ctx = s.ctx;
  if (ctx.config.disableFlush) {
    error(s, r, St.AuthError);
    return 0;
  }
  const delay = r.extlen === 4 ? u32(buf, r.es) : 0;
  const now = ctx.clock.now();
  ctx.store.flushAll(
    delay > 0 ? absoluteExpiry(delay, now, ctx.started) : now,
  );
  ctx.counters.cmd_flush++;
  success(s, r, 0);
  return 0;
}

/**
 * Whether `word` is at `buf[p]`. memcached compares the stat key with
 * strncmp over the word's length, so a shorter key is compared against the
 * bytes that follow it; so do we, within the input.
 */
function wordAt(
  buf: Uint8Array,
  p: number,
  end: number,
  word: string,
): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) {
    if (buf[p + i] !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether the key is exactly `word`. */
function keyIs(buf: Uint8Array, r: BinRequest, word: string): boolean {
  return r.keylen === word.length && wordAt(buf, r.ks, r.vs, word);
}

function rows(s: Session, r: BinRequest, list: Row[]): void {
  for (const [k, v] of list) statPacket(s, r, k, String(v));
}

/** Stat: all, or the group the key names (memcached's process_bin_stat). */
export function stat(
  s: Session,
  buf: Uint8Array,
  end: number,
  r: BinRequest,
): number {
  const ks = r.ks;
  if (r.keylen === 0) rows(s, r, generalStats(s));
  else if (wordAt(buf, ks, end, "reset")) {
    resetCounters(s.ctx.counters);
    s.ctx.store.resetStats();
  } else if (wordAt(buf, ks, end, "settings")) rows(s, r, settingsStats(s));
  else if (wordAt(buf, ks, end, "detail")) {
    if (wordAt(buf, ks + 6, end, " dump")) {
      statPacket(s, r, "detailed", "END\r\n"); // prefix stats are not kept
    } else if (
      !wordAt(buf, ks + 6, end, " on") && !wordAt(buf, ks + 6, end, " off")
    ) {
      error(s, r, St.KeyEnoent);
      return 0;
    }
  } else {
    // memcached's get_stats: these groups end themselves (or, for
    // sizes_enable/disable, do not end at all).
    if (keyIs(buf, r, "items")) rows(s, r, classRows(s, true));
    else if (keyIs(buf, r, "slabs")) rows(s, r, classRows(s, false));
    else if (keyIs(buf, r, "sizes")) {
      statPacket(s, r, "sizes_status", "disabled");
    } else if (
      keyIs(buf, r, "sizes_enable") || keyIs(buf, r, "sizes_disable")
    ) {
      statPacket(s, r, "sizes_status", "disabled");
      return 0;
    } else {
      error(s, r, St.KeyEnoent);
      return 0;
    }
  }
  statEnd(s, r);
  return 0;
}
