/**
 * Test helpers for memcached's binary protocol: request packets built from
 * plain fields, a response parser, and an exchange that ends each script
 * with a NoOp sentinel so every reply (quiet ones included) is collected.
 * @module
 */

import { raw, settle } from "./_helpers.ts";

/** Request fields; everything but `op` defaults to empty/zero. */
export interface Req {
  op: number;
  key?: string | Uint8Array;
  extras?: Uint8Array;
  value?: string | Uint8Array;
  opaque?: number;
  cas?: bigint;
  /** Overrides the magic byte (0x80). */
  magic?: number;
  /** Overrides the header's lengths (to lie about them). */
  keylen?: number;
  extlen?: number;
  bodylen?: number;
}

const enc = new TextEncoder();
const bytesOf = (v: string | Uint8Array | undefined) =>
  v === undefined
    ? new Uint8Array(0)
    : typeof v === "string"
    ? enc.encode(v)
    : v;

/** Encodes one request packet. */
export function pkt(r: Req): Uint8Array {
  const key = bytesOf(r.key);
  const ext = r.extras ?? new Uint8Array(0);
  const val = bytesOf(r.value);
  const body = ext.length + key.length + val.length;
  const b = new Uint8Array(24 + body);
  const dv = new DataView(b.buffer);
  b[0] = r.magic ?? 0x80;
  b[1] = r.op;
  dv.setUint16(2, r.keylen ?? key.length);
  b[4] = r.extlen ?? ext.length;
  dv.setUint32(8, r.bodylen ?? body);
  dv.setUint32(12, r.opaque ?? 0);
  dv.setBigUint64(16, r.cas ?? 0n);
  b.set(ext, 24);
  b.set(key, 24 + ext.length);
  b.set(val, 24 + ext.length + key.length);
  return b;
}

/** Concatenates packets (pipelining them in one write). */
export function cat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Extras of Set/Add/Replace: flags, expiration. */
export function setExtras(flags: number, exptime: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, flags);
  dv.setUint32(4, exptime);
  return b;
}

/** Extras of Increment/Decrement: delta, initial, expiration. */
export function incrExtras(
  delta: bigint,
  initial: bigint,
  exptime: number,
): Uint8Array {
  const b = new Uint8Array(20);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, delta);
  dv.setBigUint64(8, initial);
  dv.setUint32(16, exptime);
  return b;
}

/** A 4-byte big-endian word (Touch/GAT/Flush extras). */
export function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/** A parsed response packet. */
export interface Res {
  magic: number;
  op: number;
  status: number;
  opaque: number;
  cas: bigint;
  extras: Uint8Array;
  key: string;
  value: Uint8Array;
}

const latin = new TextDecoder("latin1");

/** Parses every whole response in `b`; `rest` is the trailing partial bytes. */
export function parse(b: Uint8Array): { res: Res[]; rest: number } {
  const res: Res[] = [];
  let p = 0;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (b.length - p >= 24) {
    const keylen = dv.getUint16(p + 2);
    const extlen = b[p + 4];
    const bodylen = dv.getUint32(p + 8);
    if (b.length - p < 24 + bodylen) break;
    const e = p + 24;
    res.push({
      magic: b[p],
      op: b[p + 1],
      status: dv.getUint16(p + 6),
      opaque: dv.getUint32(p + 12),
      cas: dv.getBigUint64(p + 16),
      extras: b.slice(e, e + extlen),
      key: latin.decode(b.subarray(e + extlen, e + extlen + keylen)),
      value: b.slice(e + extlen + keylen, e + bodylen),
    });
    p += 24 + bodylen;
  }
  return { res, rest: b.length - p };
}

/** Opaque of the NoOp sentinel that ends an exchange. */
export const SENTINEL_OPAQUE = 0x5e171e1;

/** A connection speaking binary: send bytes, read parsed replies. */
export interface BinConn {
  send(b: Uint8Array): Promise<void>;
  /** Sends a NoOp sentinel and returns every reply before its answer. */
  sync(timeoutMs?: number): Promise<Res[]>;
  /** Reads replies until the server closes; `closed` says whether it did. */
  untilClosed(timeoutMs?: number): Promise<{ res: Res[]; closed: boolean }>;
  close(): void;
}

/** Opens a binary connection to 127.0.0.1:port (or a unix socket path). */
export async function binConn(port: number | string): Promise<BinConn> {
  const c = await raw(port);
  let buf: Uint8Array = new Uint8Array(0);
  const take = (s: string) => {
    const add = Uint8Array.from(s, (ch) => ch.charCodeAt(0));
    buf = cat(buf, add);
  };
  return {
    send: (b) => c.send(b),
    async sync(timeoutMs = 5000) {
      await c.send(pkt({ op: 0x0a, opaque: SENTINEL_OPAQUE }));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { res } = parse(buf);
        const i = res.findIndex((r) =>
          r.op === 0x0a && r.opaque === SENTINEL_OPAQUE
        );
        if (i >= 0) {
          // Drop what we consumed, keep anything after the sentinel.
          let used = 0;
          for (let k = 0; k <= i; k++) {
            used += 24 + res[k].extras.length + res[k].key.length +
              res[k].value.length;
          }
          buf = buf.slice(used);
          return res.slice(0, i);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          const e = new Error("no sentinel reply") as Error & { res: Res[] };
          e.res = res;
          throw e;
        }
        // Wait for a byte, then take all that came with it: one byte per
        // pass would re-parse the buffer per byte (seconds per script).
        take(await c.readBytes(1, left));
        take(await c.drain(0));
      }
    },
    async untilClosed(timeoutMs = 3000) {
      const closed = await c.closed(timeoutMs);
      take(await c.drain(0));
      return { res: parse(buf).res, closed };
    },
    close: () => c.close(),
  };
}

/** A stable, comparable rendering of replies (cas values by identity). */
export function render(
  res: Res[],
  casIds = new Map<bigint, number>(),
): string[] {
  const hex = (b: Uint8Array) =>
    Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return res.map((r) => {
    let cas = "0";
    if (r.cas !== 0n) {
      if (!casIds.has(r.cas)) casIds.set(r.cas, casIds.size + 1);
      cas = `#${casIds.get(r.cas)}`;
    }
    return `magic=${r.magic.toString(16)} op=${r.op.toString(16)} ` +
      `status=${r.status.toString(16)} opaque=${r.opaque} cas=${cas} ` +
      `ext=${hex(r.extras)} key=${JSON.stringify(r.key)} ` +
      `val=${JSON.stringify(latin.decode(r.value))}`;
  });
}

/** Waits a moment so a closing connection's ops settle. */
export const pause = settle;
