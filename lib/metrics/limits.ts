/**
 * Defaults of the metrics listener, in one place.
 * @module
 */

/** Default port of the metrics listener (memcached_exporter's). */
export const DEFAULT_METRICS_PORT = 9150;
/** Default limit of simultaneous HTTP connections (`-o metrics_max_conns=`). */
export const DEFAULT_METRICS_CONNECTIONS = 64;
