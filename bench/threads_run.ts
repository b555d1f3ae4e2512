/**
 * One measured window of the threaded comparison: mcload preloads the keys
 * (`-L`), warms the server up in a run of its own, and then runs the
 * measured window with no preload and no warm-up of its own, between two
 * readings of the server's CPU time (/proc/PID/stat through `cat`). Keeping
 * preload and warm-up out of that process is what lets the CPU difference be
 * divided by the requests of the window alone: the measured run's commands
 * plus one handshake `get` per connection.
 * @module
 */

import {
  cmdLine,
  type GeneratorEnv,
  invoke,
  parseMcload,
} from "./generators.ts";
import {
  KEYS,
  mcloadWindowArgs,
  type RunOptions,
  type Workload,
} from "./generators.ts";
import { cpuSeconds } from "./cpu_time.ts";

/** How the window's generator runs. */
export interface WindowEnv extends GeneratorEnv {
  /** Connections of the warm-up and measured runs. */
  connections: number;
  /** Pipeline depth of the preload. */
  loadDepth: number;
}

/** What one window measured. */
export interface WindowResult {
  /** Commands per second over the measured run (a multi-get counts once). */
  opsPerSec: number;
  /** 99th percentile latency, µs. */
  p99Us: number;
  /** Requests the server answered between the two CPU readings. */
  requests: number;
  /** Server CPU seconds (user + system, all threads) between the readings. */
  cpuSec: number;
  /** `cpuSec` per request, in µs. */
  cpuUsPerReq: number;
  /** The same from mcload's own reading (its measured span only), µs: a cross-check. */
  mcloadCpuUsPerReq: number;
  /** CPU% used by other processes during the run (noise), or NaN. */
  otherCpuPct: number;
}

function loadArgs(env: WindowEnv, w: Workload, port: number): string[] {
  return [
    "-p",
    String(port),
    "-L",
    "-l",
    String(env.loadDepth),
    "-k",
    String(KEYS),
    "-v",
    String(w.valueSize),
  ];
}

function runArgs(
  env: WindowEnv,
  w: Workload,
  port: number,
  secs: number,
  pid: number | null,
): string[] {
  return mcloadWindowArgs(w, port, secs, env.connections, pid);
}

/** The generator command lines of one window, in order (for --dry-run). */
export function describeWindow(
  env: WindowEnv,
  w: Workload,
  port: number,
  opts: RunOptions,
): string[] {
  const cmds = [cmdLine(env, loadArgs(env, w, port)) + "   # preload"];
  if (opts.warmup > 0) {
    cmds.push(
      cmdLine(env, runArgs(env, w, port, opts.warmup, null)) + "   # warm-up",
    );
  }
  cmds.push(
    "cat /proc/PID/stat; " +
      cmdLine(env, runArgs(env, w, port, opts.duration, 0)).replace(
        /-P 0$/,
        "-P PID",
      ) + "; cat /proc/PID/stat",
  );
  return cmds;
}

/** Runs one window of `w` against the server `pid` listening on `port`; throws on failure. */
export async function measureWindow(
  env: WindowEnv,
  w: Workload,
  port: number,
  pid: number,
  opts: RunOptions,
): Promise<WindowResult> {
  const slack = 120_000;
  await invoke(env, loadArgs(env, w, port), 600_000);
  if (opts.warmup > 0) {
    await invoke(
      env,
      runArgs(env, w, port, opts.warmup, null),
      opts.warmup * 1000 + slack,
    );
  }
  const before = await cpuSeconds(pid);
  const out = await invoke(
    env,
    runArgs(env, w, port, opts.duration, pid),
    opts.duration * 1000 + slack,
  );
  const after = await cpuSeconds(pid);
  const kv = parseMcload(out);
  const ops = Number(kv.ops), opsPerSec = Number(kv.ops_s);
  if (!Number.isFinite(ops) || !Number.isFinite(opsPerSec) || ops <= 0) {
    throw new Error(`mcload: no result in: ${out.trim()}`);
  }
  if (!Number.isFinite(before) || !Number.isFinite(after)) {
    throw new Error(`cannot read /proc/${pid}/stat`);
  }
  // requests still in flight when mcload stops (≤ connections × depth) are
  // served but not counted: under 0.1% of a window at these rates
  const requests = ops + env.connections;
  const cpuSec = after - before;
  const mcloadPct = Number(kv.server_cpu_pct);
  return {
    opsPerSec,
    p99Us: Number(kv.p99_us),
    requests,
    cpuSec,
    cpuUsPerReq: cpuSec * 1e6 / requests,
    mcloadCpuUsPerReq: mcloadPct >= 0 ? mcloadPct * 1e4 / opsPerSec : NaN,
    otherCpuPct: Number(kv.other_cpu_pct ?? NaN),
  };
}
