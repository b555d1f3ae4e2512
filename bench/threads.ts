/**
 * The threaded comparison — `deno task bench --threads [options]`.
 *
 * For each workload W1–W4 and round it runs four fresh servers: memcached
 * and denocached at `-t 1` (server pinned to the server CPU, generator to
 * the other, as the main bench does), then both at `-t 2` with nothing
 * pinned: on a 2-core machine two loops need both cores, so the generator
 * shares them, and the table says so. denocached is started exactly as
 * `deno task start` runs it, with `-t N` appended. The servers alternate
 * which goes first every round.
 *
 * Besides ops/s it reports the server's CPU time per request (utime +
 * stime over the measured window ÷ requests served in it, see
 * threads_run.ts): with two cores and a generator among them, ops/s at
 * `-t 2` says little about scaling, but CPU per request that stays flat
 * from `-t 1` to `-t 2` means the loops pay no locking or sharing tax.
 * @module
 */

import { parseArgs } from "node:util";
import {
  buildMcload,
  CONNECTIONS,
  type RunOptions,
  WORKLOADS,
} from "./generators.ts";
import {
  freePort,
  installSignalHandlers,
  interrupted,
  runCleanups,
  ServerProcess,
  shQuote,
  tail,
  which,
} from "./procs.ts";
import { startCommand } from "./start_cmd.ts";
import {
  describeWindow,
  measureWindow,
  type WindowEnv,
} from "./threads_run.ts";
import {
  cpuTable,
  emptyThreadRow,
  type Server,
  type ThreadRow,
  THREADS,
  type Threads,
  throughputTable,
} from "./threads_table.ts";

const REPO_DIR = new URL("..", import.meta.url).pathname;
const SERVERS: Server[] = ["memcached", "denocached"];

/** Usage text printed by `--threads --help`. */
export const THREADS_USAGE = `Usage: deno task bench --threads [options]

memcached and denocached at -t 1 (server pinned to one CPU, load generator to
the other) and at -t 2 (nothing pinned: the generator shares the cores), each
fresh per run; prints ops/s, the ratio denocached/memcached (target at -t 2:
>= 1.0) and each server's CPU µs per request at -t 1 and -t 2 (target for
denocached: -t 2 within 10% of -t 1). Uses mcload (bench/mcload.c, gcc).
  --workloads LIST   subset of W1,W2,W3,W4 (default: all four)
  --rounds N         rounds, each running all four servers (default 2)
  --duration SECS    measured seconds per run (default 5)
  --warmup SECS      warm-up seconds per run, before the window (default 1)
  --server-cmd CMD   denocached command line with {port} (default: deno.json's
                     start task with -p {port} -l 127.0.0.1); -m and -t appended
  --mem-mb MB        -m for every server (default 1024)
  --server-cpu LIST  CPU(s) for the servers at -t 1 (default 1)
  --client-cpu LIST  CPU(s) for the load generator at -t 1 (default 0)
  --no-pin           do not pin at -t 1 either
  --dry-run          print what would be run, run nothing`;

interface Options {
  ids: string[];
  rounds: number;
  run: RunOptions;
  serverCmd: string;
  memMb: number;
  serverCpu: string;
  clientCpu: string;
  pin: boolean;
  dryRun: boolean;
}

function num(name: string, v: string | undefined, def: number, min: number) {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${name} needs an integer >= ${min}, got "${v}"`);
  }
  return n;
}

function parse(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      threads: { type: "boolean" },
      workloads: { type: "string" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "server-cmd": { type: "string" },
      "mem-mb": { type: "string" },
      "server-cpu": { type: "string" },
      "client-cpu": { type: "string" },
      "no-pin": { type: "boolean" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const ids = [
    ...new Set(
      (values.workloads ?? "W1,W2,W3,W4").split(",").map((w) =>
        w.trim().toUpperCase()
      ).filter((w) => w !== ""),
    ),
  ];
  const bad = ids.find((w) => !(w in WORKLOADS));
  if (bad !== undefined || ids.length === 0) {
    throw new Error(`unknown workload "${bad ?? ""}" (W1,W2,W3,W4)`);
  }
  const cmd = values["server-cmd"];
  if (cmd !== undefined && !cmd.includes("{port}")) {
    throw new Error("--server-cmd must contain {port}");
  }
  for (const k of ["server-cpu", "client-cpu"] as const) {
    const v = values[k];
    if (v !== undefined && !/^\d+([-,]\d+)*$/.test(v)) {
      throw new Error(`--${k} must be a CPU list like 1 or 0-1, got "${v}"`);
    }
  }
  return {
    ids,
    rounds: num("rounds", values.rounds, 2, 1),
    run: {
      duration: num("duration", values.duration, 5, 1),
      warmup: num("warmup", values.warmup, 1, 0),
    },
    serverCmd: cmd ?? `${startCommand()} -p {port} -l 127.0.0.1`,
    memMb: num("mem-mb", values["mem-mb"], 1024, 1),
    serverCpu: values["server-cpu"] ?? "1",
    clientCpu: values["client-cpu"] ?? "0",
    pin: !values["no-pin"],
    dryRun: values["dry-run"] ?? false,
  };
}

/** The command line of `server` at `-t threads` on `port`. */
function command(o: Options, server: Server, t: Threads, port: number) {
  if (server === "denocached") {
    return `${
      o.serverCmd.replaceAll("{port}", String(port))
    } -m ${o.memMb} -t ${t}`;
  }
  const root = Deno.uid() === 0 ? " -u nobody" : ""; // memcached refuses root without -u
  return `memcached -t ${t} -p ${port} -U 0 -l 127.0.0.1 -m ${o.memMb}${root}`;
}

/** A command as shown in the report: PORT for the port, no machine paths. */
function shown(o: Options, server: Server, t: Threads): string {
  return command(o, server, t, 0).replace(/(-p )0\b/, "$1PORT")
    .replaceAll(shQuote(Deno.execPath()), "deno").replaceAll(REPO_DIR, "");
}

/** Entry point of `bench --threads`; returns the exit code. */
export async function threadsMain(argv: string[]): Promise<number> {
  let o: Options;
  try {
    const p = parse(argv);
    if (p === "help") {
      console.log(THREADS_USAGE);
      return 0;
    }
    o = p;
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n\n${THREADS_USAGE}`);
    return 2;
  }
  const missing = ["memcached", "setsid", "gcc", "cat"].filter((t) =>
    which(t) === null
  );
  if (missing.length) {
    console.log(
      `bench: ${
        missing.join(", ")
      } not found (apt-get install -y memcached gcc util-linux)\nbench: skipped`,
    );
    return 0;
  }
  const ncpu = navigator.hardwareConcurrency;
  const pin = o.pin && which("taskset") !== null && ncpu >= 2;
  if (o.pin && !pin) console.log("bench: not pinning (needs taskset, 2 CPUs)");
  const twoCoreNote = ncpu <= 2
    ? `${ncpu}-core machine: generator shares the cores`
    : "generator unpinned";
  installSignalHandlers();
  const tmpDir = await Deno.makeTempDir({ prefix: "denocached-tbench-" });
  const bin = `${tmpDir}/mcload`;
  const envFor = (t: Threads): WindowEnv => ({
    bin,
    cpu: t === 1 && pin ? o.clientCpu : null,
    tmpDir,
    connections: CONNECTIONS,
    loadDepth: 64,
  });
  const serverCpu = (t: Threads) => t === 1 && pin ? o.serverCpu : null;
  const pinText = (t: Threads) =>
    serverCpu(t) === null
      ? t === 1 ? "not pinned" : `nothing pinned (${twoCoreNote})`
      : `server on CPU ${serverCpu(t)}, generator on CPU ${o.clientCpu}`;
  console.log(
    `bench: mcload, ${CONNECTIONS} connections, ${o.rounds} round(s) of ${o.run.duration} s (+${o.run.warmup} s warm-up), servers alternating`,
  );
  for (const t of THREADS) {
    console.log(`bench: -t ${t}: ${pinText(t)}`);
    for (const s of SERVERS) console.log(`bench:   ${s}: ${shown(o, s, t)}`);
  }

  if (o.dryRun) {
    for (const id of o.ids) {
      console.log(`\n${id}: ${WORKLOADS[id].title}`);
      for (const t of THREADS) {
        for (
          const c of describeWindow(envFor(t), WORKLOADS[id], 11211, o.run)
        ) {
          console.log(`  -t ${t} load: ${c}`);
        }
      }
    }
    console.log("\n(port 11211 stands for a free port picked at run time)");
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    return 0;
  }

  const failed = await buildMcload(bin);
  if (failed !== null) {
    console.error(`bench: building mcload failed:\n${failed}`);
    return 1;
  }
  const rows: ThreadRow[] = [];
  let failures = 0, maxOther = 0;
  for (const id of o.ids) {
    const w = WORKLOADS[id];
    const row = emptyThreadRow(id);
    rows.push(row);
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? SERVERS : [...SERVERS].reverse();
      for (const t of THREADS) {
        for (const s of order) {
          const port = freePort();
          let server: ServerProcess | null = null;
          const tag = `${id} round ${round} -t ${t} ${s.padEnd(10)}`;
          try {
            server = await ServerProcess.start({
              label: `${s} -t ${t}`,
              command: command(o, s, t, port),
              port,
              cpu: serverCpu(t),
              logPath: `${tmpDir}/${s}-t${t}-${port}.log`,
            });
            const r = await measureWindow(
              envFor(t),
              w,
              port,
              await server.pid(),
              o.run,
            );
            row.samples[t][s].push({
              ops: r.opsPerSec,
              p99: r.p99Us,
              cpuUs: r.cpuUsPerReq,
            });
            if (Number.isFinite(r.otherCpuPct)) {
              maxOther = Math.max(maxOther, r.otherCpuPct);
            }
            console.log(
              `${tag} ops_s=${
                Math.round(r.opsPerSec)
              } p99_us=${r.p99Us} requests=${r.requests} cpu_s=${
                r.cpuSec.toFixed(2)
              } cpu_us_req=${r.cpuUsPerReq.toFixed(2)} mcload_cpu_us_req=${
                r.mcloadCpuUsPerReq.toFixed(2)
              } other_cpu_pct=${r.otherCpuPct}`,
            );
          } catch (e) {
            if (interrupted()) await new Promise(() => {}); // exiting
            failures++;
            row.failures++;
            // the server's own words explain a reset or a crash best
            const why = server === null
              ? ""
              : `${
                server.alive ? "" : " (server exited)"
              }\n--- server stderr ---\n${await tail(server.logPath, 15)}`;
            console.log(`${tag} FAILED: ${(e as Error).message}${why}`);
          } finally {
            await server?.stop();
          }
        }
      }
    }
  }

  console.log(
    `\nThroughput (medians over ${o.rounds} round(s)); -t 1: ${
      pinText(1)
    }; -t 2: ${pinText(2)}\n`,
  );
  console.log(throughputTable(rows));
  console.log(
    `\nServer CPU per request, µs (utime+stime over the window ÷ requests); -t 2: ${twoCoreNote}\n`,
  );
  console.log(cpuTable(rows));
  const notes = [
    "ratio = denocached ops/s ÷ memcached ops/s at the same -t; a multi-get (W4) is one request.",
    "CPU per request reads /proc/PID/stat (all threads) before and after the measured mcload run, which has no preload or warm-up of its own; mcload_cpu_us_req in the run lines is mcload's own reading of the same, a cross-check.",
    "-t 2 ÷ -t 1 above 1 means each request costs more CPU with two loops (locking, sharing, or the generator's share of the cores).",
  ];
  if (maxOther > 20) {
    notes.push(
      `The machine was busy: other processes used up to ${maxOther}% CPU during a run.`,
    );
  }
  for (const n of notes) console.log(`  * ${n}`);
  await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  await runCleanups();
  return failures > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await threadsMain(Deno.args));
