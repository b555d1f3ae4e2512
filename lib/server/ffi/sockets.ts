/**
 * Listening sockets and socket addresses for the epoll backend: TCP over
 * IPv4/IPv6 literals (and `localhost`), unix sockets, and the peer address
 * text that `stats conns` shows. All sockets are non-blocking, close-on-exec.
 * @module
 */

import { C, cString, type Libc } from "./libc.ts";

/** Linux's SO_REUSEPORT: several sockets, one per loop, on one port (`-t N`). */
export const SO_REUSEPORT = 15;

/** Linux's EPOLLEXCLUSIVE: one waiter woken per event on a shared fd. */
export const EPOLLEXCLUSIVE = 1 << 28;

/** sockaddr_storage size; big enough for every family we accept. */
export const SOCKADDR_SIZE = 128;

function fail(libc: Libc, what: string): never {
  const e = libc.errno();
  throw new Error(`${what}: ${libc.strerror(e)} (os error ${e})`);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** Builds the sockaddr for a numeric host, or throws a clear error. */
function sockaddr(libc: Libc, host: string, port: number): Uint8Array {
  const h = host === "localhost" ? "127.0.0.1" : host.replace(/^\[|\]$/g, "");
  const v6 = h.includes(":");
  const sa = new Uint8Array(v6 ? 28 : 16);
  const dv = new DataView(sa.buffer);
  dv.setUint16(0, v6 ? C.AF_INET6 : C.AF_INET, true);
  dv.setUint16(2, port, false);
  const dst = sa.subarray(v6 ? 8 : 4, v6 ? 24 : 8);
  if (libc.sym.inet_pton(v6 ? C.AF_INET6 : C.AF_INET, cString(h), dst) !== 1) {
    throw new Error(
      `--io=epoll needs a numeric -l address (or localhost), got '${host}'`,
    );
  }
  return sa;
}

/** How {@link listenTcp} sets a socket up. */
export interface TcpOptions {
  /** Set SO_REUSEPORT, so every loop of `-t N` binds its own socket. */
  reusePort?: boolean;
  /**
   * Bind only, never listen: the main thread's reservation of the port
   * (port 0 resolved, a clash reported once) that receives no connections.
   */
  bindOnly?: boolean;
}

/** Opens a non-blocking TCP listener; returns its fd and bound port. */
export function listenTcp(
  libc: Libc,
  host: string,
  port: number,
  opts: TcpOptions = {},
): { fd: number; port: number } {
  const s = libc.sym;
  const sa = sockaddr(libc, host, port);
  const fam = new DataView(sa.buffer).getUint16(0, true);
  const fd = s.socket(fam, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
  if (fd < 0) fail(libc, "socket");
  try {
    s.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, u32(1), 4);
    if (
      opts.reusePort &&
      s.setsockopt(fd, C.SOL_SOCKET, SO_REUSEPORT, u32(1), 4) < 0
    ) fail(libc, "setsockopt SO_REUSEPORT");
    if (s.bind(fd, sa, sa.length) < 0) fail(libc, `bind ${host}:${port}`);
    if (!opts.bindOnly && s.listen(fd, 1024) < 0) fail(libc, "listen");
    const got = new Uint8Array(SOCKADDR_SIZE);
    const len = u32(SOCKADDR_SIZE);
    if (s.getsockname(fd, got, len) < 0) fail(libc, "getsockname");
    return { fd, port: new DataView(got.buffer).getUint16(2, false) };
  } catch (e) {
    s.close(fd);
    throw e;
  }
}

/** Opens a non-blocking unix-socket listener at `path` with mode `mask`. */
export function listenUnix(libc: Libc, path: string, mask: number): number {
  const s = libc.sym;
  const p = cString(path);
  if (p.length > 108) throw new Error(`unix socket path too long: ${path}`);
  try {
    // Like the portable server: replace a stale socket, never another file.
    if (Deno.lstatSync(path).isSocket) s.unlink(p);
  } catch {
    // nothing there (or no --allow-read: bind reports a clash)
  }
  const sa = new Uint8Array(110);
  new DataView(sa.buffer).setUint16(0, C.AF_UNIX, true);
  sa.set(p, 2);
  const fd = s.socket(
    C.AF_UNIX,
    C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC,
    0,
  );
  if (fd < 0) fail(libc, "socket");
  try {
    if (s.bind(fd, sa, 2 + p.length) < 0) fail(libc, `bind ${path}`);
    if (s.listen(fd, 1024) < 0) fail(libc, "listen");
    if (s.chmod(p, mask) < 0) fail(libc, `chmod ${path}`);
    return fd;
  } catch (e) {
    s.close(fd);
    throw e;
  }
}

/** Removes a unix socket file, ignoring errors. */
export function unlinkPath(libc: Libc, path: string): void {
  libc.sym.unlink(cString(path));
}

/** `host:port` of an accepted peer (`[v6]:port` for IPv6), as `stats conns` shows it. */
export function peerName(sa: Uint8Array): string {
  const dv = new DataView(sa.buffer, sa.byteOffset);
  const fam = dv.getUint16(0, true);
  const port = dv.getUint16(2, false);
  if (fam === C.AF_INET) return `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}:${port}`;
  if (fam !== C.AF_INET6) return "unknown";
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(dv.getUint16(8 + 2 * i, false));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    // IPv4-mapped: show the IPv4 form, as Deno does.
    return `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}:${port}`;
  }
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) (best = i), (bestLen = j - i);
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  const text = best < 0
    ? hex.join(":")
    : `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
  return `[${text}]:${port}`; // as memcached prints an IPv6 peer
}
