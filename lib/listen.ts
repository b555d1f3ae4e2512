/**
 * memcached's `-l` list: interfaces separated by `,` or `;`, each
 * `[notls:]HOST[:PORT]` with IPv6 literals in brackets (`[::1]:11212`) or
 * bare without a port (`::1`). An entry without a port uses `-p`. With
 * `-Z`, a `notls:` entry serves plain TCP while the others serve TLS.
 * Pure: parsing only.
 * @module
 */

/** One interface to listen on. */
export interface ListenAddr {
  /** Host as Deno and inet_pton take it (IPv6 without brackets). */
  host: string;
  port: number;
  /** `notls:` prefix: plain TCP even with `-Z`. */
  notls: boolean;
}

/**
 * Parses a `-l` value; entries without a port get `port`. Returns the
 * list, or an error message (memcached's wording where it has one).
 */
export function parseListen(
  spec: string,
  port: number,
): ListenAddr[] | string {
  const out: ListenAddr[] = [];
  for (let p of spec.split(/[,;]/)) {
    if (p === "") continue;
    let notls = false;
    if (p.startsWith("notls:")) {
      notls = true;
      p = p.slice(6);
    }
    if (/^(proto|tag)\[/.test(p)) {
      return `-l: '${p.slice(0, p.indexOf("["))}[...]:' is not supported`;
    }
    let host = p;
    let at = port;
    let rest: string | null = null;
    if (p.startsWith("[")) {
      const e = p.indexOf("]");
      if (e < 0) return `Invalid IPV6 address: "${p}"`;
      host = p.slice(1, e);
      rest = p.slice(e + 1);
      if (rest !== "" && !rest.startsWith(":")) {
        return `Invalid port number: "${rest}"`;
      }
      rest = rest === "" ? null : rest.slice(1);
    } else {
      const c = p.indexOf(":");
      // One colon: HOST:PORT; more: a bare IPv6 address without a port.
      if (c >= 0 && p.indexOf(":", c + 1) < 0) {
        host = p.slice(0, c);
        rest = p.slice(c + 1);
      }
    }
    if (rest !== null) {
      if (!/^\d{1,5}$/.test(rest) || Number(rest) > 65535) {
        return `Invalid port number: "${rest}"`;
      }
      at = Number(rest);
    }
    if (host === "") return `-l: empty interface in '${spec}'`;
    out.push({ host, port: at, notls });
  }
  if (out.length === 0) return `-l: no interface in '${spec}'`;
  return out;
}

/** `host:port` as `stats conns` prints it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
