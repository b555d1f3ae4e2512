/**
 * `ms <key> <datalen> <flags>*` + data block — memcached's
 * process_mset_command and the meta half of complete_nread_ascii. Replies
 * `HD` (hidden by `q`), `NS`, `EX` or `NF` with the `O`, `k` and `c` flags in
 * request order. Errors found after the line parsed swallow the data block;
 * a bad datalen, a too-long key or too many flags do not.
 * @module
 */

import { Bits, Mode, Status } from "../store/types.ts";
import { type OutBuf, putByte, putBytes, putCrlf, putUint } from "./outbuf.ts";
import { KEY_MAX, NEED_MORE, type Session, type Sink } from "./types.ts";
import { SINK_MIN, startSink } from "./sink.ts";
import { parseInt32, type Tokens } from "./tokens.ts";
import {
  KEY_BINARY,
  MAX_OPAQUE,
  MAX_OPT_TOKENS,
  ME,
  mf,
  preparse,
  putFlag,
  putKey,
  putOpaque,
} from "./meta_flags.ts";

/** Status codes of the reply line. */
const HD = 0x4844, NS = 0x4e53, EX = 0x4558, NF = 0x4e46;

/**
 * Runs `ms`. Returns the data block's size (datalen + 2) once it is stored
 * or rejected, NEED_MORE while it has not fully arrived, or 0 after an error
 * (setting `s.swallow` where memcached discards the block).
 */
export function metaSet(
  s: Session,
  buf: Uint8Array,
  t: Tokens,
  ds: number,
  end: number,
): number {
  const o = s.out;
  const n = t.n;
  if (n < 2) return fail(s, ME.ERROR, 0);
  if (t.end[1] - t.start[1] > KEY_MAX || n === 2) {
    return fail(s, ME.BAD_FORMAT, 0);
  }
  if (n + 1 > MAX_OPT_TOKENS) return fail(s, ME.FLAGS_LONG, 0);
  const vlen = parseInt32(buf, t.start[2], t.end[2]);
  if (Number.isNaN(vlen) || vlen < 0 || vlen > 0x7ffffffd) {
    return fail(s, ME.BAD_FORMAT, 0);
  }
  const total = vlen + 2;
  if (!preparse(s, buf, t, 3)) return fail(s, mf.err, total);
  let opaqueTooLong = false;
  for (let i = 3; i < n; i++) {
    if (buf[t.start[i]] === 79 && t.end[i] - t.start[i] > MAX_OPAQUE) {
      opaqueTooLong = true;
    }
  }
  let mode: Mode = Mode.Set;
  switch (mf.mode) {
    case 0:
    case 83: // S
      break;
    case 69: // E
      mode = Mode.Add;
      break;
    case 65: // A
      mode = Mode.Append;
      break;
    case 80: // P
      mode = Mode.Prepend;
      break;
    case 82: // R
      mode = Mode.Replace;
      break;
    default:
      return fail(s, ME.MS_MODE, total);
  }
  // A cas turns set and replace into a compare-and-swap.
  if (mf.hasCas && (mode === Mode.Set || mode === Mode.Replace)) {
    mode = Mode.Cas;
  }
  if (opaqueTooLong) return fail(s, ME.OPAQUE_LONG, total);
  const ctx = s.ctx;
  const store = ctx.store;
  const c = ctx.counters;
  const key = mf.key;
  const ks = mf.keyStart;
  const kl = mf.keyLen;
  if (!store.fits(kl, vlen, mf.clientFlags)) {
    c.store_too_large++;
    store.remove(key, ks, kl); // memcached drops the old value in every mode
    return fail(s, ME.TOO_LARGE, total);
  }
  if (end - ds < total) {
    if (vlen >= SINK_MIN && mode !== Mode.Append && mode !== Mode.Prepend) {
      // Large and still arriving: into its reserved item as it comes. The
      // reply's flags are read from a copy of the line (it will be gone).
      const saved: SavedSet = {
        flags: n > 3 ? buf.slice(t.start[3], t.end[n - 1]) : EMPTY,
        keyBinary: mf.keyBinary,
        noReply: mf.noReply,
        setStale: mf.setStale,
        reqCas: mf.reqCas,
      };
      const done = (s: Session, k: Sink) => sinkDone(s, k, saved);
      if (
        startSink(
          s,
          key,
          ks,
          kl,
          mf.clientFlags,
          mf.exptime,
          vlen,
          2,
          mode,
          0,
          done,
        )
      ) return 0;
    } else if (s.input(ds + total - s.lineStart)) return NEED_MORE;
    // No memory to buffer the block: memcached's failed item_alloc.
    c.store_no_memory++;
    store.remove(key, ks, kl); // as on too large: in every mode
    return fail(s, ME.OOM_STORE, total);
  }
  c.cmd_set++;
  if (buf[ds + vlen] !== 13 || buf[ds + vlen + 1] !== 10) {
    putBytes(o, ME.BAD_CHUNK);
    return total;
  }
  const code = storeItem(s, buf, mode, ds, vlen);
  if (code < 0) return total;
  const cas = code === HD ? s.res.cas : 0;
  const mark = o.len;
  const flags = n > 3 ? t.start[3] : 0;
  const to = n > 3 ? t.end[n - 1] : 0;
  putStatus(o, code, buf, flags, to, key, ks, kl, mf.keyBinary, cas);
  if (code === HD && mf.noReply) o.len = mark;
  return total;
}

/**
 * The reply line: the status code, then the `O`, `k` and `c` flags among
 * the space-separated flag tokens in `f[from, to)`, in request order.
 */
function putStatus(
  o: OutBuf,
  code: number,
  f: Uint8Array,
  from: number,
  to: number,
  key: Uint8Array,
  ks: number,
  kl: number,
  keyBinary: boolean,
  cas: number,
): void {
  putByte(o, code >> 8);
  putByte(o, code & 0xff);
  for (let i = from; i < to; i++) {
    if (f[i] === 32 || (i > from && f[i - 1] !== 32)) continue; // token starts only
    let e = i;
    while (e < to && f[e] !== 32) e++;
    switch (f[i]) {
      case 79: // O
        putOpaque(o, f, i, e);
        break;
      case 107: // k
        putKey(o, key, ks, kl, keyBinary);
        break;
      case 99: // c
        putFlag(o, 99);
        putUint(o, cas);
        break;
    }
  }
  putCrlf(o);
}

/**
 * memcached's do_store_item for a meta set: returns the status code, or -1
 * after writing a SERVER_ERROR line.
 */
function storeItem(
  s: Session,
  buf: Uint8Array,
  mode: Mode,
  ds: number,
  vlen: number,
): number {
  const store = s.ctx.store;
  const c = s.ctx.counters;
  const key = mf.key;
  const ks = mf.keyStart;
  const kl = mf.keyLen;
  let extraBits = 0;
  let exp = mf.exptime;
  if (mode === Mode.Cas) {
    const h = store.peek(key, ks, kl);
    if (h < 0) {
      c.cas_misses++;
      return NF;
    }
    const old = store.casOf(h);
    if (mf.reqCas === old) {
      c.cas_hits++;
    } else if (mf.setStale && mf.reqCas !== 0 && mf.reqCas < old) {
      // An older cas with I: store, but keep the TTL, the stale mark and a
      // win already handed out, so the value still reads as stale.
      c.cas_hits++;
      exp = store.expOf(h);
      extraBits = Bits.Stale | (store.bitsOf(h) & Bits.WinSent);
    } else {
      c.cas_badval++;
      return EX;
    }
    mode = Mode.Set;
  } else if (
    (mode === Mode.Append || mode === Mode.Prepend) && mf.reqCas !== 0
  ) {
    const h = store.peek(key, ks, kl);
    if (h >= 0 && store.casOf(h) !== mf.reqCas) return EX;
  }
  const st = store.store(
    mode,
    key,
    ks,
    kl,
    mf.clientFlags,
    exp,
    buf,
    ds,
    vlen,
    0,
    s.res,
  );
  switch (st) {
    case Status.Stored: {
      // Appended items are new copies that do not keep the binary-key mark.
      if (mf.keyBinary && mode !== Mode.Append && mode !== Mode.Prepend) {
        extraBits |= KEY_BINARY;
      }
      if (extraBits !== 0) {
        const h = s.res.handle;
        store.setBits(h, store.bitsOf(h) | extraBits);
      }
      return HD;
    }
    case Status.NotStored:
    case Status.TooLarge:
      return NS;
    case Status.Exists:
      return EX;
    case Status.NotFound:
      return NF;
    default:
      c.store_no_memory++;
      store.remove(key, ks, kl);
      putBytes(s.out, ME.OOM_STORE);
      return -1;
  }
}

/** What a reserved `ms` needs of its line once the block is in. */
interface SavedSet {
  /** The line's flag tokens (from the third token on), space-separated. */
  flags: Uint8Array;
  keyBinary: boolean;
  noReply: boolean;
  setStale: boolean;
  reqCas: number;
}

const EMPTY = new Uint8Array(0);

/** A large `ms` block went into its reservation: as {@link metaSet} ends. */
function sinkDone(s: Session, k: Sink, v: SavedSet): void {
  const store = s.ctx.store;
  const c = s.ctx.counters;
  const o = s.out;
  c.cmd_set++;
  const h = k.handle;
  if (k.bad) {
    store.dropReserved(h);
    putBytes(o, ME.BAD_CHUNK);
    return;
  }
  const key = store.keyBytes(h);
  const ks = store.keyStart(h);
  const kl = store.keyLen(h);
  let code = HD;
  let mode = k.mode;
  let extraBits = 0;
  if (mode === Mode.Cas) {
    // As storeItem: the cas checks (and I's stale win), then a set.
    const old = store.peek(key, ks, kl);
    if (old < 0) {
      c.cas_misses++;
      code = NF;
    } else {
      const oc = store.casOf(old);
      if (v.reqCas === oc) {
        c.cas_hits++;
      } else if (v.setStale && v.reqCas !== 0 && v.reqCas < oc) {
        c.cas_hits++;
        store.setExp(h, store.expOf(old));
        extraBits = Bits.Stale | (store.bitsOf(old) & Bits.WinSent);
      } else {
        c.cas_badval++;
        code = EX;
      }
    }
    mode = Mode.Set;
  }
  if (code === HD) {
    const st = store.commitReserved(mode, h, 0, s.res);
    if (st === Status.Stored) {
      if (v.keyBinary) extraBits |= KEY_BINARY;
      if (extraBits !== 0) store.setBits(h, store.bitsOf(h) | extraBits);
    } else code = st === Status.Exists ? EX : st === Status.NotFound ? NF : NS;
  }
  const cas = code === HD ? s.res.cas : 0;
  const mark = o.len;
  putStatus(o, code, v.flags, 0, v.flags.length, key, ks, kl, v.keyBinary, cas);
  // The key was read above: only now may the chunk go back.
  if (code !== HD) store.dropReserved(h);
  if (code === HD && v.noReply) o.len = mark;
}

/** Sends an error line; swallows `swallow` data bytes; returns 0. */
function fail(s: Session, err: Uint8Array, swallow: number): number {
  putBytes(s.out, err);
  s.swallow = swallow;
  return 0;
}
