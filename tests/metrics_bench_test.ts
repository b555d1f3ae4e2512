/**
 * Smoke test of `bench --metrics` (bench/metrics_cost.ts): `--help`, a bad
 * option, and one W1 round of 1-second windows: memcached, denocached off
 * and on solo, then off and on paired (the on server must find its
 * commands in the latency histograms). No timing is asserted; skipped
 * with a printed reason without memcached or gcc.
 * @module
 */

import assert from "node:assert/strict";
import { which } from "../bench/procs.ts";

const BENCH = new URL("../bench/bench.ts", import.meta.url).pathname;

async function bench(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH, "--metrics", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("bench --metrics --help, and a bad option exits 2", async () => {
  const h = await bench("--help");
  assert.equal(h.code, 0, h.out);
  assert.match(h.out, /Usage: deno task bench --metrics/);
  assert.equal((await bench("--nope")).code, 2);
});

Deno.test("bench --metrics: one short W1 round, off and on side by side", async () => {
  if (!which("memcached") || !which("gcc") || !which("setsid")) {
    console.log("SKIP: needs memcached, gcc and setsid");
    return;
  }
  const r = await bench(
    "--workloads",
    "W1",
    "--rounds",
    "1",
    "--duration",
    "1",
    "--warmup",
    "0",
    "--pairs",
    "1",
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /W1 round 1 off +ops_s=\d+/);
  assert.match(r.out, /W1 round 1 on +ops_s=\d+ .*cpu_us_req=[\d.]+/);
  assert.match(r.out, /W1 round 1 paired +off ops_s=\d+ .*on ops_s=\d+/);
  assert.match(
    r.out,
    /W1 round 1 on\/off +solo ops=[\d.]+ .*paired ops=[\d.]+ .*timed=\d+ .*clock=/,
  );
  // The scraper process (bench/scraper.ts, pinned beside the generator)
  // scraped "on" while it ran.
  assert.match(r.out, /W1 round 1 on\/off .* scrapes=[1-9]\d* /);
  assert.match(r.out, /\| W1 +\| +[\d,]+ \| +[\d,]+ \| +[\d,]+ \| +[\d.]+ \|/);
});
