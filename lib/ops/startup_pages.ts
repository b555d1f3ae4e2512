/**
 * Hands back to the kernel the pages of the executable that only startup
 * read. Starting Deno reads its V8 snapshot and runs startup code out of
 * the binary's own file mapping; those pages stay resident in the process
 * (about 17 MiB of a 46 MiB idle RSS, issue #14) although the server never
 * reads most of them again. `madvise(MADV_DONTNEED)` drops them from the
 * process's page tables: they stay in the page cache (shared, clean, the
 * first thing the kernel reclaims), and a page that is still used comes
 * back on its next read as a minor fault, with the same bytes, since the
 * file is what backs it.
 *
 * Only read-only mappings of the executable (`r-xp`, `r--p`) whose resident
 * pages are all file pages (`Anonymous: 0 kB` in `/proc/self/smaps`) are
 * dropped: a RELRO page, written by the loader before it was made
 * read-only, is an anonymous copy, and dropping it would bring back the
 * unrelocated bytes of the file. Needs Linux and `--allow-ffi`; without
 * them nothing is done. smaps is read through libc too: Deno grants
 * `/proc/self` only to `--allow-all`, and FFI is already all access.
 * @module
 */

import { cString, openOptional } from "../server/ffi/libc.ts";

/** A mapping's address range, [start, end), and its resident KiB. */
export type Range = { start: bigint; end: bigint; rssKiB: number };

const MADV_DONTNEED = 4;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const SMAPS = "/proc/self/smaps";

/**
 * The mappings of `exe` in smaps text that can be dropped: read-only,
 * private, and holding no anonymous (copied-on-write) page. Pure.
 */
export function droppableRanges(smaps: string, exe: string): Range[] {
  const out: Range[] = [];
  let head: RegExpMatchArray | null = null;
  let anon = -1;
  let rss = 0;
  const close = () => {
    if (head !== null && anon === 0) {
      out.push({
        start: BigInt("0x" + head[1]),
        end: BigInt("0x" + head[2]),
        rssKiB: rss,
      });
    }
  };
  for (const line of smaps.split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      close();
      const m = line.match(
        /^([0-9a-f]+)-([0-9a-f]+) (r-xp|r--p) [0-9a-f]+ \S+ \d+ +(.+)$/,
      );
      head = m !== null && m[4] === exe ? m : null;
      anon = -1;
      rss = 0;
    } else if (line.startsWith("Rss:")) {
      rss = parseInt(line.slice(4), 10);
    } else if (line.startsWith("Anonymous:")) {
      anon = parseInt(line.slice(10), 10);
    }
  }
  close();
  return out;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** A /proc file's text through libc, or null if it cannot be read. */
function readWhole(s: Libc, path: string): string | null {
  const fd = s.open(cString(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return null;
  try {
    // One buffer, doubled when full: smaps is ~120 KiB here.
    let b = new Uint8Array(1 << 18);
    let len = 0;
    for (;;) {
      if (len === b.length) {
        const nb = new Uint8Array(b.length * 2);
        nb.set(b);
        b = nb;
      }
      const n = Number(s.read(fd, b.subarray(len), BigInt(b.length - len)));
      if (n < 0) return null;
      if (n === 0) break;
      len += n;
    }
    return new TextDecoder().decode(b.subarray(0, len));
  } finally {
    s.close(fd);
  }
}

/** What {@link dropStartupPages} did. */
export type DropReport =
  | { dropped: true; ranges: number; residentKiB: number }
  | { dropped: false; why: string };

/**
 * Drops the executable's startup-only pages from this process (see the
 * module doc). Call it once the server is serving: the pages startup
 * touched after this call would stay.
 */
export function dropStartupPages(): DropReport {
  const lib = openOptional(SYMBOLS);
  if (typeof lib === "string") return { dropped: false, why: lib };
  let kib = 0;
  let n = 0;
  try {
    const smaps = readWhole(lib.symbols, SMAPS);
    if (smaps === null) return { dropped: false, why: `cannot read ${SMAPS}` };
    for (const r of droppableRanges(smaps, Deno.execPath())) {
      if (lib.symbols.madvise(r.start, r.end - r.start, MADV_DONTNEED) === 0) {
        kib += r.rssKiB;
        n++;
      }
    }
  } finally {
    lib.close();
  }
  return { dropped: true, ranges: n, residentKiB: kib };
}
