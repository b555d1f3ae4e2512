/**
 * `--metrics` on the command line: parsing (`--metrics`, `-o metrics=`,
 * `-o metrics_max_conns=`), and the real process: serves /healthz, stops
 * with exit 0 on SIGTERM, refuses a bad address (64) or a taken port (71).
 * @module
 */

import assert from "node:assert/strict";
import { parseCli } from "../lib/cli.ts";
import { freePort, waitListening } from "./_helpers.ts";

Deno.test("--metrics and -o metrics= parse host and port", () => {
  assert.deepEqual(parseCli(["--metrics=9150"]).config.metrics, {
    hostname: "127.0.0.1",
    port: 9150,
    maxConnections: 64,
  });
  assert.equal(
    parseCli(["--metrics", "0.0.0.0:1"]).config.metrics?.hostname,
    "0.0.0.0",
  );
  const o = parseCli(["-o", "metrics=[::1]:9151,metrics_max_conns=5"]);
  assert.deepEqual(o.config.metrics, {
    hostname: "::1",
    port: 9151,
    maxConnections: 5,
  });
  assert.equal(parseCli([]).config.metrics, null);
  assert.throws(() => parseCli(["--metrics=x:y"]), /--metrics: invalid port/);
  assert.throws(() => parseCli(["--metrics=::1:9"]), /IPv6/);
});

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function run(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "--allow-net", MAIN, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test("the process serves /healthz and stops on SIGTERM with exit 0", async () => {
  const port = freePort();
  const mport = freePort();
  const child = run(["-p", String(port), `--metrics=127.0.0.1:${mport}`]);
  try {
    await waitListening(port);
    const r = await fetch(`http://127.0.0.1:${mport}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "ok\n");
    const m = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
    assert.match(m, /^memcached_up 1$/m);
  } finally {
    child.kill("SIGTERM");
  }
  const st = await child.status;
  await child.stderr.cancel();
  assert.equal(st.code, 0);
});

Deno.test("a bad or taken metrics address stops the start", async () => {
  const bad = run(["-p", "0", "--metrics=nope:x"]);
  const e1 = new TextDecoder().decode((await bad.output()).stderr);
  assert.equal((await bad.status).code, 64, e1);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const taken = run([
      "-p",
      "0",
      `--metrics=127.0.0.1:${(l.addr as Deno.NetAddr).port}`,
    ]);
    const out = await taken.output();
    const e2 = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 71, e2);
    assert.match(e2, /metrics listener on 127\.0\.0\.1:\d+/);
  } finally {
    l.close();
  }
});
