/**
 * Loading a snapshot (see `snapshot.ts` for the whole feature and
 * `snapshot_format.ts` for the layout): synchronous, before the server
 * accepts connections. Every block is verified before any of its items is
 * used; damaged blocks are skipped and reported, a damaged block header is
 * resynchronised by scanning for the next valid one, and a missing end
 * marker means the file was cut short.
 *
 * Validation of what an intact block holds: key lengths 1..250 and record
 * lengths that exactly fill the block (`readItems`), values within `-I`
 * (the store refuses larger ones), flags and exptime are 32-bit by layout,
 * and a cas of 0 or above 2^52 is renumbered by the store, so a crafted
 * file can neither wrap the cas counter nor make cas values imprecise. Key
 * bytes are not restricted: meta's base64 keys (`b`) put any byte in a key,
 * so what the server held must load back; the one reply that prints raw
 * keys (`stats cachedump`) skips those that would break its framing.
 * @module
 */

import { newResult, Status, type Store } from "./store/types.ts";
import {
  BLOCK_HEADER,
  crc32,
  decodeBlockHeader,
  decodeFileHeader,
  FILE_HEADER,
  MAGIC,
  readItems,
  TAG_END,
  VERSION,
} from "./snapshot_format.ts";

/** Bytes read at a time while looking for the next intact block. */
const SCAN_WINDOW = 1024 * 1024;

/** A snapshot file that must not be loaded or overwritten; the message says why. */
export class SnapshotError extends Error {}

/** What loading a snapshot found. */
export interface LoadReport {
  /** The file existed. */
  found: boolean;
  /** Items put back in the store. */
  restored: number;
  /** Items dropped because they expired while the server was down. */
  expired: number;
  /** Items the store refused (larger than `-I`, or no memory). */
  refused: number;
  /** Items whose cas was 0 or above `RESTORE_CAS_MAX`: given a fresh cas. */
  renumbered: number;
  /** Items evicted during the load because the cache is smaller than the snapshot. */
  evicted: number;
  /** Blocks skipped because they failed their checksum. */
  badBlocks: number;
  /** Items known to be in the skipped blocks. */
  lostItems: number;
  /** Bytes that could not be read as blocks (resynchronised over). */
  skippedBytes: number;
  /** The file header failed its checksum (blocks were still recovered). */
  headerDamaged: boolean;
  /** The file ends before its end marker (a cut-short write or copy). */
  truncated: boolean;
}

/** True when the load found nothing wrong with the file. */
export function loadClean(r: LoadReport): boolean {
  return !r.headerDamaged && !r.truncated && r.badBlocks === 0 &&
    r.skippedBytes === 0;
}

/** A one-line, operator-facing summary of a load. */
export function describeLoad(path: string, r: LoadReport): string {
  if (!r.found) return `snapshot ${path}: not found, starting empty`;
  let s = `snapshot ${path}: restored ${r.restored} items`;
  if (r.expired > 0) s += `, dropped ${r.expired} expired`;
  if (r.refused > 0) {
    s += `, ${r.refused} refused by the store (too large or no memory)`;
  }
  if (r.evicted > 0) {
    s += `, ${r.evicted} evicted (cache smaller than snapshot)`;
  }
  if (r.renumbered > 0) {
    s += `, ${r.renumbered} given a new cas (0 or beyond 2^52)`;
  }
  if (loadClean(r)) return s;
  const why: string[] = [];
  if (r.headerDamaged) why.push("file header corrupt");
  if (r.badBlocks > 0) {
    why.push(
      `${r.badBlocks} corrupt block(s) skipped (${r.lostItems} items lost)`,
    );
  }
  if (r.skippedBytes > 0) {
    why.push(`${r.skippedBytes} unreadable bytes skipped`);
  }
  if (r.truncated) why.push("file truncated (items after the cut are lost)");
  return `${s}; SNAPSHOT DAMAGED: ${
    why.join("; ")
  } — recovered only intact blocks`;
}

function readAt(f: Deno.FsFile, pos: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  f.seekSync(pos, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = f.readSync(b.subarray(got));
    if (r === null || r === 0) break;
    got += r;
  }
  return got === n ? b : b.subarray(0, got);
}

/** Offset of the next valid block header at or after `from`, or -1. */
function resync(f: Deno.FsFile, from: number, size: number): number {
  let p = from;
  while (size - p >= BLOCK_HEADER) {
    const win = readAt(
      f,
      p,
      Math.min(SCAN_WINDOW + BLOCK_HEADER - 1, size - p),
    );
    for (let i = 0; i + BLOCK_HEADER <= win.length; i++) {
      const c = win[i];
      if ((c === 0x42 || c === 0x45) && decodeBlockHeader(win, i) !== null) {
        return p + i;
      }
    }
    if (win.length < BLOCK_HEADER) break;
    p += win.length - BLOCK_HEADER + 1;
  }
  return -1;
}

/**
 * Reads the snapshot at `path` into `store` (synchronously: it runs before
 * the server accepts connections). Items that expired meanwhile are dropped.
 * Damage is reported, not thrown; {@link SnapshotError} is thrown only for a
 * file that is not a snapshot or has a newer format version, which must not
 * be overwritten. A missing file is not an error.
 */
export function loadSnapshot(store: Store, path: string): LoadReport {
  const r: LoadReport = {
    found: false,
    restored: 0,
    expired: 0,
    refused: 0,
    renumbered: 0,
    evicted: 0,
    badBlocks: 0,
    lostItems: 0,
    skippedBytes: 0,
    headerDamaged: false,
    truncated: false,
  };
  const restore = store.restore?.bind(store);
  const res = newResult();
  if (!restore) throw new SnapshotError("this store cannot restore items");
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return r;
    throw new SnapshotError(
      `cannot open snapshot ${path}: ${(e as Error).message}`,
    );
  }
  r.found = true;
  const evictionsBefore = store.stats.evictions;
  try {
    const size = f.statSync().size;
    const head = decodeFileHeader(readAt(f, 0, FILE_HEADER));
    if (!head.magic) {
      // Still ours if it is a cut-short prefix of the magic, or if a valid
      // block follows a damaged header; anything else is someone's file.
      const b = readAt(f, 0, Math.min(size, MAGIC.length));
      const prefix = size < MAGIC.length && b.every((x, i) => x === MAGIC[i]);
      const blockFollows =
        decodeBlockHeader(readAt(f, FILE_HEADER, BLOCK_HEADER), 0) !== null;
      if (!prefix && !blockFollows) {
        throw new SnapshotError(
          `${path} is not a denocached snapshot; refusing to load or overwrite ` +
            `it (move it away or choose another --snapshot path)`,
        );
      }
    }
    if (head.intact && head.version !== VERSION) {
      throw new SnapshotError(
        `snapshot ${path} has format version ${head.version}, this build reads ` +
          `version ${VERSION}; refusing to load or overwrite it`,
      );
    }
    if (size < FILE_HEADER) {
      r.truncated = true;
      return r;
    }
    r.headerDamaged = !head.intact;
    const now = store.clock.now();
    const sink = (
      p: Uint8Array,
      ks: number,
      kl: number,
      flags: number,
      exp: number,
      cas: number,
      vs: number,
      vl: number,
    ) => {
      if (exp !== 0 && exp <= now) {
        r.expired++;
        return;
      }
      const st = restore(p, ks, kl, flags, exp, p, vs, vl, cas, res);
      if (st !== Status.Stored) {
        r.refused++;
        return;
      }
      r.restored++;
      if (res.cas !== cas) r.renumbered++;
    };
    let pos = FILE_HEADER;
    let sawEnd = false;
    while (pos < size) {
      const bh = decodeBlockHeader(readAt(f, pos, BLOCK_HEADER), 0);
      if (bh === null) {
        if (size - pos < BLOCK_HEADER) {
          r.truncated = true;
          break;
        }
        const next = resync(f, pos + 1, size);
        r.skippedBytes += (next < 0 ? size : next) - pos;
        if (next < 0) {
          r.truncated = true;
          break;
        }
        pos = next;
        continue;
      }
      if (bh.tag === TAG_END) {
        sawEnd = true;
        pos += BLOCK_HEADER;
        break;
      }
      if (pos + BLOCK_HEADER + bh.len > size) {
        r.truncated = true;
        r.lostItems += bh.count;
        break;
      }
      const payload = readAt(f, pos + BLOCK_HEADER, bh.len);
      if (
        crc32(payload) !== bh.payloadCrc || !readItems(payload, bh.count, sink)
      ) {
        r.badBlocks++;
        r.lostItems += bh.count;
      }
      pos += BLOCK_HEADER + bh.len;
    }
    if (!sawEnd) r.truncated = true;
    else if (pos < size) r.skippedBytes += size - pos; // junk after the end marker
  } finally {
    f.close();
  }
  r.evicted = store.stats.evictions - evictionsBefore;
  return r;
}
