/**
 * What every connection's protocol state machine shares: configuration,
 * the store, counters and the server's hooks.
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Store } from "../store/types.ts";
import type { Counters } from "./counters.ts";
import type { Latency } from "../metrics/latency.ts";
import type { Budget } from "../budget.ts";

/** The version we report; memcached's, since clients gate features on it. */
export const VERSION = "1.6.18";

/** One open connection, as `stats conns` reports it. */
export interface ConnInfo {
  id: number;
  addr: string;
  /** The listener that accepted it (`tcp:HOST:PORT`); absent for listeners. */
  listenAddr?: string;
  /** `conn_listening` for a listener, else the client's state. */
  state: string;
  /** Unix seconds of the last command. */
  lastCmd: number;
  /** -t N: its row in the shared connection table (`conn_table.ts`), or -1. */
  slot?: number;
}

/** Server-wide state seen by the protocol layer. */
export interface Context {
  config: Config;
  store: Store;
  counters: Counters;
  clock: Clock;
  /** Unix seconds when the server started. */
  started: number;
  /** Open connections by id. */
  conns: Map<number, ConnInfo>;
  /** Asks the server to stop (the `shutdown` command). */
  requestShutdown(graceful: boolean): void;
  /** Runtime-adjustable verbosity (`verbosity` command). */
  verbose: number;
  /**
   * Checks ASCII-auth credentials (`-Y`), in constant time; null when
   * authentication is off.
   */
  auth: ((user: Uint8Array, pass: Uint8Array) => boolean) | null;
  /** Checks SASL PLAIN credentials (`-S`), in constant time; null when off. */
  sasl: ((user: Uint8Array, pass: Uint8Array) => boolean) | null;
  /** Refreshes a cached clock; called once per batch of input. */
  tick(): void;
  /**
   * Runs long maintenance work in bounded slices between batches of client
   * work (`lib/slices.ts`); absent, the work runs to its end at once.
   */
  background?(step: () => boolean): void;
  /** Per-command latency histograms; null unless `--metrics` is on. */
  latency: Latency | null;
  /** The connection memory budget, for `stats`; set by the connection core. */
  budget?: Budget;
}
