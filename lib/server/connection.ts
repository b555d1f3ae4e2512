/**
 * One client connection: a buffered byte reader over `conn.read()` feeding
 * the protocol state machine, and one socket write per batch of replies.
 * Backpressure: input is only read again once all replies produced so far
 * have been written, and the state machine stops producing once its output
 * passes a bound, so a client that never reads cannot grow our memory.
 * @module
 */

import type { ConnInfo, Context } from "../protocol/context.ts";
import { shrink } from "../protocol/outbuf.ts";
import { feed, type Session } from "../protocol/session.ts";

const INITIAL = 16 * 1024;
/** Input buffers larger than this are released when they empty. */
const KEEP = 256 * 1024;

/** A live connection as the server tracks it. */
export interface Client {
  info: ConnInfo;
  conn: Deno.Conn;
  session: Session;
  /** True while blocked in read with nothing pending: safe to close at once. */
  idle: boolean;
  /** The server asked this connection to finish and close. */
  closing: boolean;
  /** Unix seconds (server clock) of the last bytes received. */
  lastActive: number;
}

/** Serves `conn` until the client leaves, quits or the server stops it. */
export async function serveClient(client: Client, ctx: Context): Promise<void> {
  const { conn, session: s } = client;
  const c = ctx.counters;
  let buf = new Uint8Array(INITIAL);
  let start = 0;
  let end = 0;
  try {
    while (!s.close && !client.closing) {
      if (end === buf.length) {
        if (start > 0) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        } else {
          const nb = new Uint8Array(buf.length * 2);
          nb.set(buf);
          buf = nb;
        }
      }
      client.idle = true;
      client.info.state = "conn_waiting";
      // Usually everything was consumed: read into the whole buffer without
      // making a view.
      const n = await conn.read(end === 0 ? buf : buf.subarray(end));
      client.idle = false;
      if (n === null) break;
      ctx.tick();
      client.lastActive = ctx.clock.now();
      client.info.state = "conn_parse_cmd";
      end += n;
      c.bytes_read += n;
      for (;;) {
        const used = feed(s, buf, start, end);
        start += used;
        if (s.out.len > 0) {
          client.info.state = "conn_mwrite";
          await writeAll(conn, s.out.buf, s.out.len);
          c.bytes_written += s.out.len;
          s.out.len = 0;
          shrink(s.out);
        }
        if (used === 0 || start === end || s.close) break;
        c.conn_yields++;
      }
      client.info.lastCmd = ctx.clock.now();
      if (start === end) {
        start = end = 0;
        if (buf.length > KEEP) buf = new Uint8Array(INITIAL);
      }
    }
  } catch (_e) {
    // Reset, broken pipe, or closed by the server: the client is gone.
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array, len: number) {
  let off = 0;
  while (off < len) {
    off += await conn.write(
      off === 0 && len === b.length ? b : b.subarray(off, len),
    );
  }
}
