/**
 * memcached's process flags for real, through real processes: `-P` writes
 * the pid file and a graceful exit removes it, `-d` leaves a detached
 * server that serves (its pid in the pid file), `-u USER` drops root after
 * binding (uid/gid of every thread read from /proc), and each of them
 * refuses with one "not permitted" message (exit 77) when Deno withholds
 * the permission it needs.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, roundTrip, settle, skip } from "./_helpers.ts";
import { DENO, runMain, smoke, spawnMain } from "./_proc.ts";

const run = runMain;

/** Waits (polling, generously bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await settle(50);
  }
}

/**
 * Reads a /proc file through `cat`: Deno lets only --allow-all read /proc,
 * and the test task grants --allow-run instead.
 */
function proc(path: string): string {
  const out = new Deno.Command("cat", { args: [path], stderr: "null" })
    .outputSync();
  if (!out.success) throw new Error(`cannot read ${path}`);
  return new TextDecoder().decode(out.stdout);
}

/** Whether process `pid` still exists (signal 0 through `kill`). */
function alive(pid: number): boolean {
  return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
    .outputSync().success;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `Uid:`/`Gid:` (real, effective, saved, fs) of every thread of `pid`. */
function identities(pid: number): string[] {
  const out = new Set<string>();
  const tasks = new Deno.Command("ls", { args: [`/proc/${pid}/task`] })
    .outputSync();
  for (const t of new TextDecoder().decode(tasks.stdout).split(/\s+/)) {
    if (!t) continue;
    const st = proc(`/proc/${pid}/task/${t}/status`);
    const uid = /^Uid:\s+(.*)$/m.exec(st)![1].split(/\s+/).join(" ");
    const gid = /^Gid:\s+(.*)$/m.exec(st)![1].split(/\s+/).join(" ");
    out.add(`uid ${uid} gid ${gid}`);
  }
  return [...out];
}

Deno.test("-P writes the pid file (PID\\n) and a graceful exit removes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-pid-" });
  const pidFile = `${dir}/denocached.pid`;
  try {
    const port = freePort();
    const p = await spawnMain(
      [
        "--allow-net",
        `--allow-read=${pidFile},${pidFile}.tmp`,
        `--allow-write=${pidFile},${pidFile}.tmp`,
      ],
      ["-p", String(port), "-P", pidFile],
      port,
    );
    try {
      await until(() => exists(pidFile), "pid file written");
      assert.equal(Deno.readTextFileSync(pidFile), `${p.child.pid}\n`);
      assert.ok(!exists(`${pidFile}.tmp`));
      await smoke(port);
    } finally {
      const st = await p.stop("SIGTERM");
      assert.equal(st.code, 0, p.stderr());
    }
    assert.ok(!exists(pidFile), "pid file left behind after SIGTERM");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-d: the parent exits 0, a detached server serves, its pid in -P", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-daemon-" });
  const pidFile = `${dir}/d.pid`;
  const port = freePort();
  let pid = 0;
  try {
    // Partial grants, as a careful operator gives them: the daemon must
    // get the same ones (it writes and removes the pid file).
    const r = await run(
      [
        "--allow-net",
        `--allow-run=${DENO}`,
        `--allow-read=${pidFile},${pidFile}.tmp`,
        `--allow-write=${pidFile},${pidFile}.tmp`,
      ],
      ["-d", "-p", String(port), "-P", pidFile],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    // The parent returned only once the daemon served: no waiting needed.
    assert.equal(
      await roundTrip(port, "set d 0 0 1\r\n1\r\nget d\r\n"),
      "STORED\r\nVALUE d 0 1\r\n1\r\nEND\r\n",
    );
    await until(() => exists(pidFile), `pid file (${r.stderr})`);
    pid = Number(Deno.readTextFileSync(pidFile).trim());
    assert.ok(pid > 0);
    const stat = proc(`/proc/${pid}/stat`);
    // Fields after the command: state ppid pgrp session.
    const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2)
      .split(" ").map(Number);
    assert.equal(session, pid, "daemon is not its own session leader");
    assert.equal(pgrp, pid);
    assert.match(
      proc(`/proc/${pid}/cmdline`).split("\0").join(" "),
      /--daemonized/,
    );
    Deno.kill(pid, "SIGTERM");
    await until(() => !alive(pid), "daemon exits on SIGTERM");
    pid = 0;
    assert.ok(!exists(pidFile), "daemon left its pid file behind");
  } finally {
    if (pid > 0) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-d with the start task's grants (FFI, no --allow-run): posix_spawn", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-daemon-" });
  const pidFile = `${dir}/d.pid`;
  const port = freePort();
  let pid = 0;
  try {
    const r = await run(
      ["--allow-net", "--allow-ffi", "--allow-read", "--allow-write"],
      ["-d", "-p", String(port), "-P", pidFile],
    );
    assert.equal(r.code, 0, r.stderr);
    await until(() => exists(pidFile), `pid file (${r.stderr})`);
    pid = Number(Deno.readTextFileSync(pidFile).trim());
    const stat = proc(`/proc/${pid}/stat`);
    const session = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
    assert.equal(session, pid, "daemon is not its own session leader");
    await smoke(port);
    Deno.kill(pid, "SIGTERM");
    await until(() => !alive(pid), "daemon exits on SIGTERM");
    pid = 0;
    assert.ok(!exists(pidFile), "daemon left its pid file behind");
  } finally {
    if (pid > 0) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-d: a daemon that fails to start makes the parent fail", async () => {
  const port = freePort();
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const r = await run(
      ["--allow-net", `--allow-run=${DENO}`],
      ["-d", "-p", String(port)],
    );
    assert.equal(r.code, 71, r.stderr); // the child's EX_OSERR
    assert.match(r.stderr, /^denocached: -d: the server exited \(code 71\)/m);
  } finally {
    l.close();
  }
});

Deno.test("-u nobody drops root after binding: every thread's uid and gid", async () => {
  const s = proc("/proc/self/status");
  if (!/^Uid:\s+0\s/m.test(s)) return void skip("tests are not run as root");
  const passwd = await Deno.readTextFile("/etc/passwd");
  const m = /^nobody:[^:]*:(\d+):(\d+):/m.exec(passwd);
  if (!m) return void skip("no user 'nobody' in /etc/passwd");
  const [uid, gid] = [m[1], m[2]];
  const port = freePort();
  const p = await spawnMain(
    ["--allow-net", "--allow-ffi"],
    ["-p", String(port), "-u", "nobody"],
    port,
  );
  try {
    await smoke(port);
    assert.deepEqual(identities(p.child.pid), [
      `uid ${uid} ${uid} ${uid} ${uid} gid ${gid} ${gid} ${gid} ${gid}`,
    ]);
    const groups = /^Groups:[ \t]*(.*)$/m.exec(
      proc(`/proc/${p.child.pid}/status`),
    )![1].trim();
    assert.equal(groups, "", "supplementary groups kept");
  } finally {
    const st = await p.stop("SIGTERM");
    assert.equal(st.code, 0, p.stderr());
  }
});

Deno.test("-u: an unknown user is refused as memcached does (exit 67)", async () => {
  const s = proc("/proc/self/status");
  if (!/^Uid:\s+0\s/m.test(s)) return void skip("tests are not run as root");
  const r = await run(
    ["--allow-net", "--allow-ffi"],
    ["-p", String(freePort()), "-u", "no-such-user-xyz"],
  );
  assert.equal(r.code, 67, r.stderr);
  assert.match(r.stderr, /can't find the user no-such-user-xyz to switch to/);
});

Deno.test("any feature without its permission: one message, exit 77", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["-u", "nobody"],
      /^denocached: -u nobody needs --allow-ffi \(not permitted/,
    ],
    [["-d"], /^denocached: -d needs --allow-run=\S+ \(not permitted/],
    [
      ["-P", "/tmp/x.pid"],
      /^denocached: -P \/tmp\/x\.pid needs --allow-read=(\/tmp\/x\.pid(\.tmp)?,?){2} --allow-write=(\/tmp\/x\.pid(\.tmp)?,?){2} \(not permitted\)$/,
    ],
  ];
  // The other features that need a grant say it the same way.
  cases.push(
    [
      ["-Y", "/tmp/u"],
      /^denocached: -Y \/tmp\/u needs --allow-read=\/tmp\/u \(not permitted\)$/,
    ],
    [
      ["-Z", "-o", "ssl_chain_cert=/tmp/c.pem,ssl_key=/tmp/k.pem"],
      /^denocached: -Z needs --allow-read=\/tmp\/c\.pem,\/tmp\/k\.pem \(not permitted\)$/,
    ],
    [
      ["-S", "--sasl-pwdb", "/tmp/p"],
      /needs --allow-read=\/tmp\/p \(not permitted\)$/,
    ],
    [
      ["--snapshot", "/tmp/s.snap"],
      /^denocached: --snapshot \/tmp\/s\.snap needs --allow-read=.* \(not permitted\)$/,
    ],
    [
      ["-s", "/tmp/dc-perm.sock"],
      /^denocached: failed to listen: .*\(not permitted\)$/,
    ],
  );
  for (const [flags, want] of cases) {
    const r = await run(["--allow-net"], ["-p", String(freePort()), ...flags]);
    assert.equal(r.code, 77, `${flags.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], want);
  }
});
