/**
 * Warm restart (`--snapshot FILE`): write every live item to a file on exit
 * (and every `--snapshot-interval` seconds), load it back at start.
 *
 * Writing is atomic: items go to `FILE.tmp`, which is fsynced and renamed
 * over `FILE` (then the directory is fsynced), so a crash or `kill -9` at any
 * moment leaves the previous snapshot intact. The format (see
 * `snapshot_format.ts`) checksums each block, so a damaged file yields every
 * intact block plus a clear report — never a crash, never unchecked data.
 *
 * Consistency: items are copied out of the store through its resumable
 * scan cursor in batches (a block of ~4 MiB, 32 Ki chunks or ~2 ms of
 * copying, whichever ends first), and each block is written before the next
 * is copied, so a large cache never stalls the event loop for long nor is
 * duplicated in memory. At exit no client is connected, so the file is an
 * exact image. A
 * periodic snapshot taken while clients write is "fuzzy": an item changed
 * during the snapshot may be saved in its old or its new state, and an item
 * moved by a rewrite can appear twice (the later copy, which wins on load, is
 * the newer one) or be missed if it moved behind the cursor.
 * @module
 */

import { Cursor, type Store } from "./store/types.ts";
import { copyBytes } from "./store/chunk.ts";
import {
  BLOCK_HEADER,
  crc32Update,
  encodeBlockHeader,
  encodeFileHeader,
  encodeItemHeader,
  FILE_HEADER,
  ITEM_HEADER,
  TAG_BLOCK,
  TAG_END,
} from "./snapshot_format.ts";

/** Target payload size of one block (the unit a checksum protects). */
export const BLOCK_BYTES = 4 * 1024 * 1024;
/** Chunks one scan call looks at (bounds one step with big items). */
const SCAN_CHUNKS = 64;
/** Chunks a batch looks at at most before it yields to client work. */
const BATCH_CHUNKS = 32_768;
/**
 * Milliseconds a batch may copy for before it yields: copying 4 MiB of
 * small items takes tens of ms, so a batch stops early on time.
 */
const BATCH_MS = 2;

function yieldLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

export {
  describeLoad,
  loadClean,
  type LoadReport,
  loadSnapshot,
  SnapshotError,
} from "./snapshot_load.ts";

/** What one save wrote. */
export interface SaveReport {
  items: number;
  bytes: number;
}

/** The temporary file a save writes before renaming it over `path`. */
export function tmpPath(path: string): string {
  return `${path}.tmp`;
}

/**
 * Bytes one file write hands over at most: a write copies into the page
 * cache on the event loop's thread (4 MiB held it ~10 ms here).
 */
const WRITE_BYTES = 256 * 1024;

async function writeAll(f: Deno.FsFile, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) {
    off += await f.write(b.subarray(off, off + WRITE_BYTES));
  }
}

/** fsyncs the directory of `path`, off the event loop (it can take ms). */
async function syncDir(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Not permitted or not supported: the rename is still atomic, only its
    // durability across a power cut is weaker.
  }
}

/**
 * Writes every live item of `store` to `path` atomically. `blockBytes`
 * bounds how much is copied per event-loop turn (and the memory used).
 */
export async function saveSnapshot(
  store: Store,
  path: string,
  blockBytes = BLOCK_BYTES,
): Promise<SaveReport> {
  const tmp = tmpPath(path);
  const file = await Deno.open(tmp, {
    write: true,
    create: true,
    truncate: true,
  });
  let items = 0;
  let bytes = FILE_HEADER;
  try {
    await writeAll(file, encodeFileHeader(store.clock.now()));
    // The store's scan cursor survives the awaits between batches, so each
    // batch costs only what it copies: a batch ends once it filled a block
    // or looked at BATCH_CHUNKS chunks, then its blocks are written (the
    // await lets client work run). Each scan call looks at SCAN_CHUNKS
    // chunks, which bounds one step even when every chunk holds a big item.
    let out = new Uint8Array(BLOCK_HEADER + blockBytes);
    let dv = new DataView(out.buffer);
    let used = BLOCK_HEADER;
    let count = 0;
    let sealed: Uint8Array[] = [];
    // Written blocks of the usual size, for reuse: a fresh 4 MiB buffer per
    // block was external memory pressure, i.e. a major GC every few blocks.
    const spare: Uint8Array<ArrayBuffer>[] = [];
    let sealedBytes = 0;
    // The block's checksum is kept up to date batch by batch (checksumming
    // 4 MiB at once would hold the loop for ~10 ms).
    let crc = 0;
    let crcAt = BLOCK_HEADER;
    const advanceCrc = () => {
      crc = crc32Update(crc, out, crcAt, used);
      crcAt = used;
    };
    const seal = () => {
      if (count === 0) return;
      advanceCrc();
      const payload = out.subarray(BLOCK_HEADER, used);
      encodeBlockHeader(
        out,
        0,
        TAG_BLOCK,
        payload,
        payload.length,
        count,
        crc,
      );
      crc = 0;
      crcAt = BLOCK_HEADER;
      sealed.push(out.subarray(0, used));
      sealedBytes += used;
      items += count;
      count = 0;
      used = BLOCK_HEADER;
      out = spare.pop() ?? new Uint8Array(BLOCK_HEADER + blockBytes);
      dv = new DataView(out.buffer);
    };
    const copy = (h: number) => {
      const kl = store.keyLen(h);
      const vl = store.valueLen(h);
      const need = ITEM_HEADER + kl + vl;
      if (used + need > out.length) {
        seal();
        // An item bigger than a block gets a block of its own.
        if (need > blockBytes) {
          out = new Uint8Array(BLOCK_HEADER + need);
          dv = new DataView(out.buffer);
        }
      }
      encodeItemHeader(
        dv,
        used,
        kl,
        store.flagsOf(h),
        store.expOf(h),
        store.casOf(h),
        vl,
      );
      // The value follows the key in its chunk, as in the file: one copy,
      // and no subarray for small items (one per item was a scavenge every
      // 40 ms).
      const src = store.keyBytes(h);
      const ks = store.keyStart(h);
      copyBytes(out, used + ITEM_HEADER, src, ks, kl + vl);
      used += need;
      count++;
    };
    let cursor: number = Cursor.Start;
    while (cursor !== Cursor.Done) {
      let looked = 0;
      const t0 = performance.now();
      while (
        cursor !== Cursor.Done && sealedBytes < blockBytes &&
        looked < BATCH_CHUNKS && performance.now() - t0 < BATCH_MS
      ) {
        cursor = store.scan(cursor, SCAN_CHUNKS, copy);
        looked += SCAN_CHUNKS;
      }
      advanceCrc();
      if (cursor === Cursor.Done) seal();
      const batch = sealed;
      sealed = [];
      sealedBytes = 0;
      for (const blk of batch) {
        await writeAll(file, blk);
        bytes += blk.length;
        if (blk.buffer.byteLength === BLOCK_HEADER + blockBytes) {
          spare.push(new Uint8Array(blk.buffer as ArrayBuffer));
        }
      }
      // Yield even when nothing was sealed, so a sparse store is no stall.
      if (batch.length === 0 && cursor !== Cursor.Done) await yieldLoop();
    }
    const end = new Uint8Array(BLOCK_HEADER);
    encodeBlockHeader(end, 0, TAG_END, end, 0, items);
    await writeAll(file, end);
    bytes += BLOCK_HEADER;
    await file.sync();
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  await Deno.rename(tmp, path);
  await syncDir(path);
  return { items, bytes };
}

/** Periodic and final snapshots of one store. */
export interface Snapshotter {
  /** Saves now, or joins the save in progress. */
  save(): Promise<SaveReport>;
  /** Stops the timer, waits for a save in progress, writes the final one. */
  final(): Promise<SaveReport>;
}

/**
 * Starts periodic snapshots every `intervalSec` seconds (0 = none; only
 * {@link Snapshotter.final}). Failures of periodic saves are passed to `log`
 * and retried at the next tick; the final save's failure is thrown.
 */
export function startSnapshots(
  store: Store,
  path: string,
  intervalSec: number,
  log: (msg: string) => void,
): Snapshotter {
  let running: Promise<SaveReport> | null = null;
  const save = (): Promise<SaveReport> => {
    if (running) return running;
    running = saveSnapshot(store, path).finally(() => {
      running = null;
    });
    return running;
  };
  const timer = intervalSec > 0
    ? setInterval(() => {
      if (running) return; // a slow save is still going: skip this tick
      save().catch((e) =>
        log(`snapshot ${path} failed: ${(e as Error).message}`)
      );
    }, intervalSec * 1000)
    : null;
  return {
    save,
    async final() {
      if (timer !== null) clearInterval(timer);
      if (running) await running.catch(() => {});
      return await save();
    },
  };
}
