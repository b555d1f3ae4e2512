/**
 * Differential tests of the meta protocol (mg, ms, md, ma, mn, me): the same
 * byte scripts go to a real memcached 1.6.18 and to an in-process
 * denocached; replies must be identical once cas values are named by
 * identity and second-granular times are rounded (a second may tick between
 * two commands on one server and not on the other). Every script uses its
 * own keys, and the `stats` counters are compared at the end.
 * @module
 */

import assert from "node:assert/strict";
import {
  diffTest,
  type Io,
  raw,
  settle,
  startMemcached,
  withServer,
} from "./_helpers.ts";
import { type Case, MG, MS, type Step } from "./_meta_diff_cases.ts";
import { MDMA, OTHER } from "./_meta_diff_cases_mod.ts";

const SENTINEL = "VERSION 1.6.18\r\n";

/** Base64 of an ASCII string. */
const b64 = (s: string) => btoa(s);

/**
 * Names cas values by identity (` c<n>`, `cas=<n>`, gets' VALUE lines) and
 * rounds relative times (` t<n>`, ` l<n>`, `exp=`, `la=`) to tens. `me`'s
 * `cls=` is blanked: the store's size classes are its own, not memcached's.
 */
function normalizeMeta(text: string): string {
  const ids = new Map<string, string>();
  const name = (v: string) => {
    if (!ids.has(v)) ids.set(v, `#${ids.size}`);
    return ids.get(v)!;
  };
  const round = (v: string) => String(Math.round(Number(v) / 10) * 10);
  return text
    .replace(
      /^(VALUE \S+ \d+ \d+) (\d+)\r$/gm,
      (_m, a, c) => `${a} ${name(c)}\r`,
    )
    .replace(/ c(\d+)(?=[ \r])/g, (_m, c) => ` c${name(c)}`)
    .replace(/ cas=(\d+)/g, (_m, c) => ` cas=${name(c)}`)
    .replace(/ ([tl])(\d+)(?=[ \r])/g, (_m, f, v) => ` ${f}${round(v)}`)
    .replace(/ cls=\d+/g, " cls=?")
    .replace(
      / (exp|la)=(-?\d+)/g,
      (_m, f, v) => ` ${f}=${v === "-1" ? v : round(v)}`,
    );
}

/** Sends each step (then `version`) and collects all replies. */
async function exchange(port: number, steps: Step[]): Promise<string> {
  const c = await raw(port);
  let all = "";
  try {
    for (const step of steps) {
      const text = typeof step === "string" ? step : step(all);
      await c.send(text + "version\r\n");
      const out = await c.until(SENTINEL, 10000);
      all += out.endsWith(SENTINEL)
        ? out.slice(0, -SENTINEL.length)
        : out + "<timeout>";
    }
    return all;
  } finally {
    c.close();
    await settle(5);
  }
}

const COUNTERS = [
  "cmd_get",
  "cmd_set",
  "cmd_touch",
  "cmd_meta",
  "get_hits",
  "get_misses",
  "touch_hits",
  "touch_misses",
  "delete_hits",
  "delete_misses",
  "incr_hits",
  "incr_misses",
  "decr_hits",
  "decr_misses",
  "cas_hits",
  "cas_misses",
  "cas_badval",
  "store_too_large",
  "curr_items",
];

async function counters(port: number): Promise<string> {
  const out = await exchange(port, ["stats\r\n"]);
  const m = new Map(
    [...out.matchAll(/^STAT (\S+) (\S+)\r$/gm)].map((x) => [x[1], x[2]]),
  );
  return COUNTERS.map((n) => `${n}=${m.get(n)}`).join(" ");
}

/** Set META_DIFF_DUMP=1 to print memcached's (normalized) replies. */
const dump = Deno.env.get("META_DIFF_DUMP") === "1";

/** Runs every case on both servers; fails listing each difference. */
async function compare(
  io: Io | undefined,
  cases: Case[],
  withCounters: boolean,
) {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const diffs: string[] = [];
      for (const [i, [name, build]] of cases.entries()) {
        const k = `m${i}x`;
        const steps = build(k, b64(k));
        const want = normalizeMeta(await exchange(mc.port, steps));
        const got = normalizeMeta(await exchange(srv.port, steps));
        if (dump) console.log(name, JSON.stringify(want));
        if (want !== got) {
          const shown = steps.map((s) => typeof s === "string" ? s : "<fn>")
            .join("");
          diffs.push(
            `${name}: ${JSON.stringify(shown.slice(0, 300))}\n` +
              `  memcached:  ${JSON.stringify(want.slice(0, 500))}\n` +
              `  denocached: ${JSON.stringify(got.slice(0, 500))}`,
          );
        }
      }
      if (withCounters) {
        const want = await counters(mc.port);
        const got = await counters(srv.port);
        if (want !== got) {
          diffs.push(`stats:\n  memcached:  ${want}\n  denocached: ${got}`);
        }
      }
      assert.equal(
        diffs.join("\n"),
        "",
        `${diffs.length} of ${cases.length} scripts differ`,
      );
    });
  } finally {
    await mc.stop();
  }
}
diffTest("meta diff: mg", async (io) => {
  await compare(io, MG, false);
});

diffTest("meta diff: ms", async (io) => {
  await compare(io, MS, false);
});

diffTest("meta diff: md, ma", async (io) => {
  await compare(io, MDMA, false);
});

diffTest("meta diff: mn, me, pipelines and stats counters", async (io) => {
  await compare(io, [...MG, ...MS, ...MDMA, ...OTHER], true);
});
