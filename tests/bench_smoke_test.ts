/**
 * Smoke test of the benchmark harness (bench/bench.ts): `--help`,
 * `--dry-run`, and a one-second W1 run of memcached against itself. No
 * timing is asserted; the run is skipped (with a printed reason) when
 * memcached / memcaslap / taskset are not installed.
 * @module
 */

import assert from "node:assert/strict";
import { which } from "../bench/procs.ts";

const BENCH = new URL("../bench/bench.ts", import.meta.url).pathname;
const PERMS = [
  "--allow-net",
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];
const MEMCACHED_CMD = "memcached -t 1 -p {port} -U 0 -l 127.0.0.1";

async function bench(
  ...args: string[]
): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, BENCH, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("bench --help prints the usage and exits 0", async () => {
  const { code, out } = await bench("--help");
  assert.equal(code, 0, out);
  assert.match(out, /Usage: deno task bench/);
  assert.match(out, /--generator/);
});

Deno.test("bench rejects unknown options with exit code 2", async () => {
  const { code, out } = await bench("--no-such-option");
  assert.equal(code, 2, out);
});

Deno.test("bench --dry-run lists the plan (or says what to install)", async () => {
  const { code, out } = await bench(
    "--dry-run",
    "--server-cmd",
    MEMCACHED_CMD,
    "--workloads",
    "W1,W2,M1",
  );
  assert.equal(code, 0, out);
  if (/skipped/.test(out)) {
    console.log(`SKIP: ${out.trim()}`);
    return;
  }
  assert.match(out, /W1:/);
  assert.match(out, /W2:.*\n\s+n\/a \(needs mcload\)/);
  assert.match(out, /M1:/);
});

Deno.test("bench: 1 s W1 run of memcached against itself completes", async () => {
  const missing = ["memcached", "memcaslap", "taskset", "setsid"].filter((t) =>
    which(t) === null
  );
  if (missing.length) {
    console.log(
      `SKIP: ${
        missing.join(", ")
      } not installed (apt-get install -y memcached libmemcached-tools)`,
    );
    return;
  }
  const { code, out } = await bench(
    "--server-cmd",
    MEMCACHED_CMD,
    "--workloads",
    "W1",
    "--duration",
    "1",
    "--warmup",
    "0",
    "--rounds",
    "1",
    "--no-out",
  );
  assert.equal(code, 0, out);
  assert.match(out, /^\| W1 +\| +[\d,]+ \| +[\d,]+ \| +\d+\.\d\d \|/m, out);
});

Deno.test("bench --hit runs a tiny cache-aside case on both servers and checks every value", async () => {
  if (!which("memcached")) {
    console.log("SKIP: memcached not installed");
    return;
  }
  const { code, out } = await bench(
    "--hit",
    "--cases",
    "zipf,scan",
    "--alpha",
    "0.99",
    "--mem",
    "8",
    "--keys",
    "2000",
    "--batches",
    "40",
  );
  assert.equal(code, 0, out);
  if (/skipped/.test(out)) {
    console.log(`SKIP: ${out.trim()}`);
    return;
  }
  assert.match(out, /\| 8 +\| zipf α 0\.99 +\| 0\.\d{4}/);
  assert.match(out, /\| 8 +\| scan +\|/);
});
