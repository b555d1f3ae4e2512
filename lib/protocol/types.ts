/**
 * The protocol layer's shared types and limits, in one home: every command
 * module imports from here (never from `session.ts`, which imports them), so
 * the protocol folder has no import cycle.
 * @module
 */

import type { Mode, StoreResult } from "../store/types.ts";
import type { Context } from "./context.ts";
import type { OutBuf } from "./outbuf.ts";
import type { Tokens } from "./tokens.ts";

/** Longest key memcached accepts (KEY_MAX_LENGTH), in every protocol. */
export const KEY_MAX = 250;
/** Longest command line memcached buffers without a newline. */
export const MAX_LINE = 2048;
/** Longest get/gets line we buffer (memcached lets multigets grow unbounded). */
export const MAX_GET_LINE = 1024 * 1024;
/** Returned by handlers when the command's data block is incomplete. */
export const NEED_MORE = -1;
/**
 * Returned by a handler that answered part of its line and stopped because
 * the output passed `maxOutputBytes`; `feed` consumes up to `resumeAt`.
 */
export const PAUSE = -2;
/**
 * memcached's MAX_NUMBER_OF_SLAB_CLASSES: class ids a client may name
 * (`stats cachedump`). The store may make more classes than this; counters
 * are sized by the store's own limit.
 */
export const MAX_WIRE_CLASS = 64;

/** Which protocol a connection speaks (memcached's `-B`). */
export const Proto = {
  /** Not decided yet: the first byte decides (0x80 binary, else text). */
  Negotiating: 0,
  /** Text and meta commands. */
  Text: 1,
  /** The binary protocol. */
  Binary: 2,
} as const;
/** One of the {@link Proto} values. */
export type Proto = typeof Proto[keyof typeof Proto];

/** State of one connection's protocol. */
export interface Session {
  ctx: Context;
  out: OutBuf;
  t: Tokens;
  /** The protocol the connection speaks, decided by its first byte. */
  proto: Proto;
  /** The current command asked for no reply. */
  noreply: boolean;
  /** Bytes of a rejected data block still to discard. */
  swallow: number;
  /** Close after sending what is in `out`. */
  close: boolean;
  /** Connection id, for logs and `stats conns`. */
  id: number;
  /** False until ASCII auth (`-Y`) or SASL (`-S`) succeeds. */
  authed: boolean;
  /**
   * A multiget paused after its replies passed the output bound (so one line
   * naming a big value thousands of times is never buffered whole): 0 when
   * none, else 1 | 2 (gets) | 4 (gat/gats). The rest of its line holds the
   * remaining keys and is fed to `getMore`.
   */
  getMore: number;
  /** A `stats cachedump` between two of its slices (`stats.ts`), or null. */
  dump: Dump | null;
  /** Expiry of the paused gat/gats. */
  getExp: number;
  /** Buffer offset up to which a PAUSE consumed the line. */
  resumeAt: number;
  /** A SASL PLAIN exchange was started (for SASL Step). */
  saslStarted: boolean;
  /**
   * A SASL exchange succeeded on this connection: as with Cyrus SASL, a
   * further Auth or Step on it fails.
   */
  saslDone: boolean;
  /** -vv: the pending command line was logged (a set awaiting data is logged once). */
  logged: boolean;
  /** What the last store call did (reused, so requests allocate nothing). */
  res: StoreResult;
  /**
   * Pending output (own and referenced bytes) past which no more input is
   * parsed until it is sent: `maxOutputBytes`, lowered by the connection
   * core while the memory budget runs short.
   */
  outLimit: number;
  /** Input offset where the command being handled starts. */
  lineStart: number;
  /**
   * Asks whether the input buffer may hold `total` bytes from
   * {@link lineStart} (a data block still arriving): the connection core
   * draws them from the memory budget. False means no memory: the handler
   * answers out of memory and swallows the block. Without a core, always
   * true.
   */
  input: (total: number) => boolean;
  /** A data block going straight into its reserved item (`sink.ts`), or null. */
  sink: Sink | null;
  /**
   * Draws `n` bytes of a value going straight into the store from the
   * memory budget (a negative `n` gives them back): the budget still sees
   * every upload in flight. False means refused. Without a core, always
   * true.
   */
  charge: (n: number) => boolean;
}

/**
 * {@link Session.getMore} of a `stats cachedump` answered in slices: its
 * line is fed again (to `dumpMore`) in a later turn of the event loop, so
 * a 2 MiB dump never holds the loop for long.
 */
export const DUMP_MORE = 8;

/** Where a sliced `stats cachedump` stands. */
export interface Dump {
  /** Size class and item limit (0 = none) asked for. */
  cls: number;
  limit: number;
  /** Items and bytes written so far. */
  n: number;
  bytes: number;
  /** Items looked at so far (an upper bound). */
  looked: number;
  /** Where the walk resumes (`Store.lruWalk`'s `from`). */
  next: number;
}

/** A data block copied into its reserved item as it arrives (`sink.ts`). */
export interface Sink {
  /** The reservation (`Store.reserve`). */
  handle: number;
  /** Value bytes expected, and copied so far. */
  vlen: number;
  got: number;
  /** Bytes after the value that must be `\r\n` (2, or 0 in binary), and seen. */
  tailLen: number;
  tail: number;
  /** A trailer byte was not `\r\n`. */
  bad: boolean;
  /** The command's store mode, and the cas it compares (cas mode). */
  mode: Mode;
  cas: number;
  /** Once the block is in: commits or drops the reservation, and replies. */
  done: (s: Session, k: Sink) => void;
}
