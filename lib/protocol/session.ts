/**
 * The per-connection protocol state machine. It is pure over bytes: `feed`
 * takes the unread input, appends replies to the session's output buffer and
 * returns how many input bytes it consumed. A command whose data block has not
 * fully arrived is left unconsumed ("need more"); the caller keeps the bytes
 * and feeds again when more arrive. It never touches sockets.
 * @module
 */

import type { Context } from "./context.ts";
import { createOutBuf, type OutBuf } from "./outbuf.ts";
import { createTokens, type Tokens } from "./tokens.ts";
import { dispatch } from "./dispatch.ts";
import { getMore } from "./text.ts";
import { recordLatency } from "../metrics/latency.ts";

/** Longest command line memcached buffers without a newline. */
export const MAX_LINE = 2048;
/** Longest get/gets line we buffer (memcached lets multigets grow unbounded). */
export const MAX_GET_LINE = 1024 * 1024;
/** Returned by handlers when the command's data block is incomplete. */
export const NEED_MORE = -1;
/**
 * Returned by a handler that answered part of its line and stopped because
 * the output passed `maxOutputBytes`; `feed` consumes up to `resumeAt`.
 */
export const PAUSE = -2;

/** State of one connection's protocol. */
export interface Session {
  ctx: Context;
  out: OutBuf;
  t: Tokens;
  /** The current command asked for no reply. */
  noreply: boolean;
  /** Bytes of a rejected data block still to discard. */
  swallow: number;
  /** Close after sending what is in `out`. */
  close: boolean;
  /** Connection id, for logs and `stats conns`. */
  id: number;
  /** False until ASCII auth succeeds, when `-Y` is on. */
  authed: boolean;
  /**
   * A multiget paused after its replies passed the output bound (so one line
   * naming a big value thousands of times is never buffered whole): 0 when
   * none, else 1 | 2 (gets) | 4 (gat/gats). The rest of its line holds the
   * remaining keys and is fed to `getMore`.
   */
  getMore: number;
  /** Expiry of the paused gat/gats. */
  getExp: number;
  /** Buffer offset up to which a PAUSE consumed the line. */
  resumeAt: number;
}

/** Creates the protocol state for a new connection. */
export function createSession(ctx: Context, id = 0): Session {
  return {
    ctx,
    out: createOutBuf(),
    t: createTokens(),
    noreply: false,
    swallow: 0,
    close: false,
    id,
    authed: ctx.auth === null,
    getMore: 0,
    getExp: 0,
    resumeAt: 0,
  };
}

/**
 * Processes as many complete commands from `buf[start, end)` as possible and
 * returns the number of bytes consumed. Stops early once the pending output
 * passes `ctx.config.maxOutputBytes` so the caller can flush it first.
 */
export function feed(
  s: Session,
  buf: Uint8Array,
  start: number,
  end: number,
): number {
  let p = start;
  const maxOut = s.ctx.config.maxOutputBytes;
  // Latency histograms (--metrics): null when off, so timing costs nothing.
  const lat = s.ctx.latency;
  const t0 = lat === null ? 0 : performance.now();
  while (p < end && !s.close) {
    if (s.out.len > maxOut) break;
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
    const more = s.getMore;
    const r = more !== 0
      ? getMore(s, buf, p, le)
      : dispatch(s, buf, p, le, nl + 1, end);
    if (r === NEED_MORE) break;
    if (lat !== null) recordLatency(lat, buf, p, le, more, t0);
    if (r === PAUSE) {
      p = s.resumeAt; // the output check above stops us until it is sent
      continue;
    }
    p = nl + 1 + r;
  }
  return p - start;
}

/** Whether the pending line starts (after at most 100 spaces) with `get `/`gets `. */
function isGetLine(buf: Uint8Array, p: number, end: number): boolean {
  let i = p;
  while (i < end && buf[i] === 32) i++;
  if (i - p > 100 || end - i < 5) return false;
  if (buf[i] !== 103 || buf[i + 1] !== 101 || buf[i + 2] !== 116) return false;
  return buf[i + 3] === 32 || (buf[i + 3] === 115 && buf[i + 4] === 32);
}
