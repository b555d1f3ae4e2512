/**
 * Meta commands (mg, ms, md, ma, mn, me). Placeholder until the meta
 * protocol lands.
 * @module
 */

import { R, reply } from "./reply.ts";
import type { Session } from "./session.ts";
import type { Tokens } from "./tokens.ts";

/** Runs a meta command; returns bytes consumed after the line or NEED_MORE. */
export function metaCommand(
  s: Session,
  _buf: Uint8Array,
  _t: Tokens,
  _ds: number,
  _end: number,
): number {
  reply(s, R.ERROR);
  return 0;
}
