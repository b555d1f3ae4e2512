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
  /**
   * Where the time lives, so the event loops of `-t N` (Workers) read the
   * same clock: see {@link sharedClock}.
   */
  readonly shared: SharedArrayBuffer;
}

/** Creates a {@link ManualClock} starting at `start` (unix seconds). */
export function manualClock(start = 1_700_000_000): ManualClock {
  const shared = new SharedArrayBuffer(8);
  const t = new Float64Array(shared);
  t[0] = start;
  return {
    now: () => t[0],
    advance: (s) => {
      t[0] += s;
    },
    set: (s) => {
      t[0] = s;
    },
    shared,
  };
}

/** A clock reading the time a {@link ManualClock} of another thread sets. */
export function sharedClock(shared: SharedArrayBuffer): Clock {
  const t = new Float64Array(shared);
  return { now: () => t[0] };
}

/** The buffer of a clock other threads can read, or null (the system clock). */
export function clockBuffer(clock: Clock): SharedArrayBuffer | null {
  const s = (clock as Partial<ManualClock>).shared;
  return s instanceof SharedArrayBuffer ? s : null;
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
