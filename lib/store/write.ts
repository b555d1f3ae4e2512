/**
 * The writing operations: memcached's storage commands (set, add, replace,
 * append, prepend, cas), snapshot restore and incr/decr.
 *
 * A new value that still fits the item's chunk class is rewritten in place
 * (no allocation, no relinking); otherwise a new chunk is allocated while the
 * old item is pinned (so eviction cannot take it mid-copy), filled, and
 * swapped in for the old item.
 *
 * Locks (shared stores, see sync.ts): `lookup` takes the key's stripe;
 * anything that touches a class's lists or counters takes its class lock,
 * from allocation until the new item is linked.
 * @module
 */

import {
  copyBytes,
  readCas,
  rewriteHeader,
  writeCas,
  writeHeader,
} from "./chunk.ts";
import * as chunk from "./chunk.ts";
import { alloc } from "./evict.ts";
import { lookup } from "./expiry.ts";
import { hashBytes } from "./hash.ts";
import { isHeld } from "./holds.ts";
import { linkItem, unlinkItem } from "./items.ts";
import { applyDelta, parseU64 } from "./numeric.ts";
import { policyHit } from "./policy.ts";
import { ST } from "./layout.ts";
import { nextCas, raiseCas, type StoreState, u32Of, wordOf } from "./state.ts";
import { lockClass, unlockClass } from "./sync.ts";
import { Mode, RESTORE_CAS_MAX, Status, type StoreResult } from "./types.ts";

// Module-local copies of the layout words: V8 folds these to constants but
// re-reads (and hole-checks) imported bindings on every use (see chunk.ts).
const { EXP, FLAGS, HDR, KLEN_MASK, META, OVERHEAD, VLEN } = chunk;

/**
 * Whether an item of these sizes fits under the item size limit (non-zero
 * client flags take 4 more bytes, as in memcached).
 */
export function fits(
  s: StoreState,
  keyLen: number,
  valueLen: number,
  flags: number,
): boolean {
  return keyLen + valueLen + OVERHEAD + (flags !== 0 ? 4 : 0) <=
    s.maxItemSize;
}

/**
 * Whether `mode` may store over the key's item `h` (0: none): set always;
 * add only when absent; replace, append and prepend only when present; cas
 * when present with cas `cas`. {@link Status.Stored} if so, else the status
 * to answer.
 */
export function modeAllows(
  s: StoreState,
  mode: Mode,
  h: number,
  cas: number,
): Status {
  switch (mode) {
    case Mode.Set:
      return Status.Stored;
    case Mode.Add:
      return h === 0 ? Status.Stored : Status.NotStored;
    case Mode.Cas:
      if (h === 0) return Status.NotFound;
      return readCas(u32Of(s, h), wordOf(s, h)) === cas
        ? Status.Stored
        : Status.Exists;
    default: // replace, append, prepend
      return h === 0 ? Status.NotStored : Status.Stored;
  }
}

/** Unlinks item `h`, whose stripe is held, under its class lock. */
function unlinkLocked(s: StoreState, h: number): void {
  const c = s.pool.cls[h >>> s.cb];
  lockClass(s, c);
  unlinkItem(s, h);
  unlockClass(s, c);
}

/** Byte offset of item `h`'s value in its page. */
export function valueOffset(s: StoreState, h: number): number {
  const w = wordOf(s, h);
  return (w << 2) + HDR + (u32Of(s, h)[w + META] & KLEN_MASK);
}

/** The Store interface's `store`; fills `r` (if given) on Stored. */
export function storeItem(
  s: StoreState,
  mode: Mode,
  key: Uint8Array,
  kStart: number,
  kLen: number,
  flags: number,
  exp: number,
  value: Uint8Array,
  vStart: number,
  vLen: number,
  cas: number,
  r: StoreResult | undefined,
): Status {
  const now = s.clock.now();
  const hv = hashBytes(key, kStart, kLen);
  let h = lookup(s, key, kStart, kLen, hv, now);
  if (!fits(s, kLen, vLen, flags)) {
    if (mode === Mode.Set && h !== 0) unlinkLocked(s, h);
    return Status.TooLarge;
  }
  const allowed = modeAllows(s, mode, h, cas);
  if (allowed !== Status.Stored) return allowed;
  let oldLen = 0;
  let newLen = vLen;
  if (mode === Mode.Append || mode === Mode.Prepend) {
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    oldLen = u[w + VLEN];
    newLen = oldLen + vLen;
    flags = u[w + FLAGS];
    if (!fits(s, kLen, newLen, flags)) return Status.NotStored;
    exp = u[w + EXP];
  }
  const c = s.sc.classFor(HDR + kLen + newLen);
  const pool = s.pool;
  // A held item (a reply sends its bytes later) gets a new version instead.
  if (h !== 0 && pool.cls[h >>> s.cb] === c && !isHeld(s, h)) {
    const casv = nextCas(s);
    // Rewrite in place: same chunk, no allocation, and only the key's
    // stripe held unless the class's byte count changes.
    const p = h >>> s.cb;
    const u = pool.u32[p];
    const w = (h & s.cm) * pool.cw[p];
    const u8 = pool.u8[p];
    const vo = (w << 2) + HDR + kLen;
    if (mode === Mode.Append) {
      copyBytes(u8, vo + oldLen, value, vStart, vLen);
    } else if (mode === Mode.Prepend) {
      u8.copyWithin(vo + vLen, vo, vo + oldLen);
      copyBytes(u8, vo, value, vStart, vLen);
    } else {
      copyBytes(u8, vo, value, vStart, vLen);
    }
    const st = s.st;
    const grew = newLen - u[w + VLEN] +
      (flags !== 0 ? 4 : 0) - (u[w + FLAGS] !== 0 ? 4 : 0);
    st[ST.TOTAL_ITEMS]++;
    rewriteHeader(s.shared, u, w, newLen, flags, exp, now, casv);
    if (grew !== 0) {
      st[ST.BYTES] += grew;
      lockClass(s, c);
      s.requested[c] += grew;
      unlockClass(s, c);
    }
    policyHit(s, h, c);
    if (r !== undefined) {
      r.cas = casv;
      r.handle = h;
    }
    return Status.Stored;
  }
  if (h !== 0 && mode === Mode.Set) {
    unlinkLocked(s, h);
    h = 0;
  }
  s.pin = h;
  lockClass(s, c);
  const nh = alloc(s, c);
  s.pin = 0;
  if (nh === 0) {
    unlockClass(s, c);
    return Status.NoMemory;
  }
  const casv = nextCas(s);
  const p = nh >>> s.cb;
  const u = pool.u32[p];
  const w = (nh & s.cm) * pool.cw[p];
  const u8 = pool.u8[p];
  const ko = (w << 2) + HDR;
  writeHeader(u, w, kLen, newLen, flags, exp, now, casv);
  copyBytes(u8, ko, key, kStart, kLen);
  const vo = ko + kLen;
  if (mode === Mode.Append || mode === Mode.Prepend) {
    const src = pool.u8[h >>> s.cb];
    const so = valueOffset(s, h);
    if (mode === Mode.Append) {
      copyBytes(u8, vo, src, so, oldLen);
      copyBytes(u8, vo + oldLen, value, vStart, vLen);
    } else {
      copyBytes(u8, vo, value, vStart, vLen);
      copyBytes(u8, vo + vLen, src, so, oldLen);
    }
  } else {
    copyBytes(u8, vo, value, vStart, vLen);
  }
  // The new version goes in before the old one leaves: both hold the key
  // for a moment, unseen, as the key's stripe is held.
  linkItem(s, nh, c, hv);
  unlockClass(s, c);
  if (h !== 0) unlinkLocked(s, h);
  if (r !== undefined) {
    r.cas = casv;
    r.handle = nh;
  }
  return Status.Stored;
}

/** The Store interface's `restore`: a Set, then the given cas unique. */
export function restoreItem(
  s: StoreState,
  key: Uint8Array,
  kStart: number,
  kLen: number,
  flags: number,
  exp: number,
  value: Uint8Array,
  vStart: number,
  vLen: number,
  cas: number,
  r: StoreResult,
): Status {
  const st = storeItem(
    s,
    Mode.Set,
    key,
    kStart,
    kLen,
    flags,
    exp,
    value,
    vStart,
    vLen,
    0,
    r,
  );
  if (st !== Status.Stored) return st;
  // Out of range (a foreign or crafted file): keep the fresh cas the Set
  // gave it, so the counter never jumps to where it could wrap or lose
  // precision.
  if (cas === 0 || !(cas <= RESTORE_CAS_MAX)) return st;
  const h = r.handle;
  writeCas(u32Of(s, h), wordOf(s, h), cas);
  r.cas = cas;
  raiseCas(s, cas);
  return st;
}

/** The Store interface's `incrDecr`; fills `r` (if given) on Stored. */
export function incrDecr(
  s: StoreState,
  key: Uint8Array,
  start: number,
  len: number,
  incr: boolean,
  delta: bigint,
  r: StoreResult | undefined,
): Status {
  const now = s.clock.now();
  const hv = hashBytes(key, start, len);
  const h = lookup(s, key, start, len, hv, now);
  if (h === 0) return Status.NotFound;
  const pool = s.pool;
  const oldLen = u32Of(s, h)[wordOf(s, h) + VLEN];
  const v = parseU64(pool.u8[h >>> s.cb], valueOffset(s, h), oldLen);
  if (v < 0n) return Status.NonNumeric;
  const n = applyDelta(v, incr, delta);
  const text = n.toString();
  const rl = text.length;
  let target = h;
  if (rl > oldLen && HDR + len + rl > s.sc.size[pool.cls[h >>> s.cb]]) {
    // Needs a bigger chunk: allocate a new item, then drop the old one.
    const c = s.sc.classFor(HDR + len + rl);
    s.pin = h;
    lockClass(s, c);
    const nh = alloc(s, c);
    s.pin = 0;
    if (nh === 0) {
      unlockClass(s, c);
      return Status.NoMemory;
    }
    const casv = nextCas(s);
    const u = u32Of(s, nh);
    const w = wordOf(s, nh);
    const ou = u32Of(s, h);
    const ow = wordOf(s, h);
    writeHeader(u, w, len, rl, ou[ow + FLAGS], ou[ow + EXP], now, casv);
    copyBytes(pool.u8[nh >>> s.cb], (w << 2) + HDR, key, start, len);
    linkItem(s, nh, c, hv);
    unlockClass(s, c);
    unlinkLocked(s, h);
    // memcached links a new item here, so total_items counts it.
    target = nh;
  } else {
    const u = u32Of(s, h);
    const w = wordOf(s, h);
    if (rl > oldLen) {
      const c = s.pool.cls[h >>> s.cb];
      lockClass(s, c);
      s.st[ST.BYTES] += rl - oldLen;
      s.requested[c] += rl - oldLen;
      u[w + VLEN] = rl;
      unlockClass(s, c);
    }
    writeCas(u, w, nextCas(s));
  }
  const u8 = pool.u8[target >>> s.cb];
  const vo = valueOffset(s, target);
  const vl = u32Of(s, target)[wordOf(s, target) + VLEN];
  for (let i = 0; i < rl; i++) u8[vo + i] = text.charCodeAt(i);
  for (let i = rl; i < vl; i++) u8[vo + i] = 32;
  if (r !== undefined) {
    r.number = n;
    r.handle = target;
    r.cas = readCas(u32Of(s, target), wordOf(s, target));
  }
  return Status.Stored;
}
