/**
 * Long maintenance work (an LRU crawl, shrinking the cache after
 * `cache_memlimit`) cut into bounded slices that run between batches of
 * client work, so no single step holds the event loop for long.
 *
 * Each slice is one call of the task's `step`, which does a bounded amount
 * of work and returns whether any is left; the next slice is a macrotask
 * (`setTimeout 0`), so every socket read and write that became ready in the
 * meantime runs first. A task that finishes in its first slice schedules
 * nothing (small caches and tests see synchronous behaviour).
 * @module
 */

/** One bounded piece of work; true while more remains. */
export type Step = () => boolean;

/** Runs `step` now, then again in later macrotasks until it returns false. */
export function runSliced(step: Step): void {
  if (!step()) return;
  const next = () => {
    if (step()) setTimeout(next, 0);
  };
  setTimeout(next, 0);
}
