/**
 * memcached's `-l` list: interfaces separated by `,` or `;`, each
 * `[notls:][proto[NAME]:][tag[TAG]:]HOST[:PORT]` with IPv6 literals in
 * brackets (`[::1]:11212`) or bare without a port (`::1`). An entry
 * without a port uses `-p`. With `-Z`, a `notls:` entry serves plain TCP
 * while the others serve TLS. `proto[...]` pins that listener's protocol
 * over `-B`; `tag[...]` names it (memcached's proxy reads tags; we keep
 * them only). Pure: parsing only.
 * @module
 */

import type { Config } from "./config.ts";

/** A listener's protocol, as `-B` names them. */
export type ListenProto = Config["protocol"];

/** One interface to listen on. */
export interface ListenAddr {
  /** Host as Deno and inet_pton take it (IPv6 without brackets). */
  host: string;
  port: number;
  /** `notls:` prefix: plain TCP even with `-Z`. */
  notls: boolean;
  /** `proto[...]:` prefix: this listener's protocol instead of `-B`'s. */
  proto?: ListenProto;
  /** `tag[...]:` prefix: 1 to 8 bytes naming the listener. */
  tag?: string;
  /**
   * `-t N`: this loop's socket for the address, bound by the main thread
   * (which makes it listen once every loop is ready); the loop owns it.
   */
  fd?: number;
}

/**
 * memcached matches `proto[X]` by `strncmp(X, name, len(X))`: X may be any
 * prefix of a name (`proto[b]`, even `proto[]` for ascii), tried in this
 * order; anything else leaves `-B`'s choice.
 */
const PROTO_NAMES = [
  ["ascii", "ascii"],
  ["binary", "binary"],
  ["negotiating", "auto"],
  ["proxy", "proxy"],
] as const;

const utf8 = new TextEncoder();

/**
 * Parses a `-l` value; entries without a port get `port`. Returns the
 * list, or an error message (memcached's wording where it has one).
 */
export function parseListen(
  spec: string,
  port: number,
): ListenAddr[] | string {
  const out: ListenAddr[] = [];
  // memcached's proxy error prints its strtok'd copy of the list: the text
  // up to the first NUL its parse wrote (a `]`, port `:` or separator).
  let cut = spec.length;
  const nul = (at: number) => (cut = Math.min(cut, at));
  let base = 0;
  for (const entry of spec.split(/[,;]/)) {
    const from = base;
    base += entry.length + 1;
    if (entry === "") continue;
    if (base - 1 < spec.length) nul(base - 1);
    let p = entry;
    let notls = false;
    if (p.startsWith("notls:")) {
      notls = true;
      p = p.slice(6);
    }
    const a: ListenAddr = { host: "", port, notls };
    // Only a bracket after `proto`/`tag` makes a prefix: memcached would
    // also strip the word from a host such as `protohost`, we do not.
    if (p.startsWith("proto[")) {
      const e = p.indexOf("]");
      if (e < 0) return `Invalid protocol spec: "${p.slice(5)}"`;
      nul(from + entry.length - p.length + e);
      const name = p.slice(6, e);
      const hit = PROTO_NAMES.find(([n]) => n.startsWith(name));
      if (hit?.[1] === "proxy") {
        return `Server not built with proxy: "${spec.slice(0, cut)}"`;
      }
      if (hit !== undefined) a.proto = hit[1];
      p = skipColon(p, e);
    }
    if (p.startsWith("tag[")) {
      const e = p.indexOf("]");
      if (e < 0) return `Invalid tag in socket config: "${p.slice(3)}"`;
      nul(from + entry.length - p.length + e);
      const tag = p.slice(4, e);
      const len = utf8.encode(tag).length;
      if (len < 1 || len > 8) {
        return `Listener tags must be between 1 and 8 characters: "${tag}"`;
      }
      a.tag = tag;
      p = skipColon(p, e);
    }
    const at = from + entry.length - p.length;
    let host = p;
    let rest: string | null = null;
    if (p.startsWith("[")) {
      const e = p.indexOf("]");
      if (e < 0) return `Invalid IPV6 address: "${p}"`;
      nul(at + e);
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
        nul(at + c);
        host = p.slice(0, c);
        rest = p.slice(c + 1);
      }
    }
    if (rest !== null) {
      if (!/^\d{1,5}$/.test(rest) || Number(rest) > 65535) {
        return `Invalid port number: "${rest}"`;
      }
      a.port = Number(rest);
    }
    if (host === "") return `-l: empty interface in '${spec}'`;
    a.host = host;
    out.push(a);
  }
  if (out.length === 0) return `-l: no interface in '${spec}'`;
  return out;
}

/**
 * What follows a prefix's `]` at `e`: memcached skips one character there,
 * assumed to be `:`, whatever it is.
 */
function skipColon(p: string, e: number): string {
  return p.slice(e + 2);
}

/** `host:port` as `stats conns` prints it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
