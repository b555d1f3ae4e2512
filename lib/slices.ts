/**
 * Long maintenance work (the expiry sweep, an LRU crawl, shrinking the cache
 * after `cache_memlimit`) cut into bounded slices that run between batches
 * of client work, so no single step holds the event loop for long.
 *
 * A task is a `step` that does a small, bounded amount of work and returns
 * whether any is left. A slice calls it again and again until it is done or
 * about {@link SLICE_MS} have passed, so a slice costs the same whatever a
 * step costs on this machine; the next slice is a macrotask (`setTimeout
 * 0`), so every socket read and write that became ready in the meantime runs
 * first. A task that finishes in its first slice schedules nothing (small
 * caches and tests see synchronous behaviour).
 * @module
 */

/** One bounded piece of work; true while more remains. */
export type Step = () => boolean;

/** How long one slice may run, in milliseconds. */
export const SLICE_MS = 2;

/** A millisecond clock (injectable so tests can drive slices by hand). */
export type Millis = () => number;

let probe: ((ms: number) => void) | null = null;

/**
 * Test hook: `fn` is called with the duration of every slice that follows
 * (null stops it). It costs one comparison per slice when unset.
 */
export function setSliceProbe(fn: ((ms: number) => void) | null): void {
  probe = fn;
}

/**
 * Runs steps until `step` is done or `sliceMs` have passed on `now`; true
 * while more remains.
 */
export function runSlice(
  step: Step,
  sliceMs = SLICE_MS,
  now: Millis = performance.now.bind(performance),
): boolean {
  const t0 = now();
  let more = step();
  while (more && now() - t0 < sliceMs) more = step();
  if (probe !== null) probe(now() - t0);
  return more;
}

/** Runs a slice of `step` now, then more in later macrotasks until it is done. */
export function runSliced(
  step: Step,
  sliceMs = SLICE_MS,
  now?: Millis,
): void {
  if (!runSlice(step, sliceMs, now)) return;
  const next = () => {
    if (runSlice(step, sliceMs, now)) setTimeout(next, 0);
  };
  setTimeout(next, 0);
}
