/**
 * Smoke test of `bench --threads` (bench/threads.ts): `--help`, a bad
 * option, `--dry-run`, and one 1-second W1 round of memcached and
 * denocached at -t 1 and -t 2, whose tables must come out with figures. No
 * timing is asserted; skipped with a printed reason without memcached, gcc
 * or setsid.
 * @module
 */

import assert from "node:assert/strict";
import { which } from "../bench/procs.ts";
import { parseStatTicks } from "../bench/cpu_time.ts";

const BENCH = new URL("../bench/bench.ts", import.meta.url).pathname;

async function bench(...args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH, "--threads", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("parseStatTicks adds utime and stime, past a ')' in the name", () => {
  const stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 3 0";
  assert.equal(parseStatTicks(stat), 12);
  assert.ok(Number.isNaN(parseStatTicks("garbage")));
});

Deno.test("bench --threads --help, a bad option exits 2, --dry-run plans both -t", async () => {
  const h = await bench("--help");
  assert.equal(h.code, 0, h.out);
  assert.match(h.out, /Usage: deno task bench --threads/);
  assert.equal((await bench("--nope")).code, 2);
  const d = await bench("--dry-run", "--workloads", "W2");
  assert.equal(d.code, 0, d.out);
  if (/skipped/.test(d.out)) return console.log(`SKIP: ${d.out.trim()}`);
  assert.match(d.out, /denocached: .*main\.ts .*-t 1\n/);
  assert.match(d.out, /denocached: .*main\.ts .*-t 2\n/);
  assert.match(d.out, /-t 2 load: .*mcload .*-c \d+ -d 16 /);
});

Deno.test("bench --threads: one short W1 round at -t 1 and -t 2", async () => {
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
  );
  assert.equal(r.code, 0, r.out);
  for (const t of [1, 2]) {
    for (const s of ["memcached", "denocached"]) {
      assert.match(
        r.out,
        new RegExp(`W1 round 1 -t ${t} ${s} +ops_s=\\d+ .*cpu_us_req=[\\d.]+`),
      );
    }
  }
  assert.match(r.out, /generator shares the cores|generator unpinned/);
  const num = String.raw` +[\d,.]+ \|`;
  assert.match(r.out, new RegExp(String.raw`^\| W1 +\|${num.repeat(6)}`, "m"));
});
