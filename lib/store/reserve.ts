/**
 * Reservations: an item whose value is still arriving, allocated inside
 * `-m` when its command line is read, as memcached's `item_alloc` does
 * before it reads the data block. The protocol copies the value's bytes
 * into the chunk as they come ({@link fillReserved}), so a large upload
 * needs no connection buffer of its own size, and half-sent values live
 * within the cache's memory instead of beside it (issue #14). The command's
 * mode (add, replace, cas) is checked when the value is complete
 * ({@link commitReserved}), as memcached's `do_store_item` does.
 *
 * A reservation is a held zombie (`holds.ts`): on no free list, in neither
 * index nor policy, its page kept from page moves; so nothing else touches
 * the chunk until it is linked or dropped. Only modes that replace the
 * whole value reserve (set, add, replace, cas): append and prepend need
 * the old value and keep the buffered path.
 * @module
 */

import * as chunk from "./chunk.ts";
import { copyBytes, writeCas } from "./chunk.ts";
import { alloc } from "./evict.ts";
import { lookup } from "./expiry.ts";
import { hashBytes } from "./hash.ts";
import { unhold } from "./holds.ts";
import { linkItem, unlinkItem } from "./items.ts";
import { nextCas, type StoreState } from "./state.ts";
import { modeAllows, valueOffset } from "./write.ts";
import { lockClass, unlockClass } from "./sync.ts";
import { Mode, Status, type StoreResult } from "./types.ts";

const { ATIME, EXP, FLAGS, HDR, HOLD_ONE, KLEN_MASK, LINKED, META, VLEN } =
  chunk;
const { POLICY_BITS, ZOMBIE } = chunk;

/**
 * Allocates an item for `key` with room for `vLen` value bytes, header and
 * key written, not yet visible; returns its handle, or -1 if no memory can
 * be had (the caller checked the size with `fits`).
 */
export function reserveItem(
  s: StoreState,
  key: Uint8Array,
  kStart: number,
  kLen: number,
  flags: number,
  exp: number,
  vLen: number,
): number {
  const c = s.sc.classFor(HDR + kLen + vLen);
  lockClass(s, c);
  const h = alloc(s, c);
  if (h === 0) {
    unlockClass(s, c);
    return -1;
  }
  const pool = s.pool;
  const p = h >>> s.cb;
  const u = pool.u32[p];
  const w = (h & s.cm) * pool.cw[p];
  u[w + VLEN] = vLen;
  u[w + FLAGS] = flags;
  u[w + EXP] = chunk.clampExp(exp);
  u[w + ATIME] = s.clock.now();
  writeCas(u, w, 0);
  // Held by this loop, unlinked: a zombie, which only its holder frees.
  u[w + META] = kLen | HOLD_ONE | ZOMBIE | (u[w + META] & POLICY_BITS);
  s.holds.set(h, 1);
  if (s.shared) Atomics.add(s.pageHolds, p, 1);
  else s.pageHolds[p]++;
  copyBytes(pool.u8[p], (w << 2) + HDR, key, kStart, kLen);
  unlockClass(s, c);
  return h;
}

/** Copies `n` bytes of `src` to offset `off` of reservation `h`'s value. */
export function fillReserved(
  s: StoreState,
  h: number,
  off: number,
  src: Uint8Array,
  start: number,
  n: number,
): void {
  copyBytes(s.pool.u8[h >>> s.cb], valueOffset(s, h) + off, src, start, n);
}

/**
 * The value of reservation `h` is complete: stores it under `mode` (set,
 * add, replace or cas against `cas`). On {@link Status.Stored} it is the
 * item now (its handle and cas in `r`); otherwise it is still reserved,
 * for the caller to read its key and then {@link dropReserved}.
 */
export function commitReserved(
  s: StoreState,
  mode: Mode,
  h: number,
  cas: number,
  r: StoreResult | undefined,
): Status {
  const pool = s.pool;
  const p = h >>> s.cb;
  const u = pool.u32[p];
  const w = (h & s.cm) * pool.cw[p];
  const u8 = pool.u8[p];
  const kLen = u[w + META] & KLEN_MASK;
  const ko = (w << 2) + HDR;
  const now = s.clock.now();
  const hv = hashBytes(u8, ko, kLen);
  const old = lookup(s, u8, ko, kLen, hv, now);
  // Append and prepend never reserve (they need the old value).
  if (mode === Mode.Append || mode === Mode.Prepend) return Status.NotStored;
  const allowed = modeAllows(s, mode, old, cas);
  if (allowed !== Status.Stored) return allowed;
  const casv = nextCas(s);
  const c = pool.cls[p];
  lockClass(s, c);
  u[w + ATIME] = now;
  writeCas(u, w, casv);
  // No other loop can hold it (it was never visible): ours is the one hold.
  if (s.shared) {
    Atomics.store(u, w + META, kLen | LINKED | (u[w + META] & POLICY_BITS));
  } else {
    u[w + META] = kLen | LINKED | (u[w + META] & POLICY_BITS);
  }
  s.holds.delete(h);
  // The new version goes in before the old one leaves, as in storeItem.
  linkItem(s, h, c, hv);
  if (s.shared) Atomics.sub(s.pageHolds, p, 1);
  else s.pageHolds[p]--;
  unlockClass(s, c);
  if (old !== 0) {
    const oc = pool.cls[old >>> s.cb];
    lockClass(s, oc);
    unlinkItem(s, old);
    unlockClass(s, oc);
  }
  if (r !== undefined) {
    r.cas = casv;
    r.handle = h;
  }
  return Status.Stored;
}

/** Gives reservation `h`'s chunk back (the upload failed or was refused). */
export function dropReserved(s: StoreState, h: number): void {
  unhold(s, h);
}
