/**
 * Gives the C heap's free memory back to the kernel now and then. glibc
 * keeps what the runtime frees (V8's compiler zones, buffers of finished
 * work on helper threads) in its arenas, and an arena whose top is pinned by
 * one live chunk never shrinks by itself: 3-4 MiB of a `-m 64` server's RSS
 * were free memory in an arena of a helper thread (issue #14, measured with
 * `malloc_stats`). `malloc_trim(0)` returns the free pages of every arena
 * (`madvise(MADV_DONTNEED)` inside them, glibc 2.8+), and the mmap
 * threshold is pinned (see below). Needs Linux with glibc and
 * `--allow-ffi`; elsewhere nothing is done.
 * @module
 */

import { openOptional } from "../server/ffi/libc.ts";

/** glibc's mallopt parameter, and the threshold it starts at (128 KiB). */
const M_MMAP_THRESHOLD = -3;
const MMAP_THRESHOLD = 128 * 1024;

/** How often the heap is trimmed. */
export const TRIM_EVERY_MS = 2000;

/**
 * Starts trimming every {@link TRIM_EVERY_MS} (an unref'd timer: it never
 * keeps the process alive); returns the function that stops it, or the
 * reason it could not start.
 */
export function startHeapTrim(): (() => void) | string {
  const lib = openOptional(
    {
      malloc_trim: { parameters: ["usize"], result: "i32" },
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    } as const,
  );
  if (typeof lib === "string") return lib; // e.g. musl has no malloc_trim
  // A fixed mmap threshold: glibc raises it to the size of each mmapped
  // block freed, so once the store gave back a 1 MiB page every later page
  // and large buffer would come from the heap, which only shrinks from its
  // top. Fixed, they stay mmapped and go back to the kernel when freed.
  lib.symbols.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
  const trim = lib.symbols.malloc_trim;
  const id = setInterval(() => trim(0n), TRIM_EVERY_MS);
  Deno.unrefTimer(id);
  return () => {
    clearInterval(id);
    lib.close();
  };
}
