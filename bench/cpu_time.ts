/**
 * A process's CPU time (utime + stime, all its threads) from
 * /proc/PID/stat, read through `cat`: Deno lets only --allow-all programs
 * read /proc/PID files, and the bench runs with narrower grants. The
 * threaded comparison divides the difference of two readings by the
 * requests served between them (CPU per request), which stays comparable
 * when the servers get different shares of a busy machine.
 * @module
 */

import { runCapture } from "./procs.ts";

let ticksPerSecond: number | null = null;

/** utime + stime in clock ticks from the text of /proc/PID/stat (NaN if malformed). */
export function parseStatTicks(stat: string): number {
  // the command name (field 2) may contain spaces and ')': split after the last ')'
  const close = stat.lastIndexOf(")");
  if (close < 0) return NaN;
  const fields = stat.slice(close + 1).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  const utime = Number(fields[11]), stime = Number(fields[12]);
  return Number.isInteger(utime) && Number.isInteger(stime)
    ? utime + stime
    : NaN;
}

/** Clock ticks per second (`getconf CLK_TCK`; 100, Linux's USER_HZ, if that fails). */
export async function clockTicks(): Promise<number> {
  if (ticksPerSecond === null) {
    let hz = NaN;
    try {
      hz = Number((await runCapture("getconf", ["CLK_TCK"], 5000)).stdout);
    } catch {
      // no getconf
    }
    ticksPerSecond = Number.isInteger(hz) && hz > 0 ? hz : 100;
  }
  return ticksPerSecond;
}

/** CPU seconds `pid` has used so far (user + system, every thread); NaN if unreadable. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const r = await runCapture("cat", [`/proc/${pid}/stat`], 5000);
    if (r.code !== 0) return NaN;
    return parseStatTicks(r.stdout) / await clockTicks();
  } catch {
    return NaN;
  }
}
