/**
 * memcached's expiry rules: 0 never expires; up to 30 days is relative to
 * now; larger is an absolute unix time (at or before server start means
 * already expired); negative means expired at once.
 * @module
 */

/** memcached's REALTIME_MAXDELTA: 30 days in seconds. */
export const MAX_DELTA = 60 * 60 * 24 * 30;

/**
 * Converts a client exptime to an absolute unix time (0 = never). Times
 * already past become 1, which every clock sees as expired.
 */
export function absoluteExpiry(
  exptime: number,
  now: number,
  started: number,
): number {
  if (exptime === 0) return 0;
  if (exptime < 0) return 1;
  if (exptime > MAX_DELTA) return exptime <= started ? 1 : exptime;
  return now + exptime;
}
