/**
 * Locks of the shared store (`-t N`): mutexes made of one Int32 word each in
 * a SharedArrayBuffer, taken with `Atomics.compareExchange` and, past a
 * short spin, parked with `Atomics.wait` (Drepper's "futexes are tricky"
 * mutex 2: 0 free, 1 held, 2 held with waiters, so an unlock calls
 * `Atomics.notify` only when someone sleeps).
 *
 * Why spin first: a critical section here is a few hundred nanoseconds of
 * typed-array work, far shorter than a futex round trip; why park at all:
 * on a 2-core box the holder may be descheduled, and spinning then burns
 * the very core it needs.
 *
 * Store-level rules (order and who takes what) live in `sync.ts`; this
 * module only knows words.
 * @module
 */

/** Tries before a waiter parks; ~100 ns each. */
const SPINS = 64;
/** Longest park before re-checking (guards against a lost wake-up). */
const PARK_MS = 50;

/** Takes lock word `i` of `a`, waiting as long as it takes. */
export function lockWord(a: Int32Array, i: number): void {
  if (Atomics.compareExchange(a, i, 0, 1) === 0) return;
  for (let n = 0; n < SPINS; n++) {
    if (Atomics.load(a, i) === 0 && Atomics.compareExchange(a, i, 0, 1) === 0) {
      return;
    }
  }
  // Mark "held with waiters" and sleep until it is free.
  while (Atomics.exchange(a, i, 2) !== 0) Atomics.wait(a, i, 2, PARK_MS);
}

/** Takes lock word `i` if it is free now; true when taken. */
export function tryLockWord(a: Int32Array, i: number): boolean {
  return Atomics.compareExchange(a, i, 0, 1) === 0;
}

/** Releases lock word `i` (taken by this thread). */
export function unlockWord(a: Int32Array, i: number): void {
  if (Atomics.sub(a, i, 1) !== 1) {
    Atomics.store(a, i, 0);
    Atomics.notify(a, i, 1);
  }
}
