/**
 * The server needs `--allow-net` and nothing else (plus read/write on the
 * socket path with `-s`): it starts and serves with exactly those, and
 * fails cleanly without them, so the grant is really what it uses.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, raw, settle } from "./_helpers.ts";
import { DENO, MAIN, ROOT, smoke, spawnMain, spawnProc } from "./_proc.ts";

/** Traces of a permission the process lacked. */
const DENIED = /NotCapable|PermissionDenied|Requires \w+ access/;

Deno.test("serves TCP with exactly --allow-net", async () => {
  const port = freePort();
  const p = await spawnMain(
    ["--allow-net", "--no-prompt"],
    ["-p", String(port), "-l", "127.0.0.1", "-v"],
    port,
  );
  try {
    await smoke(port);
    // Commands that read process or system state must not need more.
    const c = await raw(port);
    await c.send(
      "stats\r\nstats settings\r\nstats slabs\r\nstats items\r\n" +
        "stats conns\r\nstats sizes\r\nverbosity 1\r\nflush_all\r\nversion\r\n",
    );
    const out = await c.until("VERSION 1.6.18\r\n");
    c.close();
    await settle();
    assert.match(out, /STAT pid \d+\r\n/);
    assert.match(out, /STAT rusage_user \d+\.\d{6}\r\n/);
    assert.match(out, /STAT maxconns 1024\r\n/);
    assert.ok(out.endsWith("OK\r\nOK\r\nVERSION 1.6.18\r\n"), out.slice(-200));
  } finally {
    const s = await p.stop("SIGTERM");
    assert.equal(s.code, 0, p.stderr());
    assert.doesNotMatch(p.stderr(), DENIED);
  }
});

Deno.test("serves a unix socket with --allow-net and read/write on its path only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-perm-" });
  const sock = `${dir}/mc.sock`;
  try {
    const p = await spawnMain(
      [
        "--allow-net",
        `--allow-read=${sock}`,
        `--allow-write=${sock}`,
        "--no-prompt",
      ],
      ["-s", sock, "-a", "0700"],
      sock,
    );
    try {
      await smoke(sock);
    } finally {
      const s = await p.stop("SIGTERM");
      assert.equal(s.code, 0, p.stderr());
      assert.doesNotMatch(p.stderr(), DENIED);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without the grants it refuses to start (the check is real)", async () => {
  const port = freePort();
  const tcp = spawnProc(DENO, ["run", "--no-prompt", MAIN, "-p", String(port)]);
  const s1 = await tcp.status;
  assert.notEqual(s1.code, 0);
  assert.match(tcp.stderr(), DENIED);

  const dir = await Deno.makeTempDir({ prefix: "denocached-perm-" });
  try {
    const unix = spawnProc(DENO, [
      "run",
      "--allow-net",
      "--no-prompt",
      MAIN,
      "-s",
      `${dir}/mc.sock`,
    ]);
    const s2 = await unix.status;
    assert.notEqual(s2.code, 0);
    assert.match(unix.stderr(), DENIED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-h and -V need no permissions at all", async () => {
  const p = spawnProc(DENO, ["run", "--no-prompt", MAIN, "-V"]);
  const s = await p.status;
  assert.equal(s.code, 0, p.stderr());
});

Deno.test("the start task grants net, ffi (epoll) and file access (every flag), never -A", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  const start = cfg.tasks.start.split(/\s+/);
  const perms = start.filter((a) => /^-(A|-allow-|-unstable)/.test(a));
  assert.deepEqual(perms, [
    "--allow-net",
    "--allow-ffi",
    "--allow-read",
    "--allow-write",
  ]);
  for (const [name, cmd] of Object.entries(cfg.tasks)) {
    if (/\bmain\.ts\b/.test(cmd) && /^deno (run|compile)\b/.test(cmd)) {
      assert.doesNotMatch(cmd, /(^|\s)(-A|--allow-all)(\s|$)/, `task ${name}`);
    }
  }
});
