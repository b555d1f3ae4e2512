/**
 * Signals as memcached treats them, through real processes: SIGHUP and
 * SIGPIPE never kill the server (and with `--snapshot` nothing is lost by
 * them), SIGUSR1 stops it gracefully like SIGTERM, with the snapshot
 * written. Compared with memcached 1.6.18 when it is installed.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, raw, settle, which } from "./_helpers.ts";
import { type Proc, spawnMain, spawnServer } from "./_proc.ts";

async function roundTrip(port: number, text: string): Promise<string> {
  const c = await raw(port);
  try {
    await c.send(text + "version\r\n");
    return await c.until("VERSION 1.6.18\r\n", 10_000);
  } finally {
    c.close();
    await settle();
  }
}

/** Sends `sig` `times` times, then checks the server still answers. */
async function survives(p: Proc, port: number, sig: Deno.Signal) {
  for (let i = 0; i < 3; i++) {
    p.child.kill(sig);
    await settle(100);
  }
  assert.match(await roundTrip(port, "get k\r\n"), /VALUE k 0 1\r\nv\r\nEND/);
}

Deno.test("signals: SIGHUP and SIGPIPE never kill; SIGUSR1 stops gracefully and saves the snapshot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-sig-" });
  const file = `${dir}/cache.snap`;
  const perms = ["--allow-net", `--allow-read=${dir}`, `--allow-write=${dir}`];
  try {
    const port = freePort();
    const flags = ["-p", String(port), "--snapshot", file];
    let p = await spawnMain(perms, flags, port);
    await roundTrip(port, "set k 0 0 1\r\nv\r\n");
    await survives(p, port, "SIGHUP");
    await survives(p, port, "SIGPIPE");
    // Nothing was written by SIGHUP: the snapshot is only written on stop.
    const st = await p.stop("SIGUSR1");
    assert.equal(st.code, 0, p.stderr());
    assert.ok((await Deno.stat(file)).size > 0, "SIGUSR1 wrote the snapshot");
    p = await spawnMain(perms, flags, port);
    assert.match(await roundTrip(port, "get k\r\n"), /VALUE k 0 1\r\nv\r\n/);
    assert.match(p.stderr(), /restored 1 items/);
    assert.equal((await p.stop("SIGTERM")).code, 0, p.stderr());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("signals: memcached 1.6.18 reference (SIGHUP, SIGPIPE survive; SIGUSR1 exits 0)", async () => {
  const mc = which("memcached");
  if (!mc) {
    console.log("skip: memcached not installed");
    return;
  }
  const port = freePort();
  const p = await spawnServer(
    mc,
    ["-p", String(port), "-l", "127.0.0.1", "-U", "0", "-u", "root"],
    port,
  );
  try {
    await roundTrip(port, "set k 0 0 1\r\nv\r\n");
    await survives(p, port, "SIGHUP");
    await survives(p, port, "SIGPIPE");
  } finally {
    const st = await p.stop("SIGUSR1");
    assert.equal(st.code, 0, p.stderr());
  }
});

Deno.test("signals: SIGTERMs repeated while the server stops and saves never kill it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-sig2-" });
  const file = `${dir}/cache.snap`;
  const perms = [
    "--allow-net",
    "--allow-ffi",
    `--allow-read`,
    `--allow-write=${dir}`,
  ];
  try {
    const port = freePort();
    const flags = ["-p", String(port), "--snapshot", file];
    let p = await spawnMain(perms, flags, port);
    // Enough items that the save takes a while: the later signals land
    // during the drain, the save and the exit.
    const n = 20_000;
    let script = "";
    for (let i = 0; i < n; i++) script += `set k${i} 0 0 3 noreply\r\nabc\r\n`;
    await roundTrip(port, script);
    // Signals every millisecond until the process is gone: one of them
    // lands between the end of serving and the exit.
    let gone = false;
    p.child.status.then(() => (gone = true));
    for (let i = 0; i < 3000 && !gone; i++) {
      try {
        p.child.kill("SIGTERM");
      } catch {
        break; // exited
      }
      await settle(1);
    }
    const st = await p.child.status;
    assert.equal(st.code, 0, p.stderr());
    assert.equal(st.signal, null, p.stderr());
    p = await spawnMain(perms, flags, port);
    assert.match(p.stderr(), new RegExp(`restored ${n} items`));
    assert.equal((await p.stop("SIGTERM")).code, 0, p.stderr());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
