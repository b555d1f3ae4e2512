/**
 * Turns one command line into an action: the single place where command
 * names are recognised (memcached's process_command_ascii).
 * @module
 */

import { R, reply } from "./reply.ts";
import type { Session } from "./types.ts";
import { ascii, tokenIs, tokenize } from "./tokens.ts";
import * as text from "./text.ts";
import { statsCommand } from "./stats.ts";
import { metaCommand } from "./meta.ts";
import * as admin from "./admin.ts";

const W = {
  get: ascii("get"),
  gets: ascii("gets"),
  gat: ascii("gat"),
  gats: ascii("gats"),
  set: ascii("set"),
  stats: ascii("stats"),
  shutdown: ascii("shutdown"),
  slabs: ascii("slabs"),
  add: ascii("add"),
  append: ascii("append"),
  cas: ascii("cas"),
  cache_memlimit: ascii("cache_memlimit"),
  incr: ascii("incr"),
  decr: ascii("decr"),
  delete: ascii("delete"),
  touch: ascii("touch"),
  replace: ascii("replace"),
  prepend: ascii("prepend"),
  bget: ascii("bget"),
  flush_all: ascii("flush_all"),
  version: ascii("version"),
  quit: ascii("quit"),
  lru_crawler: ascii("lru_crawler"),
  watch: ascii("watch"),
  verbosity: ascii("verbosity"),
  lru: ascii("lru"),
  refresh_certs: ascii("refresh_certs"),
};
const TLS_OFF = new TextEncoder().encode("Error TLS not enabled\r\n");

const decoder = new TextDecoder();

/**
 * Runs the command on `buf[ls, le)` (the line without its newline); its data
 * block, if any, starts at `ds` and the input ends at `end`. Returns the bytes
 * consumed after the line, or NEED_MORE.
 */
export function dispatch(
  s: Session,
  buf: Uint8Array,
  ls: number,
  le: number,
  ds: number,
  end: number,
): number {
  s.noreply = false;
  if (s.ctx.verbose > 1 && !s.logged) {
    // Once per command: a set whose data is still coming is run again on
    // each read, but memcached logs the line once.
    s.logged = true;
    console.error(`<${s.id} ${decoder.decode(buf.subarray(ls, le))}`);
  }
  if (!s.authed) return admin.authCommand(s, buf, ls, le, ds, end);
  const t = s.t;
  tokenize(buf, ls, le, t);
  if (t.n < 1 || t.end[0] - t.start[0] < 2) {
    reply(s, R.ERROR);
    return 0;
  }
  const c0 = buf[t.start[0]];
  const len0 = t.end[0] - t.start[0];
  if (c0 === 109 && len0 === 2) return metaCommand(s, buf, t, ds, end); // m?
  switch (c0) {
    case 103: // g
      if (t.n < 2) break;
      if (tokenIs(buf, t, 0, W.get)) return text.get(s, buf, le, false, false);
      if (tokenIs(buf, t, 0, W.gets)) return text.get(s, buf, le, true, false);
      if (tokenIs(buf, t, 0, W.gat)) return text.get(s, buf, le, false, true);
      if (tokenIs(buf, t, 0, W.gats)) return text.get(s, buf, le, true, true);
      break;
    case 115: // s
      if (tokenIs(buf, t, 0, W.set)) return text.update(s, buf, 0, ds, end);
      if (tokenIs(buf, t, 0, W.stats)) return statsCommand(s, buf);
      if (tokenIs(buf, t, 0, W.shutdown)) return admin.shutdown(s, buf);
      if (tokenIs(buf, t, 0, W.slabs)) return admin.slabs(s, buf);
      break;
    case 97: // a
      if (tokenIs(buf, t, 0, W.add)) return text.update(s, buf, 1, ds, end);
      if (tokenIs(buf, t, 0, W.append)) return text.update(s, buf, 3, ds, end);
      break;
    case 99: // c
      if (tokenIs(buf, t, 0, W.cas)) return text.update(s, buf, 5, ds, end);
      if (tokenIs(buf, t, 0, W.cache_memlimit)) return admin.memlimit(s, buf);
      break;
    case 105: // i
      if (tokenIs(buf, t, 0, W.incr)) return text.arith(s, buf, true);
      break;
    case 100: // d
      if (tokenIs(buf, t, 0, W.delete)) return text.del(s, buf);
      if (tokenIs(buf, t, 0, W.decr)) return text.arith(s, buf, false);
      break;
    case 116: // t
      if (tokenIs(buf, t, 0, W.touch)) return text.touch(s, buf);
      break;
    default:
      if (tokenIs(buf, t, 0, W.replace)) return text.update(s, buf, 2, ds, end);
      if (tokenIs(buf, t, 0, W.prepend)) return text.update(s, buf, 4, ds, end);
      if (tokenIs(buf, t, 0, W.bget)) {
        if (t.n < 2) break;
        return text.get(s, buf, le, false, false);
      }
      if (tokenIs(buf, t, 0, W.flush_all)) return admin.flushAll(s, buf);
      if (tokenIs(buf, t, 0, W.version)) {
        reply(s, R.VERSION);
        return 0;
      }
      if (tokenIs(buf, t, 0, W.quit)) {
        s.close = true;
        return 0;
      }
      if (tokenIs(buf, t, 0, W.lru_crawler)) return admin.lruCrawler(s, buf);
      if (tokenIs(buf, t, 0, W.watch)) return admin.watch(s);
      if (tokenIs(buf, t, 0, W.verbosity)) return admin.verbosity(s, buf);
      if (tokenIs(buf, t, 0, W.lru)) return admin.lru(s, buf);
      if (tokenIs(buf, t, 0, W.refresh_certs) && s.ctx.config.tls === null) {
        // Certificates are read once at start; without TLS, memcached's reply.
        reply(s, TLS_OFF);
        return 0;
      }
      return unknown(s, buf);
  }
  reply(s, R.ERROR);
  return 0;
}

/** Unknown command: `ERROR`, or a silent close for stray HTTP requests. */
function unknown(s: Session, buf: Uint8Array): number {
  const t = s.t;
  const k = t.n - 1;
  const st = t.start[k];
  if (
    t.end[k] - st >= 5 && buf[st] === 72 && buf[st + 1] === 84 &&
    buf[st + 2] === 84 && buf[st + 3] === 80 && buf[st + 4] === 47
  ) {
    s.close = true;
    return 0;
  }
  reply(s, R.ERROR);
  return 0;
}
