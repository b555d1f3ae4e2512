/**
 * Freeing a buffer's memory at once. V8 frees an ArrayBuffer's bytes only
 * when a GC finds it unreachable, and while the heap is steady major GCs
 * are rare: pages the store gave back, and the buffers of hundreds of
 * connections closed after a storm, stayed resident for tens of seconds
 * (issues #12 and #14). Detaching the buffer (`transfer(0)`) frees its
 * bytes now; every view of it then has length 0. An op still reading or
 * writing it (the portable transport's) keeps its own reference to the
 * bytes, which go when it ends.
 * @module
 */

/**
 * Frees the memory behind `b` now. `b` must be the whole of a buffer that
 * nothing else will use (not a view into a bigger one). Empty, shared and
 * non-detachable buffers are left as they are.
 */
export function freeNow(b: Uint8Array): void {
  const ab = b.buffer;
  if (ab.byteLength === 0 || !(ab instanceof ArrayBuffer)) return;
  try {
    ab.transfer(0);
  } catch {
    // Not detachable: left to the GC.
  }
}
