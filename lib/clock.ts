/**
 * Time source for the server. memcached keeps a coarse "current time" in
 * whole seconds; so do we, behind a seam so tests can move time without
 * sleeping.
 * @module
 */

/** A source of the current unix time in whole seconds. */
export interface Clock {
  /** Current unix time in whole seconds. */
  now(): number;
}

/** The real clock: reads the system time on each call (cheap in V8). */
export const systemClock: Clock = {
  now: () => Math.floor(Date.now() / 1000),
};

/** A clock tests can set and advance by hand. */
export interface ManualClock extends Clock {
  /** Moves time forward by `seconds`. */
  advance(seconds: number): void;
  /** Sets the current time. */
  set(seconds: number): void;
}

/** Creates a {@link ManualClock} starting at `start` (unix seconds). */
export function manualClock(start = 1_700_000_000): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance: (s) => {
      t += s;
    },
    set: (s) => {
      t = s;
    },
  };
}
