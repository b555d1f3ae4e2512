/**
 * The key index: a power-of-two Uint32Array of bucket heads with chains
 * through each chunk's HNEXT header word (handle 0 ends a chain).
 *
 * Keys are hashed with `hashBytes` over the key bytes stored in the chunk, so
 * the index keeps no hashes of its own; the table doubles (see
 * {@link growIndex}) when items exceed 1.5 × buckets. Functions here see only
 * keys and handles: whether an item is still live is `expiry.ts`'s concern.
 * @module
 */

import * as chunk from "./chunk.ts";
import { hashBytes } from "./hash.ts";
import { CI } from "./layout.ts";
import { type StoreState, u32Of, wordOf } from "./state.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { HDR, HNEXT, KLEN_MASK, META } = chunk;

/**
 * The indexed item whose key equals `len` bytes of `key` at `start` (with
 * hash `hv`), dead or alive; 0 if none.
 */
export function indexFind(
  s: StoreState,
  key: Uint8Array,
  start: number,
  len: number,
  hv: number,
): number {
  const pool = s.pool;
  const cb = s.cb;
  const cm = s.cm;
  let h = s.buckets[hv & s.mask];
  while (h !== 0) {
    const p = h >>> cb;
    const u = pool.u32[p];
    const w = (h & cm) * pool.cw[p];
    if ((u[w + META] & KLEN_MASK) === len) {
      const u8 = pool.u8[p];
      const o = (w << 2) + HDR - start;
      let i = start;
      const end = start + len;
      while (i < end && u8[o + i] === key[i]) i++;
      if (i === end) return h;
    }
    h = u[w + HNEXT];
  }
  return 0;
}

/** The hash of the key stored in chunk `h`. */
export function hashOf(s: StoreState, h: number): number {
  const p = h >>> s.cb;
  const w = (h & s.cm) * s.pool.cw[p];
  const klen = s.pool.u32[p][w + META] & KLEN_MASK;
  return hashBytes(s.pool.u8[p], (w << 2) + HDR, klen);
}

/** Puts item `h`, whose key hashes to `hv`, at the front of its chain. */
export function indexInsert(s: StoreState, h: number, hv: number): void {
  const b = hv & s.mask;
  u32Of(s, h)[wordOf(s, h) + HNEXT] = s.buckets[b];
  s.buckets[b] = h;
}

/** Takes item `h` out of its chain (nothing happens if it is not there). */
export function indexRemove(s: StoreState, h: number): void {
  const b = hashOf(s, h) & s.mask;
  const next = u32Of(s, h)[wordOf(s, h) + HNEXT];
  let cur = s.buckets[b];
  if (cur === h) {
    s.buckets[b] = next;
    return;
  }
  while (cur !== 0) {
    const u = u32Of(s, cur);
    const w = wordOf(s, cur);
    const n = u[w + HNEXT];
    if (n === h) {
      u[w + HNEXT] = next;
      return;
    }
    cur = n;
  }
}

/**
 * Doubles a shared bucket table in place (the caller holds every stripe):
 * the buffers grow, and each chain splits between bucket `b` and
 * `b + old` by the next hash bit, so no second table is needed.
 */
export function splitIndex(s: StoreState): void {
  const b = s.backing;
  const old = s.mask + 1;
  const size = old * 2;
  const gb = b.buckets as SharedArrayBuffer;
  const gg = b.ghost as SharedArrayBuffer;
  if (gb.byteLength < size * 4) {
    try {
      gb.grow(size * 4);
      if (gg.byteLength < size * 4) gg.grow(size * 4);
    } catch {
      s.growAt = Infinity; // the reservation is spent: chains get longer
      return;
    }
  }
  const nb = new Uint32Array(gb, 0, size);
  for (let k = 0; k < old; k++) {
    let h = nb[k];
    let lo = 0;
    let hi = 0;
    while (h !== 0) {
      const u = u32Of(s, h);
      const w = wordOf(s, h);
      const next = u[w + HNEXT];
      if ((hashOf(s, h) & old) === 0) {
        u[w + HNEXT] = lo;
        lo = h;
      } else {
        u[w + HNEXT] = hi;
        hi = h;
      }
      h = next;
    }
    nb[k] = lo;
    nb[k + old] = hi;
  }
  s.ci[CI.MASK] = size - 1;
  s.growAt = size * 1.5;
  s.mask = size - 1;
  s.buckets = nb;
  s.ghost = new Uint32Array(gg, 0, size);
}

/** Doubles the bucket table, rehashing every chain. */
export function growIndex(s: StoreState): void {
  const old = s.buckets;
  const size = old.length * 2;
  const nb = new Uint32Array(size);
  const mask = size - 1;
  for (let b = 0; b < old.length; b++) {
    let h = old[b];
    while (h !== 0) {
      const u = u32Of(s, h);
      const w = wordOf(s, h);
      const next = u[w + HNEXT];
      const nbk = hashOf(s, h) & mask;
      u[w + HNEXT] = nb[nbk];
      nb[nbk] = h;
      h = next;
    }
  }
  s.buckets = nb;
  s.mask = mask;
  s.ci[CI.MASK] = mask;
  s.growAt = size * 1.5;
}
