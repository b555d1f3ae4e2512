/**
 * Fast non-cryptographic hashing of byte ranges for the item index.
 *
 * MurmurHash3 (x86, 32-bit) over a `(buf, start, len)` range: reads four
 * bytes per step, never converts to strings, never allocates.
 * @module
 */

const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593 | 0;

/**
 * Hashes `len` bytes of `buf` starting at `start`. Returns a signed 32-bit
 * integer; callers mask it with a power-of-two table size.
 */
export function hashBytes(buf: Uint8Array, start: number, len: number): number {
  let h = 0x9747b28c ^ len;
  let i = start;
  const end4 = start + (len & ~3);
  while (i < end4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) |
      (buf[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    i += 4;
  }
  const rest = len & 3;
  if (rest !== 0) {
    let k = 0;
    if (rest === 3) k ^= buf[i + 2] << 16;
    if (rest >= 2) k ^= buf[i + 1] << 8;
    k ^= buf[i];
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
