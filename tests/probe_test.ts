/**
 * Operations: `--probe HOST:PORT` exits 0 against a live server and 1
 * against a closed port or something that is not memcached; the container's
 * documented TLS command line (a later `-l` replacing the ENTRYPOINT's)
 * serves TLS outside and leaves the probe a plain loopback port; the
 * systemd unit never sets MemoryDenyWriteExecute; `deno doc --lint mod.ts`
 * passes.
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "./_helpers.ts";
import { DENO, MAIN, ROOT, spawnMain, spawnServer } from "./_proc.ts";
import { makePki } from "./_pki.ts";

const dec = new TextDecoder();

async function probe(target: string) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "--allow-net", MAIN, "--probe", target],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: dec.decode(out.stderr) };
}

Deno.test("--probe: 0 when version answers, 1 when closed or not memcached", async () => {
  const port = freePort();
  const p = await spawnMain(["--allow-net"], ["-p", String(port)], port);
  try {
    const ok = await probe(`127.0.0.1:${port}`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, "");
  } finally {
    await p.stop("SIGTERM");
  }
  const closed = await probe(`127.0.0.1:${freePort()}`);
  assert.equal(closed.code, 1);
  assert.match(closed.stderr, /^denocached: probe 127\.0\.0\.1:\d+: /);
  // Something listening that is not memcached.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const c = await l.accept();
    await c.write(new TextEncoder().encode("HTTP/1.0 400 Bad\r\n\r\n"));
    c.close();
  })();
  const other = await probe(`127.0.0.1:${(l.addr as Deno.NetAddr).port}`);
  await serving;
  l.close();
  assert.equal(other.code, 1);
  assert.match(other.stderr, /unexpected reply/);
});

Deno.test("container TLS line: -l notls:127.0.0.1,0.0.0.0:PORT after the ENTRYPOINT's -l", async () => {
  const pki = await makePki();
  if (pki === null) return;
  const plain = freePort();
  const tls = freePort();
  try {
    const p = await spawnServer(DENO, [
      "run",
      "-A",
      MAIN,
      "-l",
      "0.0.0.0",
      "-p",
      String(plain),
      "-Z",
      "-o",
      `ssl_chain_cert=${pki.certFile},ssl_key=${pki.keyFile}`,
      "-l",
      `notls:127.0.0.1,0.0.0.0:${tls}`,
    ], plain);
    try {
      assert.equal((await probe(`127.0.0.1:${plain}`)).code, 0);
      const c = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: tls,
        caCerts: [pki.ca],
      });
      await c.write(new TextEncoder().encode("version\r\n"));
      const buf = new Uint8Array(64);
      const n = await c.read(buf);
      c.close();
      assert.equal(dec.decode(buf.subarray(0, n!)), "VERSION 1.6.18\r\n");
    } finally {
      const st = await p.stop("SIGTERM");
      assert.equal(st.code, 0, p.stderr());
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("ops files: unit without MemoryDenyWriteExecute, Dockerfile HEALTHCHECK probes", async () => {
  const unit = await Deno.readTextFile(`${ROOT}/ops/denocached.service`);
  assert.doesNotMatch(unit, /^\s*MemoryDenyWriteExecute\s*=/m);
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/denocached /m);
  assert.match(unit, /^PIDFile=\/run\/denocached\/denocached\.pid$/m);
  const docker = await Deno.readTextFile(`${ROOT}/Dockerfile`);
  assert.match(
    docker,
    /^HEALTHCHECK .*\\\n\s+CMD \["\/usr\/local\/bin\/denocached", "--probe", "127\.0\.0\.1:11211"\]$/m,
  );
});

Deno.test("deno doc --lint mod.ts passes", async () => {
  const out = await new Deno.Command(DENO, {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
});
