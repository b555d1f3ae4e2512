/**
 * Every `stats` group as key/value maps, read the way memcached_exporter
 * reads them: the commands are run through a private protocol session and
 * the `STAT` lines parsed back. So `/metrics` and `/stats.json` can never
 * disagree with what a client's `stats` shows, and they need no second
 * copy of the field lists.
 * @module
 */

import type { Context } from "../protocol/context.ts";
import { createSession } from "../protocol/session.ts";
import { dispatch } from "../protocol/dispatch.ts";

/** The groups, each as memcached prints it (`stats <group>`; "" = plain). */
export const GROUPS = [
  "stats",
  "settings",
  "items",
  "slabs",
  "conns",
  "loops",
] as const;

/** Name of a group. */
export type Group = typeof GROUPS[number];

/** Each group's `STAT name value` pairs, in memcached's order. */
export type StatsGroups = Record<Group, Map<string, string>>;

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Runs `stats`, `stats settings`, … on a private session and parses them;
 * the groups not in `groups` are left empty (not run).
 */
export function readStatsGroups(
  ctx: Context,
  groups: readonly Group[] = GROUPS,
): StatsGroups {
  const out = {} as StatsGroups;
  for (const g of GROUPS) {
    out[g] = groups.includes(g)
      ? parseStatLines(run(ctx, g === "stats" ? "stats" : `stats ${g}`))
      : new Map();
  }
  return out;
}

/**
 * One stats command, run by `dispatch` itself rather than `feed`: `feed`
 * would time it in the latency histograms, and these are not client
 * commands. Nothing on `ctx` is switched off meanwhile either: storing into
 * its fields (as this once did with `verbose` and `latency`) makes V8 drop
 * the optimized code of every hot function that had them folded in as
 * constants, and a freshly started server then ran its first seconds of
 * load after the first scrape unoptimized (2–4% of W2's CPU in `bench
 * --metrics`).
 */
function run(ctx: Context, command: string): string {
  const s = createSession(ctx, 0);
  // An in-process reader, not a network client, and not logged at -vv.
  // Each field is stored only when it must change: any store into a field
  // V8 still treats as constant (even of the value it holds) drops
  // `dispatch`'s optimized code.
  if (!s.authed) s.authed = true;
  if (ctx.verbose > 1) s.logged = true;
  const input = enc.encode(command + "\r\n");
  dispatch(s, input, 0, input.length - 2, input.length, input.length);
  return dec.decode(s.out.buf.subarray(0, s.out.len));
}

/** Parses `STAT k v` lines (up to `END`) into an ordered map. */
export function parseStatLines(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    if (!line.startsWith("STAT ")) continue;
    const sp = line.indexOf(" ", 5);
    if (sp < 0) m.set(line.slice(5), "");
    else m.set(line.slice(5, sp), line.slice(sp + 1));
  }
  return m;
}

/**
 * Splits `items:<id>:<field>` / `<id>:<field>` keys by class id, as
 * memcached_exporter does; keys without a class id are left out.
 */
export function byClass(
  group: Map<string, string>,
  prefix: string,
): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [k, v] of group) {
    if (!k.startsWith(prefix)) continue;
    const rest = k.slice(prefix.length);
    const c = rest.indexOf(":");
    if (c <= 0 || !/^\d+$/.test(rest.slice(0, c))) continue;
    const id = rest.slice(0, c);
    let m = out.get(id);
    if (!m) out.set(id, m = new Map());
    m.set(rest.slice(c + 1), v);
  }
  return out;
}
