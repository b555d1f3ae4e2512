/**
 * The measured windows of `bench --metrics`: short mcload runs against
 * servers that stay up for a whole round, each between two readings of the
 * server's CPU time (utime + stime of every thread, /proc/PID/stat), so a
 * window yields ops/s and CPU µs per request.
 *
 * Two shapes: a *solo* window drives one server while the others idle (the
 * ordinary benchmark, only shorter), and a *paired* window drives two
 * servers at once, both pinned to the same CPU, with one mcload each. The
 * paired shape is what makes a 2% difference visible on a shared machine:
 * whatever else runs (other jobs, their cache traffic, the hypervisor)
 * slows both servers of a window alike, where solo windows a few seconds
 * apart can see the machine change by 30%.
 * @module
 */

import {
  CONNECTIONS,
  type GeneratorEnv,
  invoke,
  KEYS,
  mcloadWindowArgs,
  parseMcload,
  type Workload,
} from "./generators.ts";
import { cpuSeconds } from "./cpu_time.ts";

/** A running server a window can drive. */
export interface Target {
  /** Its cache port. */
  port: number;
  /** The pid whose CPU time is read. */
  pid: number;
}

/** What one window measured on one server. */
export interface Window {
  /** Commands answered in the measured run (a multi-get counts once). */
  ops: number;
  /** Commands per second. */
  opsPerSec: number;
  /** 99th percentile latency, µs. */
  p99Us: number;
  /** Requests between the CPU readings: the commands plus one handshake `get` per connection. */
  requests: number;
  /** Server CPU seconds between the readings. */
  cpuSec: number;
  /** CPU% other processes used meanwhile, as mcload saw it (solo windows; NaN otherwise). */
  otherCpuPct: number;
}

/** `cpuSec` per request in µs, over any number of windows (NaN if none). */
export function cpuUsPerReq(ws: Window[]): number {
  let cpu = 0, req = 0;
  for (const w of ws) {
    cpu += w.cpuSec;
    req += w.requests;
  }
  return req > 0 ? cpu * 1e6 / req : NaN;
}

/** Mean ops/s over windows (NaN if none). */
export function meanOps(ws: Window[]): number {
  return ws.length ? ws.reduce((s, w) => s + w.opsPerSec, 0) / ws.length : NaN;
}

const SLACK_MS = 120_000;

function runArgs(
  w: Workload,
  port: number,
  secs: number,
  pid: number | null,
): string[] {
  return mcloadWindowArgs(w, port, secs, CONNECTIONS, pid);
}

/** Preloads `w`'s keys into the server on `port` and warms it up for `warmup` seconds. */
export async function prepare(
  env: GeneratorEnv,
  w: Workload,
  port: number,
  warmup: number,
  loadDepth: number,
): Promise<void> {
  await invoke(env, [
    "-p",
    String(port),
    "-L",
    "-l",
    String(loadDepth),
    "-k",
    String(KEYS),
    "-v",
    String(w.valueSize),
  ], 600_000);
  if (warmup > 0) {
    await invoke(
      env,
      runArgs(w, port, warmup, null),
      warmup * 1000 + SLACK_MS,
    );
  }
}

function result(out: string, cpuSec: number, withOther: boolean): Window {
  const kv = parseMcload(out);
  const ops = Number(kv.ops), opsPerSec = Number(kv.ops_s);
  if (!Number.isFinite(ops) || !Number.isFinite(opsPerSec) || ops <= 0) {
    throw new Error(`mcload: no result in: ${out.trim()}`);
  }
  if (!Number.isFinite(cpuSec)) throw new Error("cannot read /proc/PID/stat");
  return {
    ops,
    opsPerSec,
    p99Us: Number(kv.p99_us),
    // requests still in flight when mcload stops (≤ connections × depth)
    // are served but not counted: under 0.1% of a window at these rates
    requests: ops + CONNECTIONS,
    cpuSec,
    otherCpuPct: withOther ? Number(kv.other_cpu_pct ?? NaN) : NaN,
  };
}

/** One window of `secs` seconds driving `t` alone. */
export async function soloWindow(
  env: GeneratorEnv,
  w: Workload,
  t: Target,
  secs: number,
): Promise<Window> {
  const before = await cpuSeconds(t.pid);
  const out = await invoke(
    env,
    runArgs(w, t.port, secs, t.pid),
    secs * 1000 + SLACK_MS,
  );
  return result(out, (await cpuSeconds(t.pid)) - before, true);
}

/**
 * One window of `secs` seconds driving `a` and `b` at the same time, one
 * mcload each (started in that order: alternate it between windows, so the
 * few milliseconds one runs alone fall on both sides alike).
 */
export async function pairedWindow(
  env: GeneratorEnv,
  w: Workload,
  a: Target,
  b: Target,
  secs: number,
): Promise<[Window, Window]> {
  const [a0, b0] = await Promise.all([cpuSeconds(a.pid), cpuSeconds(b.pid)]);
  const timeout = secs * 1000 + SLACK_MS;
  const [outA, outB] = await Promise.all([
    invoke(env, runArgs(w, a.port, secs, null), timeout),
    invoke(env, runArgs(w, b.port, secs, null), timeout),
  ]);
  const [a1, b1] = await Promise.all([cpuSeconds(a.pid), cpuSeconds(b.pid)]);
  return [result(outA, a1 - a0, false), result(outB, b1 - b0, false)];
}
