/**
 * Every loop's connections in one shared table, for `stats conns` with
 * `-t N`: memcached lists every connection of the process whichever
 * thread answers, so each loop keeps its rows here (one fixed-size slot
 * per connection or listener, in a SharedArrayBuffer every loop views)
 * instead of only in its own map.
 *
 * A row's owner is the one loop that writes it; other loops only read.
 * Slots are claimed by CAS on their id word (0 = free, -1 = being filled),
 * and a reader that sees an id change mid-read drops that row: the listing
 * is a snapshot as loose as memcached's, never a mixed row.
 * @module
 */

import type { ConnInfo } from "./context.ts";

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
   * Adds a row; its `state` and `lastCmd` write through to the table.
   * When the table is full the row is kept by the loop only (not listed).
   */
  add(
    id: number,
    addr: string,
    listenAddr: string | undefined,
    state: string,
    lastCmd: number,
  ): ConnInfo;
  /** Frees `info`'s slot (its connection closed). */
  remove(info: ConnInfo): void;
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
  /** Slot of each row this loop added. */
  const slotOf = new WeakMap<ConnInfo, number>();

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

  function row(at: number, id: number): ConnInfo {
    return {
      id,
      get addr() {
        const o = at * SLOT + ADDR_AT;
        return dec.decode(u8.slice(o, o + i32[at * W + ALEN]));
      },
      get listenAddr() {
        const len = i32[at * W + LLEN];
        if (len < 0) return undefined;
        const o = at * SLOT + LISTEN_AT;
        return dec.decode(u8.slice(o, o + len));
      },
      get state() {
        return STATES[i32[at * W + STATE]] ?? "conn_waiting";
      },
      set state(v: string) {
        i32[at * W + STATE] = Math.max(0, STATES.indexOf(v));
      },
      get lastCmd() {
        return f64[at * (SLOT / 8) + LAST];
      },
      set lastCmd(v: number) {
        f64[at * (SLOT / 8) + LAST] = v;
      },
    };
  }

  return {
    add(id, addr, listenAddr, state, lastCmd) {
      const at = claim();
      if (at < 0) return { id, addr, listenAddr, state, lastCmd };
      i32[at * W + ALEN] = put(at, ADDR_AT, addr);
      i32[at * W + LLEN] = listenAddr === undefined
        ? -1
        : put(at, LISTEN_AT, listenAddr);
      const info = row(at, id);
      info.state = state;
      info.lastCmd = lastCmd;
      Atomics.store(i32, at * W + ID, id); // published once filled
      slotOf.set(info, at);
      return info;
    },
    remove(info) {
      const at = slotOf.get(info);
      if (at === undefined) return;
      slotOf.delete(info);
      Atomics.store(i32, at * W + ID, 0);
    },
    rows() {
      const out: ConnInfo[] = [];
      const listeners = new Set<string>();
      for (let at = 0; at < n; at++) {
        const id = Atomics.load(i32, at * W + ID);
        if (id <= 0) continue;
        const r = row(at, id);
        const copy: ConnInfo = {
          id,
          addr: r.addr,
          listenAddr: r.listenAddr,
          state: r.state,
          lastCmd: r.lastCmd,
        };
        if (Atomics.load(i32, at * W + ID) !== id) continue; // reused meanwhile
        if (copy.state === "conn_listening") {
          if (listeners.has(copy.addr)) continue;
          listeners.add(copy.addr);
        }
        out.push(copy);
      }
      // Listeners first, then by id, as one loop lists them.
      return out.sort((a, b) =>
        Number(b.state === "conn_listening") -
          Number(a.state === "conn_listening") || a.id - b.id
      );
    },
  };
}
