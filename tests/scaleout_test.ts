/**
 * Scale-out the memcached way: the servers know nothing of each other,
 * keys are spread by consistent hashing (ketama) in a proxy or in the
 * client. Three denocached instances behind twemproxy (nutcracker), and
 * the same three used directly by `npm:memcached`, a ketama client; every
 * key is checked on each instance directly.
 * @module
 */

import assert from "node:assert/strict";
import { type RunningServer, startServer } from "../mod.ts";
import { freePort, raw, settle, skip, which } from "./_helpers.ts";
import { DENO, ROOT, spawnProc, spawnServer } from "./_proc.ts";
import { type KetamaReport, ketamaRing } from "./_ketama_client.ts";

const N = 300;
const SBIN = "/usr/sbin/nutcracker";
const key = (i: number) => `user:${i}`;
const value = (i: number) => `v${i}-${"x".repeat(i % 50)}`;

/** Starts three in-process denocached instances. */
async function three(): Promise<RunningServer[]> {
  return await Promise.all(
    [0, 1, 2].map(() => startServer({ port: 0, memoryLimitMb: 8 })),
  );
}

/** Sends `script` on a fresh connection and reads up to the `end` line. */
async function ask(port: number, script: string, end: string): Promise<string> {
  const c = await raw(port);
  try {
    await c.send(script);
    return await c.until(end, 10_000);
  } finally {
    c.close();
    await settle();
  }
}

/** The keys (of the N) that the instance on `port` holds, asked directly. */
async function held(port: number): Promise<Set<string>> {
  const keys = Array.from({ length: N }, (_, i) => key(i)).join(" ");
  const out = await ask(port, `get ${keys}\r\n`, "END\r\n");
  return new Set([...out.matchAll(/^VALUE (\S+) /gm)].map((m) => m[1]));
}

/** Checks the keys are partitioned: each on exactly one instance, all used. */
async function partition(servers: RunningServer[]): Promise<Set<string>[]> {
  const sets = await Promise.all(servers.map((s) => held(s.port)));
  for (let i = 0; i < N; i++) {
    const on = sets.filter((s) => s.has(key(i))).length;
    assert.equal(on, 1, `${key(i)} is on ${on} instances`);
  }
  for (const s of sets) {
    assert.ok(
      s.size > N / 10,
      `lopsided: ${sets.map((x) => x.size)}`,
    );
  }
  return sets;
}

Deno.test("twemproxy (ketama) over three instances: set, get, multi-get", async () => {
  // Debian installs it in /usr/sbin, which is not on every PATH.
  const nutcracker = which("nutcracker") ??
    (await Deno.stat(SBIN).then(() => SBIN, () => null));
  if (
    !nutcracker &&
    skip("nutcracker (twemproxy) not installed (apt-get install -y nutcracker)")
  ) {
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "denocached-twem-" });
  const servers = await three();
  const proxyPort = freePort();
  try {
    const conf = `${dir}/nutcracker.yml`;
    await Deno.writeTextFile(
      conf,
      [
        "denocached:",
        `  listen: 127.0.0.1:${proxyPort}`,
        "  hash: md5",
        "  distribution: ketama",
        "  timeout: 5000",
        "  auto_eject_hosts: false",
        "  servers:",
        ...servers.map((s) => `    - 127.0.0.1:${s.port}:1`),
        "",
      ].join("\n"),
    );
    const proxy = await spawnServer(
      nutcracker!,
      [
        "-c",
        conf,
        "-s",
        String(freePort()),
        "-a",
        "127.0.0.1",
        "-o",
        `${dir}/nc.log`,
      ],
      proxyPort,
    );
    try {
      // set through the proxy
      let script = "";
      for (let i = 0; i < N; i++) {
        script += `set ${key(i)} ${i} 0 ${value(i).length}\r\n${value(i)}\r\n`;
      }
      const stored = await ask(
        proxyPort,
        script + "get sentinel\r\n",
        "END\r\n",
      );
      assert.equal(stored, "STORED\r\n".repeat(N) + "END\r\n");

      // single gets and one multi-get spanning all instances
      const one = await ask(proxyPort, `get ${key(7)}\r\n`, "END\r\n");
      assert.equal(
        one,
        `VALUE ${key(7)} 7 ${value(7).length}\r\n${value(7)}\r\nEND\r\n`,
      );
      const all = Array.from({ length: N }, (_, i) => key(i));
      let want = "";
      for (let i = 0; i < N; i++) {
        want += `VALUE ${key(i)} ${i} ${value(i).length}\r\n${value(i)}\r\n`;
      }
      want += "END\r\n";
      const multi = await ask(
        proxyPort,
        `get ${all.join(" ")} nope\r\n`,
        "END\r\n",
      );
      assert.equal(multi, want);

      // each key lives on exactly one instance, and every instance has some
      const sets = await partition(servers);
      console.log(
        `twemproxy ketama: keys per instance ${
          sets.map((s) => s.size).join(" / ")
        }`,
      );

      // the ketama ring of npm:memcached places every key on the same instance
      const ring = ketamaRing(servers.map((s) => `127.0.0.1:${s.port}`));
      for (let i = 0; i < N; i++) {
        const at = servers.findIndex((s) =>
          ring(key(i)) === `127.0.0.1:${s.port}`
        );
        assert.ok(sets[at].has(key(i)), `${key(i)}: client and proxy disagree`);
      }

      // delete through the proxy removes it from its instance
      const home = servers[sets.findIndex((s) => s.has(key(7)))];
      assert.equal(
        await ask(proxyPort, `delete ${key(7)}\r\n`, "\r\n"),
        "DELETED\r\n",
      );
      assert.equal((await held(home.port)).has(key(7)), false);
    } finally {
      await proxy.stop("SIGTERM");
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ketama client (npm:memcached) over three instances: every key where it was put", async () => {
  const servers = await three();
  const names = servers.map((s) => `127.0.0.1:${s.port}`);
  try {
    // npm:memcached assigns __proto__, which Deno only allows with
    // --unsafe-proto: so the client runs as its own process.
    const client = spawnProc(DENO, [
      "run",
      "--allow-net",
      "--unsafe-proto",
      `${ROOT}/tests/_ketama_client.ts`,
      String(N),
      ...names,
    ], { stdout: true });
    const status = await client.status;
    assert.equal(status.code, 0, client.stderr());
    const report = JSON.parse(client.stdout()) as KetamaReport;
    assert.equal(report.found, N, "getMulti through the client");

    // Ask each instance directly: it holds exactly the keys the ring sent it.
    const sets = await partition(servers);
    for (let i = 0; i < N; i++) {
      const at = names.indexOf(report.placement[key(i)]);
      assert.ok(
        at >= 0 && sets[at].has(key(i)),
        `${key(i)} not on ${names[at]}`,
      );
    }
    console.log(
      `client ketama: keys per instance ${sets.map((s) => s.size).join(" / ")}`,
    );

    // Consistent hashing: a fourth instance takes about a quarter of the
    // keys, and no key moves between the three old ones.
    console.log(`adding a fourth instance moves ${report.moved} of ${N} keys`);
    assert.equal(report.movedElsewhere, 0);
    assert.ok(report.moved > 0 && report.moved < N / 2);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});
