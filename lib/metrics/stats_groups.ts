/**
 * Every `stats` group as key/value maps, read the way memcached_exporter
 * reads them: the commands are run through a private protocol session and
 * the `STAT` lines parsed back. So `/metrics` and `/stats.json` can never
 * disagree with what a client's `stats` shows, and they need no second
 * copy of the field lists.
 * @module
 */

import type { Context } from "../protocol/context.ts";
import { createSession, feed } from "../protocol/session.ts";

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

/** Runs `stats`, `stats settings`, … on a private session and parses them. */
export function readStatsGroups(ctx: Context): StatsGroups {
  const out = {} as StatsGroups;
  // Neither logged at -vv nor timed in the latency histograms: these are
  // not client commands. (Synchronous, so no client observes the change.)
  const verbose = ctx.verbose;
  const latency = ctx.latency;
  ctx.verbose = 0;
  ctx.latency = null;
  try {
    for (const g of GROUPS) {
      out[g] = parseStatLines(run(ctx, g === "stats" ? "stats" : `stats ${g}`));
    }
  } finally {
    ctx.verbose = verbose;
    ctx.latency = latency;
  }
  return out;
}

function run(ctx: Context, command: string): string {
  const s = createSession(ctx, 0);
  s.authed = true; // an in-process reader, not a network client
  const input = enc.encode(command + "\r\n");
  let p = 0;
  let text = "";
  // feed stops early when the output passes its bound: drain and go on.
  for (let i = 0; i < 1000 && p < input.length; i++) {
    p += feed(s, input, p, input.length);
    text += dec.decode(s.out.buf.subarray(0, s.out.len));
    s.out.len = 0;
  }
  return text;
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
