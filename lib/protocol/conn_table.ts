/**
 * Every loop's connections in one shared table, for `stats conns` with
 * `-t N`: memcached lists every connection of the process whichever
 * thread answers, so each loop keeps its rows here (one fixed-size slot
 * per connection or listener, in a SharedArrayBuffer every loop views)
 * instead of only in its own map.
 *
 * A row's owner is the one loop that writes it; other loops only read. Its
 * addresses are written once; its state and last command on the owner's
 * tick and before the owner answers `stats conns` ({@link publishConns}),
 * so another loop's rows may be up to a second old.
 * Slots are claimed by CAS on their id word (0 = free, -1 = being filled),
 * and a reader that sees an id change mid-read drops that row: the listing
 * is a snapshot as loose as memcached's, never a mixed row.
 * @module
 */

import type { ConnInfo, Context } from "./context.ts";

/** Bytes per slot: id, state, two lengths, last command, two addresses. */
const SLOT = 256;
/** Room for each address (`tcp:[v6]:port`, `unix:/path`), truncated past it. */
const ADDR = 116;
const ADDR_AT = 24;
const LISTEN_AT = ADDR_AT + ADDR;
/** Int32 words of a slot. */
const ID = 0;
const STATE = 1;
const ALEN = 2;
const LLEN = 3;
/** Float64 word of a slot (byte 16). */
const LAST = 2;

/** The states a row can be in; a row stores its index. */
const STATES = [
  "conn_waiting",
  "conn_parse_cmd",
  "conn_mwrite",
  "conn_listening",
];

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Creates a table with room for `slots` rows (connections plus listeners). */
export function createConnTable(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(1, slots) * SLOT);
}

/** One loop's handle on a shared table. */
export interface ConnTable {
  /**
   * Lists `info` (its addresses now, its state and last command as of the
   * latest {@link update}); returns its slot, or -1 when the table is full
   * (the connection is then served but not listed).
   */
  add(info: ConnInfo): number;
  /**
   * Copies `info`'s state and last command into `slot`. The loops do it on
   * their tick and before answering `stats conns`, not per command: a
   * shared row written per batch cost -t 2 a quarter of its CPU per request.
   */
  update(slot: number, info: ConnInfo): void;
  /** Frees `slot` (its connection closed). */
  remove(slot: number): void;
  /** Every listed row of every loop, listeners once per address. */
  rows(): ConnInfo[];
}

/** Views `sab` (from {@link createConnTable}) for one loop. */
export function attachConnTable(sab: SharedArrayBuffer): ConnTable {
  const i32 = new Int32Array(sab);
  const f64 = new Float64Array(sab);
  const u8 = new Uint8Array(sab);
  const n = sab.byteLength / SLOT;
  const W = SLOT / 4;
  let hint = 0;

  function claim(): number {
    for (let k = 0; k < n; k++) {
      const at = (hint + k) % n;
      if (
        Atomics.load(i32, at * W + ID) === 0 &&
        Atomics.compareExchange(i32, at * W + ID, 0, -1) === 0
      ) {
        hint = at + 1;
        return at;
      }
    }
    return -1;
  }

  function put(at: number, off: number, s: string): number {
    const b = enc.encode(s);
    const len = Math.min(b.length, ADDR);
    u8.set(b.subarray(0, len), at * SLOT + off);
    return len;
  }

  function text(at: number, off: number, len: number): string {
    const o = at * SLOT + off;
    return dec.decode(u8.slice(o, o + len));
  }

  function update(at: number, info: ConnInfo): void {
    i32[at * W + STATE] = Math.max(0, STATES.indexOf(info.state));
    f64[at * (SLOT / 8) + LAST] = info.lastCmd;
  }

  return {
    add(info) {
      const at = claim();
      if (at < 0) return -1;
      i32[at * W + ALEN] = put(at, ADDR_AT, info.addr);
      i32[at * W + LLEN] = info.listenAddr === undefined
        ? -1
        : put(at, LISTEN_AT, info.listenAddr);
      update(at, info);
      Atomics.store(i32, at * W + ID, info.id); // published once filled
      return at;
    },
    update,
    remove(at) {
      Atomics.store(i32, at * W + ID, 0);
    },
    rows() {
      const out: ConnInfo[] = [];
      const listeners = new Set<string>();
      for (let at = 0; at < n; at++) {
        const id = Atomics.load(i32, at * W + ID);
        if (id <= 0) continue;
        const llen = i32[at * W + LLEN];
        const row: ConnInfo = {
          id,
          addr: text(at, ADDR_AT, i32[at * W + ALEN]),
          listenAddr: llen < 0 ? undefined : text(at, LISTEN_AT, llen),
          state: STATES[i32[at * W + STATE]] ?? "conn_waiting",
          lastCmd: f64[at * (SLOT / 8) + LAST],
        };
        if (Atomics.load(i32, at * W + ID) !== id) continue; // reused meanwhile
        if (row.state === "conn_listening") {
          if (listeners.has(row.addr)) continue;
          listeners.add(row.addr);
        }
        out.push(row);
      }
      // Listeners first, then by id, as one loop lists them.
      return out.sort((a, b) =>
        Number(b.state === "conn_listening") -
          Number(a.state === "conn_listening") || a.id - b.id
      );
    },
  };
}

/**
 * Copies this loop's connections' state and last command into the shared
 * table (a no-op with one loop).
 */
export function publishConns(ctx: Context): void {
  const table = ctx.counters.shared?.conns;
  if (table === undefined) return;
  for (const c of ctx.conns.values()) {
    if (c.slot !== undefined && c.slot >= 0) table.update(c.slot, c);
  }
}
