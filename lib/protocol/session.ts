/**
 * The per-connection protocol state machine. It is pure over bytes: `feed`
 * takes the unread input, appends replies to the session's output buffer and
 * returns how many input bytes it consumed. A command whose data block has not
 * fully arrived is left unconsumed ("need more"); the caller keeps the bytes
 * and feeds again when more arrive. It never touches sockets.
 *
 * A connection's first byte picks its protocol for life, as in memcached:
 * 0x80 is the binary protocol, anything else text and meta (`-B`, or a
 * listener's `proto[...]`, can pin one of them).
 * @module
 */

import { newResult } from "../store/types.ts";
import type { Context } from "./context.ts";
import type { Config } from "../config.ts";
import { createOutBuf } from "./outbuf.ts";
import { createTokens } from "./tokens.ts";
import { dispatch } from "./dispatch.ts";
import { drainSink } from "./sink.ts";
import { getMore } from "./text.ts";
import { dumpMore } from "./stats.ts";
import { feedBinary } from "./binary/feed.ts";
import { beginBatch, countCommand, endBatch } from "../metrics/latency.ts";
import { BIN_REQ } from "./binary/constants.ts";
import {
  DUMP_MORE,
  MAX_GET_LINE,
  MAX_LINE,
  NEED_MORE,
  PAUSE,
  Proto,
  type Session,
} from "./types.ts";

export { MAX_GET_LINE, MAX_LINE, NEED_MORE, PAUSE, Proto };
export type { Session };

/**
 * Creates the protocol state for a new connection; `bind` is its
 * listener's protocol (`-l proto[...]:`), else `-B`'s.
 */
export function createSession(
  ctx: Context,
  id = 0,
  bind: Config["protocol"] = ctx.config.protocol,
): Session {
  return {
    ctx,
    out: createOutBuf(0), // its buffer comes with its first reply
    t: createTokens(),
    proto: bind === "ascii"
      ? Proto.Text
      : bind === "binary"
      ? Proto.Binary
      : Proto.Negotiating,
    noreply: false,
    swallow: 0,
    close: false,
    id,
    authed: ctx.auth === null && ctx.sasl === null,
    getMore: 0,
    dump: null,
    getExp: 0,
    resumeAt: 0,
    saslStarted: false,
    saslDone: false,
    logged: false,
    res: newResult(),
    outLimit: ctx.config.maxOutputBytes,
    lineStart: 0,
    input: always,
    sink: null,
    charge: always,
  };
}

function always(): boolean {
  return true;
}

/**
 * Processes as many complete commands from `buf[start, end)` as possible and
 * returns the number of bytes consumed. Stops early once the pending output
 * passes `s.outLimit` so the caller can flush it first.
 */
export function feed(
  s: Session,
  buf: Uint8Array,
  start: number,
  end: number,
): number {
  if (s.proto !== Proto.Text) {
    if (s.proto === Proto.Negotiating) {
      if (start >= end) return 0;
      s.proto = buf[start] === BIN_REQ ? Proto.Binary : Proto.Text;
      if (s.ctx.verbose > 1) {
        console.error(
          `${s.id}: Client using the ${
            s.proto === Proto.Binary ? "binary" : "ascii"
          } protocol`,
        );
      }
    }
    if (s.proto === Proto.Binary) return feedBinary(s, buf, start, end);
  }
  let p = start;
  const maxOut = s.outLimit;
  // Latency histograms (--metrics): null when off, so timing costs nothing.
  const lat = s.ctx.latency;
  const t0 = lat === null ? 0 : beginBatch(lat);
  while (p < end && !s.close) {
    if (s.out.len + s.out.refBytes > maxOut) break;
    if (s.sink !== null) {
      p += drainSink(s, buf, p, end);
      continue;
    }
    if (s.swallow > 0) {
      const n = Math.min(s.swallow, end - p);
      s.swallow -= n;
      p += n;
      continue;
    }
    let nl = buf.indexOf(10, p);
    if (nl >= end) nl = -1;
    if (nl < 0) {
      const pending = end - p;
      if (
        pending > MAX_LINE &&
        !(s.authed && isGetLine(buf, p, end) && pending <= MAX_GET_LINE)
      ) {
        s.close = true; // memcached drops a client sending junk lines
      }
      break;
    }
    let le = nl;
    if (le - p > 1 && buf[le - 1] === 13) le--;
    s.lineStart = p;
    const more = s.getMore;
    const r = more === 0
      ? dispatch(s, buf, p, le, nl + 1, end)
      : more === DUMP_MORE
      ? dumpMore(s)
      : getMore(s, buf, p, le);
    if (r === NEED_MORE) break;
    s.logged = false;
    // A cachedump's later slices are the same command, counted once.
    if (lat !== null && more !== DUMP_MORE) {
      countCommand(lat, buf, p, le, more);
    }
    if (r === PAUSE) {
      p = s.resumeAt; // the output check above stops us until it is sent
      // The connection core feeds a sliced dump again in a later turn.
      if (s.getMore === DUMP_MORE) break;
      continue;
    }
    p = nl + 1 + r;
  }
  if (lat !== null) endBatch(lat, t0);
  return p - start;
}

/**
 * Whether feeding `buf[start, end)` now would only wait for more bytes of a
 * command line, given that `buf[start, from)` was already seen to hold no
 * newline: a text session between commands, no newline in the new bytes
 * `buf[from, end)` and a line still short enough to keep. Lets the core skip
 * `feed` (and its rescans of the whole partial line) on each byte a slow
 * client trickles in; only the new bytes are looked at.
 */
export function awaitsLine(
  s: Session,
  buf: Uint8Array,
  start: number,
  from: number,
  end: number,
): boolean {
  if (
    s.proto !== Proto.Text || s.swallow > 0 || s.getMore !== 0 || s.close ||
    s.sink !== null
  ) {
    return false;
  }
  for (let i = from; i < end; i++) if (buf[i] === 10) return false;
  const pending = end - start;
  return pending <= MAX_LINE ||
    (pending <= MAX_GET_LINE && s.authed && isGetLine(buf, start, end));
}

/** Whether the pending line starts (after at most 100 spaces) with `get `/`gets `. */
function isGetLine(buf: Uint8Array, p: number, end: number): boolean {
  let i = p;
  while (i < end && buf[i] === 32) i++;
  if (i - p > 100 || end - i < 5) return false;
  if (buf[i] !== 103 || buf[i + 1] !== 101 || buf[i + 2] !== 116) return false;
  return buf[i + 3] === 32 || (buf[i + 3] === 115 && buf[i + 4] === 32);
}
