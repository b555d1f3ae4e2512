/**
 * Word indices of the store's control blocks and counter blocks: the
 * scalars of a store that every loop of `-t N` must see, kept in typed
 * arrays so they can live in a SharedArrayBuffer (see `state.ts`).
 * @module
 */

/**
 * Int32 control words. Those every loop writes often (the cas counter; the
 * item count and sweep cursor) sit on cache lines of their own, apart from
 * the read-mostly words every command reads (mask, slots): otherwise each
 * set on one core would evict the line every get on another core reads.
 */
export const CI = {
  /** Low and high halves of the last cas unique. */
  CAS_LO: 16,
  CAS_HI: 17,
  /** Linked items, store-wide. */
  ITEMS: 32,
  /** Bucket mask of the hash index. */
  MASK: 3,
  /** Page slots in use (views up to here exist somewhere). */
  SLOTS: 4,
  /** Pages allocated. */
  POOL_COUNT: 5,
  /** Lock: the page pool and the flush watermarks. */
  POOL_LOCK: 6,
  /** Lock: doubling the index. */
  GROW_LOCK: 7,
  /** Lock: the shrink drain (cache_memlimit). */
  DRAIN_LOCK: 8,
  SWEEP_PAGE: 33,
  SWEEP_CHUNK: 34,
  DRAIN_PAGE: 11,
  DRAIN_AT: 12,
  DROPPING: 13,
  DROP_PREV: 14,
  /** Freed page slots on the free-slot stack. */
  FREE_TOP: 15,
  WORDS: 48,
} as const;

/** Float64 control words. */
export const CF = {
  LIMIT: 0,
  MALLOCED: 1,
  FLUSH_AT: 2,
  FLUSH_CAS: 3,
  PAST_AT: 4,
  PAST_CAS: 5,
  GROW_AT: 6,
  WORDS: 8,
} as const;

/** Per-loop counter words (a loop writes only its own block). */
export const ST = {
  TOTAL_ITEMS: 0,
  BYTES: 1,
  EVICTIONS: 2,
  EVICTED_UNFETCHED: 3,
  RECLAIMED: 4,
  EXPIRED_UNFETCHED: 5,
  SLAB_REASSIGNS: 6,
} as const;

/** Words per counter block: 16 (128 bytes, so blocks share no cache line). */
export const STATS_WORDS = 16;

/** Stripe locks of the key space (a power of two, ≤ the initial buckets). */
export const STRIPES = 4096;

/**
 * Int32 words per lock word (64 bytes): each lock on its own cache line, so
 * loops taking neighbouring stripes do not bounce one line between cores.
 */
export const LOCK_PAD = 16;
