/**
 * Shared test fixtures: in-process servers, raw socket clients, a real
 * memcached for differential tests, and tool lookup with skip messages.
 * @module
 */

import { type RunningServer, type ServerOptions, startServer } from "../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes a string as latin1 bytes (so "\x00".."\xff" map to single bytes). */
export function bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** Decodes bytes as latin1 (lossless, for comparing binary replies). */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, i + 8192));
  }
  return s;
}

/** Options of {@link withServer}: the fixture's, with any {@link Io}. */
export type TestServerOptions = Omit<ServerOptions, "io"> & { io?: Io };

/** Starts an in-process server, runs `fn`, and always closes it. */
export async function withServer<T>(
  opts: TestServerOptions,
  fn: (s: RunningServer) => Promise<T>,
): Promise<T> {
  const { io, ...rest } = opts;
  const s = await startServer({ port: 0, ...rest, ...serverIo(io) });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/**
 * The ways this process can serve: the portable transport, epoll, and
 * epoll with {@link THREADS} event loops over the shared store (`-t`).
 */
export type Io = "portable" | "epoll" | "threads";

/** Event loops of the "threads" variant (the issue asks for `-t 4`). */
export const THREADS = 4;

/** Fixture options for `io` (threads: epoll with {@link THREADS} loops). */
export function serverIo(
  io: Io | undefined,
): { io?: "portable" | "epoll"; threads?: number } {
  if (io === undefined) return {};
  return io === "threads" ? { io: "epoll", threads: THREADS } : { io };
}

/** Command-line flags for `io` (none when undefined). */
export function ioFlags(io: Io | undefined): string[] {
  if (io === undefined) return [];
  // epoll is the one-loop server: -t 1, whatever the default -t is here.
  return io === "threads"
    ? ["--io=epoll", "-t", String(THREADS)]
    : io === "epoll"
    ? ["--io=epoll", "-t", "1"]
    : [`--io=${io}`];
}

/**
 * Every transport the protocol and robustness suites run on: the portable
 * one always; epoll, and epoll with {@link THREADS} loops, on Linux
 * x86_64/aarch64 when `--allow-ffi` is granted (the test task grants it;
 * otherwise a SKIP line says so).
 */
export const TRANSPORTS: readonly Io[] = (() => {
  const linux = Deno.build.os === "linux" &&
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64");
  if (!linux) {
    console.log("SKIP: epoll transport runs on Linux x86_64/aarch64 only");
    return ["portable"] as Io[];
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    console.log("SKIP: epoll transport not tested: run with --allow-ffi");
    return ["portable"] as Io[];
  }
  return ["portable", "epoll", "threads"] as Io[];
})();

/**
 * Registers `fn` once per transport in {@link TRANSPORTS}: `name [io]`.
 * `threads: false` leaves out the `-t N` variant, for a test that needs
 * what one loop alone offers (an injected clock, in-process internals); it
 * must say why where it opts out.
 */
export function ioTest(
  name: string,
  fn: (io: Io) => Promise<void>,
  opts: { threads?: boolean } = {},
): void {
  for (const io of TRANSPORTS) {
    if (io === "threads" && opts.threads === false) continue;
    Deno.test(`${name} [${io}]`, () => fn(io));
  }
}

/**
 * Registers a differential test (against memcached) once on the default
 * server and once with {@link THREADS} loops where epoll runs: `name` and
 * `name [threads]`. `fn` gets the `io` to pass to {@link withServer}.
 */
export function diffTest(
  name: string,
  fn: (io: Io | undefined) => Promise<void>,
): void {
  Deno.test(name, () => fn(undefined));
  if (TRANSPORTS.includes("threads")) {
    Deno.test(`${name} [threads]`, () => fn("threads"));
  }
}

/** A raw TCP client that keeps everything it receives. */
export interface Raw {
  conn: Deno.Conn;
  /** Sends a latin1 string or bytes. */
  send(data: string | Uint8Array): Promise<void>;
  /** Reads until the received text ends with `suffix` (or times out). */
  until(suffix: string, timeoutMs?: number): Promise<string>;
  /** Reads until at least `n` bytes arrived (or times out). */
  readBytes(n: number, timeoutMs?: number): Promise<string>;
  /** Reads whatever arrives within `ms`. */
  drain(ms?: number): Promise<string>;
  /** Waits for the peer to close; true if it did within the timeout. */
  closed(timeoutMs?: number): Promise<boolean>;
  close(): void;
}

/** Connects a {@link Raw} client to 127.0.0.1:port (or a unix socket path). */
export async function raw(port: number | string): Promise<Raw> {
  const conn = typeof port === "number"
    ? await Deno.connect({ hostname: "127.0.0.1", port })
    : await Deno.connect({ transport: "unix", path: port });
  let got = "";
  let eof = false;
  let pending: Promise<void> | null = null;
  const chunk = new Uint8Array(64 * 1024);
  function pump(): Promise<void> {
    if (!pending) {
      pending = conn.read(chunk).then((n) => {
        if (n === null) eof = true;
        else got += latin1(chunk.subarray(0, n));
      }, () => {
        eof = true;
      }).finally(() => {
        pending = null;
      });
    }
    return pending;
  }
  async function waitFor(done: () => boolean, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (!done() && !eof) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        pump(),
        new Promise<void>((r) => (t = setTimeout(r, left))),
      ]);
      clearTimeout(t);
    }
  }
  function take(n: number): string {
    const out = got.slice(0, n);
    got = got.slice(n);
    return out;
  }
  let closedConn = false;
  return {
    conn,
    async send(data) {
      const b = typeof data === "string" ? bytes(data) : data;
      let off = 0;
      while (off < b.length) off += await conn.write(b.subarray(off));
    },
    async until(suffix, timeoutMs = 5000) {
      await waitFor(() => got.includes(suffix), timeoutMs);
      const i = got.indexOf(suffix);
      return i < 0 ? take(got.length) : take(i + suffix.length);
    },
    async readBytes(n, timeoutMs = 5000) {
      await waitFor(() => got.length >= n, timeoutMs);
      return take(Math.min(n, got.length));
    },
    async drain(ms = 200) {
      await waitFor(() => false, ms);
      return take(got.length);
    },
    async closed(timeoutMs = 3000) {
      await waitFor(() => false, timeoutMs);
      return eof;
    },
    close() {
      if (closedConn) return;
      closedConn = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
      // Let a read in flight settle so the op sanitizer sees it finish.
    },
  };
}

/**
 * Sends `script` on a fresh connection and returns everything received
 * until `suffix` (default: reply to a trailing `mn`/`version` sentinel).
 */
export async function roundTrip(
  port: number,
  script: string | Uint8Array,
  opts: { sentinel?: boolean; waitMs?: number } = {},
): Promise<string> {
  const c = await raw(port);
  try {
    if (opts.sentinel === false) {
      await c.send(script);
      return await c.drain(opts.waitMs ?? 300);
    }
    await c.send(script);
    await c.send("version\r\n");
    const out = await c.until("VERSION 1.6.18\r\n");
    return out.endsWith("VERSION 1.6.18\r\n")
      ? out.slice(0, -"VERSION 1.6.18\r\n".length)
      : out;
  } finally {
    c.close();
    await settle();
  }
}

/** Lets pending socket ops finish (keeps the op sanitizer happy). */
export function settle(ms = 20): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** Absolute path of `cmd` on PATH, or null. */
export function which(cmd: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${cmd}`;
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Prints a skip reason in a uniform way; returns true so callers can `return`. */
export function skip(why: string): true {
  console.log(`SKIP: ${why}`);
  return true;
}

/** A child process listening on a port. */
export interface External {
  port: number;
  child: Deno.ChildProcess;
  stop(): Promise<void>;
}

/** Waits until something accepts TCP connections on `port`. */
export async function waitListening(port: number, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listening on ${port}`);
}

/** Spawns `cmd args`, waits for `port`, and returns a handle to stop it. */
export async function spawnListening(
  cmd: string,
  args: string[],
  port: number,
): Promise<External> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeTo(new WritableStream()).catch(() => {});
  try {
    await waitListening(port);
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await stderr;
    throw e;
  }
  return {
    port,
    child,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await stderr;
    },
  };
}

/** Starts a real memcached on a free port, or returns null (with a SKIP line). */
export async function startMemcached(
  extra: string[] = [],
): Promise<External | null> {
  const bin = which("memcached");
  if (!bin) {
    skip("memcached not installed (apt-get install -y memcached)");
    return null;
  }
  const port = freePort();
  return await spawnListening(
    bin,
    [
      "-p",
      String(port),
      "-U",
      "0",
      "-l",
      "127.0.0.1",
      "-t",
      "1",
      "-u",
      "root",
      ...extra,
    ],
    port,
  );
}

/** Replaces every cas value in gets/mg replies with a stable placeholder by identity. */
export function normalizeCas(text: string): string {
  const ids = new Map<string, string>();
  const name = (v: string) => {
    if (!ids.has(v)) ids.set(v, `<cas${ids.size}>`);
    return ids.get(v)!;
  };
  return text
    .replace(
      /^(VALUE \S+ \d+ \d+) (\d+)\r$/gm,
      (_m, a, c) => `${a} ${name(c)}\r`,
    )
    .replace(/ c(\d+)(?=[ \r])/g, (_m, c) => ` c${name(c)}`);
}

export { dec as textDecoder, enc as textEncoder };

/**
 * Sends `text` to `host:port` (over TLS trusting `ca` when given) on a new
 * connection and reads until the reply ends with `suffix`.
 */
export async function ask(
  host: string,
  port: number,
  text: string,
  suffix = "END\r\n",
  tls: string | null = null,
): Promise<string> {
  const c = tls === null
    ? await Deno.connect({ hostname: host, port })
    : await Deno.connectTls({ hostname: host, port, caCerts: [tls] });
  try {
    await c.write(enc.encode(text));
    let out = "";
    const buf = new Uint8Array(65536);
    while (!out.endsWith(suffix)) {
      const n = await c.read(buf);
      if (n === null) break;
      out += dec.decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    c.close();
    await settle();
  }
}
