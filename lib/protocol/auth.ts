/**
 * memcached's ASCII authentication (`-Y`): until a client authenticates,
 * the only command understood is `set <any> <any> <any> <len>` whose data
 * block is `<user> <password>`; anything else gets `CLIENT_ERROR
 * unauthenticated`.
 * @module
 */

import { line } from "./outbuf.ts";
import { R, reply } from "./reply.ts";
import { NEED_MORE, type Session } from "./types.ts";
import { ascii, parseUint32, tokenIs, tokenize } from "./tokens.ts";

const UNAUTH = line("CLIENT_ERROR unauthenticated");
const BAD_TERM = line("CLIENT_ERROR bad command line termination");
const BAD_TOKEN = line("CLIENT_ERROR bad authentication token format");
const FAILURE = line("CLIENT_ERROR authentication failure");
const SET = ascii("set");

/** Handles one command line of a connection that has not authenticated. */
export function authCommand(
  s: Session,
  buf: Uint8Array,
  ls: number,
  le: number,
  ds: number,
  end: number,
): number {
  const t = s.t;
  tokenize(buf, ls, le, t);
  const size = t.n >= 5 ? parseUint32(buf, t.start[4], t.end[4]) : NaN;
  if (t.n < 5 || !tokenIs(buf, t, 0, SET) || Number.isNaN(size)) {
    reply(s, UNAUTH);
    return 0;
  }
  if (end - ds < size + 2) {
    // Bound what an unauthenticated client can make us buffer.
    if (size > 4096) {
      reply(s, UNAUTH);
      s.close = true;
      return 0;
    }
    return NEED_MORE;
  }
  const ctx = s.ctx;
  if (buf[ds + size] !== 13 || buf[ds + size + 1] !== 10) {
    reply(s, BAD_TERM);
    return size + 2;
  }
  tokenize(buf, ds, ds + size, t);
  if (t.n < 2) {
    reply(s, BAD_TOKEN);
    return size + 2;
  }
  const user = buf.subarray(t.start[0], t.end[0]);
  const pass = buf.subarray(t.start[1], t.end[1]);
  ctx.counters.auth_cmds++; // memcached counts only completed checks
  if (ctx.auth !== null && ctx.auth(user, pass)) {
    s.authed = true;
    reply(s, R.STORED);
  } else {
    ctx.counters.auth_errors++;
    reply(s, FAILURE);
  }
  return size + 2;
}
