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

/** A clock that reads the system time only when told to (see {@link CachedClock.tick}). */
export interface CachedClock extends Clock {
  /** Re-reads the system time. */
  tick(): void;
}

/**
 * memcached keeps a `current_time` refreshed by a timer rather than asking
 * the OS per request; so do we: the server ticks this once per read batch
 * and once a second, and the hot path reads a plain number.
 */
export function cachedClock(): CachedClock {
  let t = Math.floor(Date.now() / 1000);
  return {
    now: () => t,
    tick: () => {
      t = Math.floor(Date.now() / 1000);
    },
  };
}
