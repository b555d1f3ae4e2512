/**
 * Helpers of the `-t N` tests (threads_test.ts, threads_store_test.ts):
 * `stats` as a map, per-loop connection counts (`stats loops`), many
 * clients at once, and a `main.ts -t N` run that must stop with exit 0.
 * @module
 */

import nodeAssert from "node:assert/strict";
import { ask, freePort, type Raw, raw, settle } from "./_helpers.ts";
import { type Proc, spawnMain } from "./_proc.ts";
import { epollUnavailableReason } from "../lib/server/ffi/backend.ts";

/** Asserts `v` is truthy. */
export function assert(v: unknown, msg = ""): asserts v {
  nodeAssert.ok(v, msg);
}
/** Asserts deep equality. */
export function assertEquals<T>(a: T, b: T, msg = ""): void {
  nodeAssert.deepStrictEqual(a, b, msg);
}
/** Asserts `s` matches `r`. */
export function assertMatch(s: string, r: RegExp): void {
  nodeAssert.match(s, r);
}
/** Why epoll (which `-t N` needs) cannot run here, or null. */
export const NO_EPOLL: string | null = epollUnavailableReason();
/** `deno task start`'s grants. */
export const PERMS = [
  "--allow-net",
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
];

/** `stats [sub]` as a name → value map. */
export async function stats(
  port: number,
  sub = "",
): Promise<Map<string, string>> {
  const text = await ask("127.0.0.1", port, `stats${sub ? " " + sub : ""}\r\n`);
  const m = new Map<string, string>();
  for (const l of text.split("\r\n")) {
    const p = l.split(" ");
    if (p[0] === "STAT") m.set(p[1], p.slice(2).join(" "));
  }
  return m;
}
/** A stat as a number. */
export const num = (m: Map<string, string>, k: string) => Number(m.get(k));

/** Loops (of `stats loops`) with at least one open connection. */
export async function busyLoops(port: number): Promise<number[]> {
  const m = await stats(port, "loops");
  const per: number[] = [];
  for (const [k, v] of m) {
    const r = /^loop_(\d+):curr_connections$/.exec(k);
    if (r) per[Number(r[1])] = Number(v);
  }
  return per;
}

/** Opens `n` connections in bursts of 8, each checked with `version`. */
export async function openMany(port: number, n: number): Promise<Raw[]> {
  const out: Raw[] = [];
  for (let i = 0; i < n; i += 8) {
    const burst = await Promise.all(
      Array.from({ length: Math.min(8, n - i) }, () => raw(port)),
    );
    await Promise.all(burst.map(async (c) => {
      await c.send("version\r\n");
      assertMatch(await c.until("\r\n"), /^VERSION /);
    }));
    out.push(...burst);
  }
  return out;
}

/** Closes every client and lets their ops settle. */
export async function closeAll(conns: Raw[]): Promise<void> {
  for (const c of conns) c.close();
  await settle(50);
}

/** Runs `fn` against `main.ts -t n`; stops it with SIGTERM and expects exit 0. */
export async function withLoops(
  n: number,
  flags: string[],
  fn: (port: number, p: Proc) => Promise<void>,
): Promise<void> {
  const port = freePort();
  const p = await spawnMain(PERMS, [
    "-p",
    String(port),
    "-t",
    String(n),
    ...flags,
  ], port);
  try {
    await fn(port, p);
  } finally {
    const st = await p.stop("SIGTERM");
    assertEquals(st.code, 0, p.stderr());
  }
}
