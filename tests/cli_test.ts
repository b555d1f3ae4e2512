/**
 * The command line: `main.ts` run as a subprocess the way users start it
 * (help, version, usage errors with exit 64, memcached's flags, serving,
 * SIGTERM, --single) and `deno task start` passing flags through.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, raw, roundTrip, settle, waitListening } from "./_helpers.ts";
import { DENO, MAIN, ROOT, runMain } from "./_proc.ts";

/** Runs `main.ts args` with `--allow-net` (for flags that exit at once). */
const run = (args: string[]) => runMain(["--allow-net"], args);

/** A server child process with its stderr collected. */
interface Child {
  child: Deno.ChildProcess;
  /** Exit status, once stderr was read to the end. */
  status: Promise<{ code: number; stderr: string }>;
}

function spawn(cmd: string, args: string[], cwd?: string): Child {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const text = new Response(child.stderr).text();
  const status = Promise.all([child.status, text]).then(([s, stderr]) => ({
    code: s.code,
    stderr,
  }));
  return { child, status };
}

/** Starts `main.ts -p <free port> ...extra` and waits until it listens. */
async function serve(extra: string[] = []) {
  const port = freePort();
  const p = spawn(DENO, [
    "run",
    "--allow-net",
    MAIN,
    "-p",
    String(port),
    ...extra,
  ]);
  try {
    await waitListening(port);
  } catch (e) {
    p.child.kill("SIGKILL");
    throw new Error(`${e}: ${(await p.status).stderr}`);
  }
  return { port, ...p };
}

/** Resolves to true if `p` settles within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([
    p.then(() => true),
    new Promise<boolean>((res) => (t = setTimeout(() => res(false), ms))),
  ]);
  clearTimeout(t);
  return r;
}

Deno.test("cli: -h prints help and exits 0; -V prints the version", async () => {
  for (const flag of ["-h", "--help"]) {
    const r = await run([flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: denocached \[options\]$/m);
    assert.match(r.stdout, /-I, --max-item-size/);
    assert.equal(r.stderr, "");
  }
  for (const flag of ["-V", "--version"]) {
    const r = await run([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "denocached 0.1.0 (memcached 1.6.18)\n");
  }
});

Deno.test("cli: bad flags print one clear message and exit 64", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /bogus/],
    [["-x"], /-x/],
    [["-p", "abc"], /-p: not a number: 'abc'/],
    [["-p", "70000"], /-p: must be between 0 and 65535/],
    [["-p"], /-p/],
    [["-I", "12x"], /-I: invalid size '12x'/],
    [["-I", "2g"], /-I/],
    [["-m", "-5"], /-m/],
    [["-t", "zero"], /-t/],
    [["stray"], /stray/],
  ];
  // Sequential: each is a deno start-up, and the machine is shared.
  for (const [args, want] of cases) {
    const r = await run(args);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", args.join(" "));
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(lines[0], /^denocached: /);
    assert.match(lines[0], want);
  }
});

Deno.test("cli: -p serves; -I 512k / 1m set the item size; SIGTERM exits 0", async () => {
  for (const [flag, size] of [["512k", 524288], ["1m", 1048576]] as const) {
    const s = await serve(["-I", flag]);
    try {
      const out = await roundTrip(s.port, "stats settings\r\n");
      assert.match(out, new RegExp(`^STAT item_size_max ${size}\r$`, "m"));
      const v = size - 100;
      const r = await roundTrip(
        s.port,
        `set k 0 0 ${v}\r\n${"x".repeat(v)}\r\n`,
      );
      assert.equal(r, "STORED\r\n");
      const big = await roundTrip(
        s.port,
        `set k 0 0 ${size}\r\n${"x".repeat(size)}\r\n`,
      );
      assert.equal(big, "SERVER_ERROR object too large for cache\r\n");
    } finally {
      s.child.kill("SIGTERM");
    }
    // Idle server, SIGTERM: prompt clean exit (bounded generously, not timed).
    assert.ok(await within(s.status, 5000), "did not exit after SIGTERM");
    const st = await s.status;
    assert.equal(st.code, 0, st.stderr);
    // Only the one line saying the fast path is off (no --allow-ffi here).
    assert.equal(st.stderr.replace(/^denocached: portable I\/O: .*\n/, ""), "");
  }
});

Deno.test("cli: -t 4 -k -U 0 are accepted (-k with a note on stderr)", async () => {
  const s = await serve(["-t", "4", "-k", "-U", "0"]);
  try {
    assert.equal(await roundTrip(s.port, "set a 0 0 1\r\n1\r\n"), "STORED\r\n");
  } finally {
    s.child.kill("SIGTERM");
  }
  const st = await s.status;
  assert.equal(st.code, 0);
  // -t N is served (threads_test.ts): no note for it any more.
  assert.doesNotMatch(st.stderr, /^denocached: -t: /m);
  assert.match(st.stderr, /^denocached: --lock-memory: /m);
  // `-U 0` is exactly "no UDP": nothing to note.
  assert.doesNotMatch(st.stderr, /-U/);
});

Deno.test("cli: SIGTERM with a client connected still exits 0", async () => {
  const s = await serve();
  const c = await raw(s.port);
  try {
    await c.send("version\r\n");
    assert.equal(await c.until("\r\n"), "VERSION 1.6.18\r\n");
    s.child.kill("SIGTERM");
    assert.ok(await c.closed(5000), "server kept the idle client open");
  } finally {
    c.close();
    await settle();
  }
  assert.ok(await within(s.status, 5000));
  assert.equal((await s.status).code, 0);
});

Deno.test("cli: --single exits after its one connection closes", async () => {
  const port = freePort();
  const s = spawn(DENO, [
    "run",
    "--allow-net",
    MAIN,
    "-p",
    String(port),
    "--single",
  ]);
  // No waitListening probe: it would be the one connection served.
  let c: Awaited<ReturnType<typeof raw>> | null = null;
  for (let i = 0; i < 200 && c === null; i++) {
    c = await raw(port).catch(() => null);
    if (c === null) await settle(50);
  }
  if (c === null) {
    s.child.kill("SIGKILL");
    throw new Error(`never listened: ${(await s.status).stderr}`);
  }
  try {
    await c.send("set a 0 0 1\r\n1\r\nget a\r\n");
    assert.equal(
      await c.until("END\r\n"),
      "STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n",
    );
  } finally {
    c.close();
    await settle();
  }
  const exited = await within(s.status, 5000);
  if (!exited) s.child.kill("SIGKILL");
  assert.ok(exited, "--single server still running after its client left");
  assert.equal((await s.status).code, 0);
});

Deno.test("cli: `deno task start -p PORT` passes the flags through", async () => {
  const port = freePort();
  // setsid: the task and the server it spawns get their own process group,
  // so one signal to the group stops both and nothing is left behind.
  const p = spawn(
    "setsid",
    [DENO, "task", "start", "-p", String(port), "-vv"],
    ROOT,
  );
  let stopped = false;
  const stop = (sig: Deno.Signal) => {
    try {
      Deno.kill(-p.child.pid, sig);
    } catch {
      // group already gone
    }
  };
  try {
    await waitListening(port);
    assert.equal(await roundTrip(port, "set t 0 0 1\r\n1\r\n"), "STORED\r\n");
    stop("SIGTERM");
    stopped = await within(p.status, 5000);
  } finally {
    if (!stopped) stop("SIGKILL");
  }
  const st = await p.status;
  assert.ok(stopped, st.stderr);
  // -vv reached the server: it logged the command it ran.
  assert.match(st.stderr, /set t 0 0 1/);
  // The server is gone with the task: the port refuses connections.
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});
