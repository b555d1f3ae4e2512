/**
 * The epoll/FFI backend (`--io=epoll`), end to end: main.ts runs as a
 * subprocess and is driven over loopback. Skipped off Linux x86_64/aarch64.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, raw, settle, skip, waitListening } from "./_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function unsupported(): boolean {
  const ok = Deno.build.os === "linux" &&
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64");
  return !ok && skip("the epoll backend needs Linux on x86_64/aarch64");
}

/** A running `main.ts --io=epoll`; its stderr is collected. */
interface Proc {
  port: number;
  child: Deno.ChildProcess;
  stderr(): string;
  /** Resolves with the exit code; the stderr pump is finished by then. */
  exited(): Promise<number>;
}

function spawn(args: string[], perms: string[] = []): Proc {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-ffi",
      ...perms,
      MAIN,
      "-p",
      String(port),
      "--io=epoll",
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const pump = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (err += t) }),
  ).catch(() => {});
  return {
    port,
    child,
    stderr: () => err,
    exited: async () => {
      const st = await child.status;
      await pump;
      return st.code;
    },
  };
}

async function stop(p: Proc): Promise<number> {
  try {
    p.child.kill("SIGTERM");
  } catch {
    // already gone
  }
  return await p.exited();
}

function value(key: string, data: string): string {
  return `VALUE ${key} 0 ${data.length}\r\n${data}\r\n`;
}

Deno.test("epoll backend: protocol smoke, backpressure, limit, SIGTERM", async () => {
  if (unsupported()) return;
  const p = spawn(["-c", "4"]);
  const clients: Awaited<ReturnType<typeof raw>>[] = [];
  try {
    await waitListening(p.port);
    const big = "x".repeat(100 * 1024);
    const a = await raw(p.port);
    clients.push(a);
    // set/get/multi-get with a 100 KB value
    await a.send(
      `set big 0 0 ${big.length}\r\n${big}\r\nset s 5 0 2\r\nhi\r\n`,
    );
    assert.equal(await a.until("STORED\r\nSTORED\r\n"), "STORED\r\nSTORED\r\n");
    await a.send("get big s nope\r\n");
    const want = value("big", big) + "VALUE s 5 2\r\nhi\r\nEND\r\n";
    assert.equal(await a.readBytes(want.length), want);

    // Pipelined commands split mid-line and mid-data across writes.
    const parts = [
      "set p 0 0 5\r\nhel",
      "lo\r\nget p\r\nge",
      "t p s\r\nvers",
      "ion\r\n",
    ];
    for (const part of parts) {
      await a.send(part);
      await settle(30);
    }
    const piped = "STORED\r\n" + value("p", "hello") + "END\r\n" +
      value("p", "hello") + "VALUE s 5 2\r\nhi\r\nEND\r\nVERSION 1.6.18\r\n";
    assert.equal(await a.until("VERSION 1.6.18\r\n"), piped);

    // A client that asks for 15 MB and does not read for a while: the server
    // must hold it (EAGAIN, no reads from it) yet keep serving others.
    const slow = await raw(p.port);
    clients.push(slow);
    const n = 150;
    await slow.send("get big\r\n".repeat(n) + "version\r\n");
    await settle(500);
    await a.send("version\r\n");
    assert.equal(await a.until("VERSION 1.6.18\r\n"), "VERSION 1.6.18\r\n");
    const all = value("big", big) + "END\r\n";
    const got = await slow.readBytes(all.length * n + 16, 20000);
    assert.equal(got.length, all.length * n + 16);
    assert.ok(got.endsWith("END\r\nVERSION 1.6.18\r\n"));
    assert.equal(got, all.repeat(n) + "VERSION 1.6.18\r\n");

    // Connection limit (-c 4): two more fit, the fifth is refused.
    for (let i = 0; i < 2; i++) {
      const c = await raw(p.port);
      clients.push(c);
      await c.send("version\r\n");
      assert.equal(await c.until("\r\n"), "VERSION 1.6.18\r\n");
    }
    const extra = await raw(p.port);
    clients.push(extra);
    assert.equal(
      await extra.until("\r\n"),
      "ERROR Too many open connections\r\n",
    );
    assert.ok(await extra.closed());
    await a.send("stats\r\n");
    const stats = await a.until("END\r\n");
    assert.match(stats, /STAT curr_connections 4\r\n/);
    assert.match(stats, /STAT rejected_connections 1\r\n/);
  } finally {
    for (const c of clients) c.close();
    const code = await stop(p);
    assert.equal(code, 0, p.stderr());
  }
});

Deno.test("epoll backend: idle timeout and the shutdown command", async () => {
  if (unsupported()) return;
  const p = spawn(["-o", "idle_timeout=1", "-A"]);
  try {
    await waitListening(p.port);
    const idle = await raw(p.port);
    try {
      await idle.send("version\r\n");
      assert.equal(await idle.until("\r\n"), "VERSION 1.6.18\r\n");
      assert.ok(await idle.closed(4000), "idle client not closed");
    } finally {
      idle.close();
    }
    const c = await raw(p.port);
    try {
      await c.send("shutdown\r\n");
      assert.ok(await c.closed());
    } finally {
      c.close();
    }
    assert.equal(await p.exited(), 0, p.stderr());
  } finally {
    await stop(p);
  }
});

Deno.test("epoll backend: --single serves one client, then exits 0", async () => {
  if (unsupported()) return;
  const p = spawn(["--single", "-v"]);
  try {
    const deadline = Date.now() + 10000;
    while (!p.stderr().includes("listening on") && Date.now() < deadline) {
      await settle(50);
    }
    const c = await raw(p.port);
    try {
      await c.send("set k 0 0 1\r\nv\r\nget k\r\nquit\r\n");
      assert.equal(
        await c.until("END\r\n"),
        "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n",
      );
      assert.ok(await c.closed());
    } finally {
      c.close();
    }
    assert.equal(await p.exited(), 0, p.stderr());
  } finally {
    await stop(p);
  }
});

Deno.test("epoll backend: without --allow-ffi it exits 64 with a message", async () => {
  if (unsupported()) return;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", MAIN, "-p", "0", "--io=epoll"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 64);
  assert.match(new TextDecoder().decode(out.stderr), /--allow-ffi/);
});

Deno.test("epoll backend: -Y auth and --snapshot warm restart", async () => {
  if (unsupported()) return;
  const dir = await Deno.makeTempDir();
  try {
    const users = `${dir}/users`;
    const snap = `${dir}/cache.snap`;
    await Deno.writeTextFile(users, "alice:s3cret\n");
    const perms = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const args = ["-Y", users, "--snapshot", snap];
    let p = spawn(args, perms);
    try {
      await waitListening(p.port);
      const c = await raw(p.port);
      await c.send("get k\r\n");
      assert.equal(await c.until("\r\n"), "CLIENT_ERROR unauthenticated\r\n");
      await c.send("set a 0 0 11\r\nalice wrong\r\n");
      assert.equal(
        await c.until("\r\n"),
        "CLIENT_ERROR authentication failure\r\n",
      );
      await c.send("set a 0 0 12\r\nalice s3cret\r\n");
      assert.equal(await c.until("\r\n"), "STORED\r\n");
      await c.send("set k 7 0 5\r\nva\r\nl\r\ngets k\r\n");
      const first = await c.until("END\r\n");
      assert.match(first, /^STORED\r\nVALUE k 7 5 \d+\r\nva\r\nl\r\nEND\r\n$/);
      c.close();
      await settle();
      p.child.kill("SIGTERM");
      assert.equal(await p.exited(), 0, p.stderr());
      p = spawn(args, perms);
      await waitListening(p.port);
      const d = await raw(p.port);
      await d.send("set a 0 0 12\r\nalice s3cret\r\ngets k\r\n");
      assert.equal(await d.until("END\r\n"), "STORED\r\n" + first.slice(8));
      d.close();
      await settle();
    } finally {
      await stop(p);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("default transport: epoll with --allow-ffi, else portable with one stderr line", async () => {
  if (unsupported()) return;
  for (const perms of [["--allow-net", "--allow-ffi"], ["--allow-net"]]) {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms, MAIN, "-p", String(port), "-v"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let err = "";
    const pump = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (t) => void (err += t) }),
    ).catch(() => {});
    try {
      await waitListening(port);
      const c = await raw(port);
      await c.send("version\r\n");
      assert.equal(await c.until("\r\n"), "VERSION 1.6.18\r\n");
      c.close();
      await settle();
    } finally {
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      await pump;
    }
    const ffi = perms.includes("--allow-ffi");
    assert.match(err, ffi ? /listening on \S+ \(epoll\)/ : /\(portable\)/);
    const notes = err.split("\n").filter((l) => l.includes("portable I/O"));
    assert.equal(notes.length, ffi ? 0 : 1, err);
  }
});
