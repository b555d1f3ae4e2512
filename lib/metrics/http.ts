/**
 * A deliberately small HTTP/1.1 server for the metrics listener, on
 * `Deno.listen` (only `--allow-net`): GET/HEAD, one request per
 * connection (`Connection: close`), with hard limits so that no HTTP
 * client can hurt the cache clients sharing the event loop:
 *
 * - at most `maxConnections` at once; past that a connection gets a 503
 *   and is closed without reading from it;
 * - request head at most {@link MAX_HEAD} bytes (else 431);
 * - every connection closed {@link DEADLINE_MS} after it was accepted,
 *   whatever state it is in (a client that never sends, or never reads
 *   its response, only holds its own socket until then);
 * - all socket I/O is asynchronous and a response is produced by one
 *   synchronous call of bounded size, so a slow client never blocks the
 *   loop: it only waits for its own promise.
 * @module
 */

/** Largest request line + headers accepted. */
export const MAX_HEAD = 8 * 1024;
/** Lifetime of one connection. */
export const DEADLINE_MS = 10_000;

/** What a handler returns. */
export interface HttpResponse {
  status: number;
  contentType: string;
  body: string | Uint8Array;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** Answers one request (method is GET or HEAD, path without the query). */
export type Handler = (path: string, query: string) => HttpResponse;

/** A running HTTP listener. */
export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Connections being served now. */
  active(): number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

const enc = new TextEncoder();
const BUSY = head(503, "text/plain; charset=utf-8", 5, {}) + "busy\n";

function head(
  status: number,
  type: string,
  length: number,
  extra: Record<string, string>,
): string {
  let h = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n` +
    `Content-Type: ${type}\r\nContent-Length: ${length}\r\n` +
    "Connection: close\r\nCache-Control: no-store\r\n" +
    "X-Content-Type-Options: nosniff\r\n";
  for (const [k, v] of Object.entries(extra)) h += `${k}: ${v}\r\n`;
  return h + "\r\n";
}

/** Binds `hostname:port` (throws if it cannot) and serves `handler`. */
export function serveHttp(
  hostname: string,
  port: number,
  maxConnections: number,
  handler: Handler,
): HttpServer {
  const listener = Deno.listen({ hostname, port });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let closed = false;

  async function acceptLoop(): Promise<void> {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (closed || e instanceof Deno.errors.BadResource) return;
        await new Promise((r) => setTimeout(r, 50)); // EMFILE: back off
        continue;
      }
      const over = conns.size >= maxConnections;
      conns.add(conn);
      const task = (over ? refuse(conn) : serveOne(conn, handler)).finally(
        () => {
          conns.delete(conn);
          tasks.delete(task);
        },
      );
      tasks.add(task);
    }
  }
  const loop = acceptLoop();

  return {
    hostname,
    port: (listener.addr as Deno.NetAddr).port,
    active: () => conns.size,
    async close() {
      if (closed) return;
      closed = true;
      quietly(() => listener.close());
      for (const c of conns) quietly(() => c.close());
      await Promise.allSettled([loop, ...tasks]);
    },
  };
}

async function refuse(conn: Deno.Conn): Promise<void> {
  const timer = setTimeout(() => quietly(() => conn.close()), 1000);
  try {
    await writeAll(conn, enc.encode(BUSY));
  } catch {
    // gone
  } finally {
    clearTimeout(timer);
    quietly(() => conn.close());
  }
}

async function serveOne(conn: Deno.Conn, handler: Handler): Promise<void> {
  // The deadline closes the socket, which fails any pending read or write.
  const timer = setTimeout(() => quietly(() => conn.close()), DEADLINE_MS);
  try {
    const req = await readHead(conn);
    let res: HttpResponse;
    let headOnly = false;
    if (req === null) return;
    if (req === "too large") {
      res = text(431, "request head too large\n");
    } else {
      const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(req);
      if (!m) res = text(400, "bad request\n");
      else if (m[1] !== "GET" && m[1] !== "HEAD") {
        res = text(405, "only GET and HEAD\n");
        res.headers = { Allow: "GET, HEAD" };
      } else {
        headOnly = m[1] === "HEAD";
        const q = m[2].indexOf("?");
        const path = q < 0 ? m[2] : m[2].slice(0, q);
        const query = q < 0 ? "" : m[2].slice(q + 1);
        try {
          res = handler(path, query);
        } catch (e) {
          res = text(503, `error: ${(e as Error).message}\n`);
        }
      }
    }
    const body = typeof res.body === "string" ? enc.encode(res.body) : res.body;
    const h = enc.encode(
      head(res.status, res.contentType, body.length, res.headers ?? {}),
    );
    if (headOnly || body.length === 0) await writeAll(conn, h);
    else {
      const all = new Uint8Array(h.length + body.length);
      all.set(h);
      all.set(body, h.length);
      await writeAll(conn, all);
    }
  } catch {
    // reset, closed by the deadline or by close()
  } finally {
    clearTimeout(timer);
    quietly(() => conn.close());
  }
}

/** Plain-text response. */
export function text(status: number, body: string): HttpResponse {
  return { status, contentType: "text/plain; charset=utf-8", body };
}

/** Reads up to the end of the headers; returns the request line. */
async function readHead(conn: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(MAX_HEAD);
  let len = 0;
  for (;;) {
    if (len === buf.length) return "too large";
    const n = await conn.read(buf.subarray(len));
    if (n === null) return null;
    const from = Math.max(0, len - 3);
    len += n;
    for (let i = from; i + 3 < len; i++) {
      if (
        buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
        buf[i + 3] === 10
      ) {
        const headText = new TextDecoder().decode(buf.subarray(0, i));
        return headText.split("\r\n")[0];
      }
    }
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

function quietly(f: () => void): void {
  try {
    f();
  } catch {
    // already closed
  }
}
