/**
 * `-vv` logs like memcached 1.6.18: the same script (a set whose data
 * arrives in several reads, a multi-get, incr, noreply, an unknown
 * command, meta commands) against a real memcached -vv and denocached -vv,
 * their stderr compared line by line with the connection numbers (fds
 * there, counters here) renumbered by first appearance.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, settle, skip, which } from "./_helpers.ts";
import { DENO, MAIN, type Proc, spawnServer } from "./_proc.ts";

const PARTS = [
  "se",
  "t a 0 0 10\r\n01234",
  "56",
  "789\r",
  "\nget a b\r\n",
  "incr a 1\r\nset q 0 0 1 noreply\r\nq\r\ndelete a\r\ndelete a\r\n",
  "bogus\r\nversion\r\nmg x v\r\nms x 2 T0\r\nhi\r\nmn\r\n",
];

/** Plays {@link PARTS} with pauses (so each is its own read), then quits. */
async function play(port: number): Promise<void> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  let got = "";
  const buf = new Uint8Array(4096);
  for (const p of PARTS) {
    await c.write(enc.encode(p));
    await settle(60);
  }
  while (!got.endsWith("MN\r\n")) {
    const n = await c.read(buf);
    if (n === null) break;
    got += new TextDecoder().decode(buf.subarray(0, n));
  }
  await c.write(enc.encode("quit\r\n"));
  while ((await c.read(buf)) !== null) { /* until the server closes */ }
  c.close();
  await settle(100);
}

/**
 * The connection and command lines of a -vv log, renumbered; connections
 * that sent nothing (the start-up probes) are dropped.
 */
function normalize(log: string): string[] {
  const lines = log.split("\n").filter((l) =>
    /^[<>]\d+ |^\d+: Client using/.test(l)
  );
  // memcached reuses fds: a "new ... connection" line starts a new
  // connection for its number.
  const current = new Map<string, number>();
  let next = 0;
  const tagged: [number, string, string][] = [];
  const busy = new Set<number>();
  for (const l of lines) {
    const m = /^([<>]?)(\d+)(:? .*)$/.exec(l)!;
    if (/ new .*connection|server listening/.test(l)) current.set(m[2], next++);
    const conn = current.get(m[2]) ?? -1;
    if (
      m[1] === "<" && !/^ (new |connection closed|server listening)/.test(m[3])
    ) {
      busy.add(conn);
    }
    tagged.push([conn, m[1], m[3]]);
  }
  const ids = new Map<number, number>();
  const out: string[] = [];
  for (const [conn, dir, rest] of tagged) {
    if (!busy.has(conn) && !rest.includes("server listening")) continue;
    if (!ids.has(conn)) ids.set(conn, ids.size);
    out.push(`${dir}${ids.get(conn)}${rest}`);
  }
  return out;
}

async function logOf(cmd: string, args: string[], port: number) {
  let p: Proc | null = null;
  p = await spawnServer(cmd, [...args, "-p", String(port), "-vv"], port);
  try {
    await play(port);
  } finally {
    await p.stop("SIGTERM");
  }
  return normalize(p.stderr());
}

Deno.test("-vv: the same lines as memcached -vv for the same script", async () => {
  const mc = which("memcached");
  if (!mc) return void skip("memcached not installed");
  const theirs = await logOf(
    mc,
    ["-U", "0", "-t", "1", "-l", "127.0.0.1", "-u", "nobody"],
    freePort(),
  );
  for (const io of ["portable", "epoll"]) {
    const ours = await logOf(
      DENO,
      ["run", "-A", MAIN, `--io=${io}`, "-l", "127.0.0.1"],
      freePort(),
    );
    assert.deepEqual(ours, theirs, io);
  }
  // The set that came in four reads is there once.
  assert.equal(theirs.filter((l) => l === "<1 set a 0 0 10").length, 1);
});
