/**
 * SIGTERM, as a container runtime sends to PID 1: the process stops
 * accepting, finishes writing the replies to requests it already read,
 * closes those connections and exits 0 — within about a second.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, raw, settle, skip, which } from "./_helpers.ts";
import {
  canConnect,
  DENO,
  MAIN,
  smoke,
  spawnMain,
  spawnServer,
} from "./_proc.ts";

const KEYS = 60;
const VALUE = 64 * 1024;
const GETS = 4;

/** The bytes of one `get key0 … key59` reply. */
function expectedReply(): Uint8Array {
  let text = "";
  for (let i = 0; i < KEYS; i++) {
    text += `VALUE key${i} ${i} ${VALUE}\r\n${fillChar(i).repeat(VALUE)}\r\n`;
  }
  return new TextEncoder().encode(text + "END\r\n");
}

function fillChar(i: number): string {
  return String.fromCharCode(97 + i % 26);
}

/** Reads until `n` bytes arrived or the peer closed; returns what came. */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(buf.subarray(off));
    if (r === null) break;
    off += r;
  }
  return buf.subarray(0, off);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

Deno.test("SIGTERM: no new connections, replies in flight complete, exit 0", async () => {
  const port = freePort();
  const p = await spawnMain(
    ["--allow-net"],
    ["-p", String(port), "-m", "64"],
    port,
  );
  let exited = false;
  p.status.then(() => (exited = true));
  const loader = await raw(port);
  const c = await raw(port);
  const idle = await raw(port);
  try {
    // Fill: 60 × 64 KiB values.
    let fill = "";
    for (let i = 0; i < KEYS; i++) {
      fill += `set key${i} ${i} 0 ${VALUE}\r\n${fillChar(i).repeat(VALUE)}\r\n`;
    }
    await loader.send(fill);
    const stored = await loader.readBytes(KEYS * "STORED\r\n".length, 20_000);
    assert.equal(stored, "STORED\r\n".repeat(KEYS));
    loader.close();

    // Pipeline GETS multi-gets (~15 MiB of replies) and do not read yet:
    // the server blocks writing to us, so replies are in flight at SIGTERM.
    const keys = Array.from({ length: KEYS }, (_, i) => `key${i}`).join(" ");
    await c.send(`get ${keys}\r\n`.repeat(GETS));
    await settle(300); // the server has read all four requests by now

    const t0 = performance.now();
    p.child.kill("SIGTERM");

    // New connections are refused while the old one is still being served.
    let refusedAt = -1;
    for (let i = 0; i < 100 && refusedAt < 0; i++) {
      if (!(await canConnect(port))) refusedAt = performance.now() - t0;
      else await settle(10);
    }
    assert.ok(refusedAt >= 0, "still accepting after SIGTERM");
    assert.equal(exited, false, "exited before flushing the replies in flight");

    // Every reply arrives complete (read straight into bytes, fast, so we
    // are well inside the server's one-second grace), then EOF.
    const want = expectedReply();
    const got = await readExactly(c.conn, want.length * GETS);
    const readMs = performance.now() - t0;
    assert.equal(got.length, want.length * GETS, "replies cut short");
    for (let g = 0; g < GETS; g++) {
      const reply = got.subarray(g * want.length, (g + 1) * want.length);
      assert.ok(sameBytes(reply, want), `reply ${g} differs`);
    }
    assert.equal(await c.closed(5000), true, "connection left open");
    assert.equal(await idle.closed(5000), true, "idle connection left open");

    const s = await p.status;
    const ms = performance.now() - t0;
    console.log(
      `SIGTERM → refused new connections after ${refusedAt.toFixed(0)} ms, ` +
        `${
          (want.length * GETS / 2 ** 20).toFixed(1)
        } MiB of replies in flight ` +
        `delivered after ${readMs.toFixed(0)} ms, ` +
        `exit ${s.code} after ${ms.toFixed(0)} ms`,
    );
    assert.equal(s.code, 0, p.stderr());
    assert.equal(s.signal, null);
    // Generous bound for a shared machine; the target is under a second.
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms to exit`);
  } finally {
    loader.close();
    c.close();
    idle.close();
    await p.stop("SIGKILL");
    await settle();
  }
});

Deno.test("SIGTERM with only idle clients exits at once", async () => {
  const port = freePort();
  const p = await spawnMain(["--allow-net"], ["-p", String(port)], port);
  const clients = await Promise.all([raw(port), raw(port), raw(port)]);
  try {
    await clients[0].send("set x 0 0 1\r\n1\r\n");
    assert.equal(await clients[0].until("STORED\r\n"), "STORED\r\n");
    const t0 = performance.now();
    p.child.kill("SIGTERM");
    for (const c of clients) assert.equal(await c.closed(5000), true);
    const s = await p.status;
    console.log(
      `idle SIGTERM → exit ${s.code} after ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
    assert.equal(s.code, 0, p.stderr());
  } finally {
    for (const c of clients) c.close();
    await p.stop("SIGKILL");
    await settle();
  }
});

Deno.test("SIGTERM to the server as PID 1 (as in a container)", async () => {
  const unshare = which("unshare");
  if (
    (!unshare || !which("ps")) &&
    skip("unshare (util-linux) or ps (procps) not installed")
  ) return;
  const port = freePort();
  let p;
  try {
    // A new PID namespace makes deno its PID 1, like a container's entrypoint.
    p = await spawnServer(unshare!, [
      "--pid",
      "--fork",
      "--kill-child",
      DENO,
      "run",
      "--allow-net",
      MAIN,
      "-p",
      String(port),
    ], port);
  } catch (e) {
    skip(
      `cannot create a PID namespace here: ${
        (e as Error).message.split("\n").at(-1)
      }`,
    );
    return;
  }
  try {
    // The server reports its own pid: 1 inside the namespace.
    const stats = await raw(port);
    await stats.send("stats\r\n");
    const out = await stats.until("END\r\n");
    stats.close();
    await settle();
    assert.match(out, /^STAT pid 1\r$/m, "not PID 1 in its namespace");
    // Its pid out here (reading /proc would need --allow-all).
    const ps = await new Deno.Command("ps", {
      args: ["-o", "pid=", "--ppid", String(p.child.pid)],
      stdout: "piped",
      stderr: "null",
    }).output();
    const inner = Number(
      new TextDecoder().decode(ps.stdout).trim().split(/\s+/)[0],
    );
    assert.ok(inner > 1, "cannot find the server's pid");
    await smoke(port);
    const t0 = performance.now();
    Deno.kill(inner, "SIGTERM");
    const s = await p.status; // unshare exits with its child's status
    console.log(
      `PID 1 SIGTERM → exit ${s.code} after ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
    assert.equal(s.code, 0, p.stderr());
    assert.equal(await canConnect(port), false);
  } finally {
    await p.stop("SIGKILL");
  }
});
