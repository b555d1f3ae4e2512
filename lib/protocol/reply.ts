/**
 * Constant reply lines and the noreply-aware reply helper.
 * @module
 */

import type { Session } from "./types.ts";
import { line, putBytes } from "./outbuf.ts";

/** Pre-encoded reply lines (each with its `\r\n`). */
export const R = {
  ERROR: line("ERROR"),
  STORED: line("STORED"),
  NOT_STORED: line("NOT_STORED"),
  EXISTS: line("EXISTS"),
  NOT_FOUND: line("NOT_FOUND"),
  DELETED: line("DELETED"),
  TOUCHED: line("TOUCHED"),
  OK: line("OK"),
  END: line("END"),
  RESET: line("RESET"),
  BAD_FORMAT: line("CLIENT_ERROR bad command line format"),
  BAD_CHUNK: line("CLIENT_ERROR bad data chunk"),
  BAD_EXPTIME: line("CLIENT_ERROR invalid exptime argument"),
  BAD_DELTA: line("CLIENT_ERROR invalid numeric delta argument"),
  NON_NUMERIC: line(
    "CLIENT_ERROR cannot increment or decrement non-numeric value",
  ),
  DELETE_USAGE: line(
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
  ),
  TOO_LARGE: line("SERVER_ERROR object too large for cache"),
  OOM_STORE: line("SERVER_ERROR out of memory storing object"),
  OOM: line("SERVER_ERROR out of memory"),
  FLUSH_DISABLED: line("CLIENT_ERROR flush_all not allowed"),
  SHUTDOWN_DISABLED: line("ERROR: shutdown not enabled"),
  SHUTDOWN_MODE: line("CLIENT_ERROR invalid shutdown mode"),
  VERSION: line("VERSION 1.6.18"),
  VALUE: new TextEncoder().encode("VALUE "),
};

/**
 * Sends a whole reply line unless the command said noreply — memcached's
 * out_string: noreply swallows exactly one reply, errors included.
 */
export function reply(s: Session, bytes: Uint8Array): void {
  if (s.noreply) {
    s.noreply = false;
    if (s.ctx.verbose > 1) logReply(s, bytes, "NOREPLY ");
    return;
  }
  if (s.ctx.verbose > 1) logReply(s, bytes);
  putBytes(s.out, bytes);
}

const decoder = new TextDecoder();

/** -vv: `>ID REPLY` on stderr, as memcached's out_string prints it. */
export function logReply(s: Session, bytes: Uint8Array, tag = ""): void {
  const end = bytes.length >= 2 && bytes[bytes.length - 2] === 13
    ? bytes.length - 2
    : bytes.length;
  console.error(`>${s.id} ${tag}${decoder.decode(bytes.subarray(0, end))}`);
}
