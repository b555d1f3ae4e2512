/**
 * denocached vs memcached benchmark — `deno task bench [options]`.
 *
 * Starts memcached and denocached (each fresh, on a free loopback port, in
 * its own process group, pinned to one CPU with `taskset`), drives the
 * workloads W1–W4 and M1 against each in turn with the load generator
 * pinned to the other CPU, alternating the servers every round, and prints a
 * table of ops/s, p99 latency, RSS and the denocached/memcached ratio beside
 * its target. The table, the machine and the date go to bench/RESULTS.md.
 *
 * Run with `--help` for the options. Missing tools make it print what to
 * install and exit 0 ("skipped").
 * @module
 */

import { parseArgs } from "node:util";
import {
  buildMcload,
  CONNECTIONS,
  type Generator,
  GET_RATIO,
  KEYS,
  M1,
  McloadGenerator,
  MemcaslapGenerator,
  type RunOptions,
  type Workload,
  WORKLOADS,
} from "./generators.ts";
import { hitMain } from "./hit.ts";
import { metricsMain } from "./metrics_cost.ts";
import { startCommand } from "./start_cmd.ts";
import { threadsMain } from "./threads.ts";
import {
  freePort,
  installSignalHandlers,
  interrupted,
  onInterrupt,
  runCapture,
  runCleanups,
  ServerProcess,
  serverStats,
  shQuote,
  sleep,
  which,
} from "./procs.ts";
import {
  emptySamples,
  type MemoryRow,
  type MemorySample,
  renderResultsMd,
  renderTables,
  type Report,
  type ThroughputRow,
} from "./table.ts";

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const REPO_DIR = new URL("..", import.meta.url).pathname;
const ALL_WORKLOADS = ["W1", "W2", "W3", "W4", "M1"];
const CONNECTIONS_TEXT = `${CONNECTIONS} connections, ${
  KEYS.toLocaleString("en-US")
} keys of 16 B, ${Math.round(GET_RATIO * 100)}% get / ${
  Math.round((1 - GET_RATIO) * 100)
}% set`;
const INSTALL_HINT = "apt-get install -y memcached libmemcached-tools";

/** Usage text printed by `--help`. */
export const USAGE = `Usage: deno task bench [options]

Benchmarks denocached against memcached (each pinned to its own CPU) and prints
ops/s, p99 latency, RSS and the denocached/memcached ratio per workload:
  W1  50 conns, 10k keys (16 B), 90% get / 10% set, 32 B values, no pipelining
  W2  as W1 with 16 requests in flight per connection (mcload only)
  W3  as W1 with 4 KiB values
  W4  as W1 but every get is a 10-key multi-get
  M1  memory: fresh server with -m 1024, load 1,000,000 keys x 100 B values,
      (RSS growth) / 1e6 = bytes per item

Options:
  --duration SECS       measured seconds per run (default 5)
  --warmup SECS         warm-up seconds before each measured run (default 1)
  --workloads LIST      comma-separated subset of W1,W2,W3,W4,M1 (default: all)
  --rounds N            runs per server and workload, alternating memcached and
                        denocached (default 2)
  --generator NAME      memcaslap (default) or mcload (built from bench/mcload.c
                        with gcc into a temp dir; needed for W2)
  --io NAME             denocached's I/O backend: epoll (default on Linux
                        x86_64/aarch64: deno.json's start task command, which
                        picks epoll itself) or portable (deno run --allow-net
                        main.ts, the default elsewhere)
  --server-cmd CMD      denocached command line, {port} is replaced by the port
                        (overrides --io)
  --memcached-cmd CMD   memcached command line with {port}
                        (default: memcached -t 1 -p {port} -U 0 -l 127.0.0.1)
  --mem-mb MB           memory limit for W1-W4: "{mb}" in a command is replaced
                        by it, else "-m MB" is appended (default 1024; M1 always
                        uses 1024)
  --server-cpu LIST     CPU(s) for the servers (default 1)
  --client-cpu LIST     CPU(s) for the load generator (default 0)
  --no-pin              do not use taskset
  --load-depth N        mcload pipeline depth of its key loading (default 64;
                        1 for servers that mishandle pipelined sets)
  --out FILE            where to write the results (default bench/RESULTS.md)
  --no-out              do not write a results file
  --dry-run             print what would be run, run nothing
  -h, --help            this text

deno task bench --hit --help: hit-ratio and memory workloads.
deno task bench --metrics --help: the cost of --metrics (on vs off).
deno task bench --threads --help: -t 1 and -t 2 against memcached, CPU per request.

As root, memcached commands get "-u nobody" appended unless they have -u.
Missing tools: ${INSTALL_HINT} (gcc for mcload, util-linux for taskset).`;

/** Parsed and validated command line. */
interface Options {
  duration: number;
  warmup: number;
  workloads: string[];
  rounds: number;
  generator: "memcaslap" | "mcload";
  serverCmd: string | null;
  io: "epoll" | "portable";
  memcachedCmd: string;
  memMb: number;
  serverCpu: string;
  clientCpu: string;
  pin: boolean;
  loadDepth: number;
  out: string | null;
  dryRun: boolean;
}

class UsageError extends Error {}

/** The epoll backend where it runs (Linux x86_64/aarch64), else portable. */
function ioOpt(v: string | undefined): "epoll" | "portable" {
  if (v === "epoll" || v === "portable") return v;
  if (v !== undefined) {
    throw new UsageError(`--io: expected epoll or portable, got '${v}'`);
  }
  const linux = Deno.build.os === "linux" &&
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64");
  return linux ? "epoll" : "portable";
}

function intOpt(
  name: string,
  v: string | undefined,
  def: number,
  min: number,
): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} needs an integer >= ${min}, got "${v}"`);
  }
  return n;
}

function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      workloads: { type: "string" },
      rounds: { type: "string" },
      generator: { type: "string" },
      "server-cmd": { type: "string" },
      "memcached-cmd": { type: "string" },
      "mem-mb": { type: "string" },
      "server-cpu": { type: "string" },
      "client-cpu": { type: "string" },
      "no-pin": { type: "boolean" },
      io: { type: "string" },
      "load-depth": { type: "string" },
      out: { type: "string" },
      "no-out": { type: "boolean" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const generator = values.generator ?? "memcaslap";
  if (generator !== "memcaslap" && generator !== "mcload") {
    throw new UsageError(
      `--generator must be memcaslap or mcload, got "${generator}"`,
    );
  }
  const workloads = (values.workloads ?? ALL_WORKLOADS.join(",")).split(",")
    .map((w) => w.trim().toUpperCase())
    .filter((w) => w !== "");
  for (const w of workloads) {
    if (!ALL_WORKLOADS.includes(w)) {
      throw new UsageError(
        `unknown workload "${w}" (known: ${ALL_WORKLOADS.join(",")})`,
      );
    }
  }
  if (workloads.length === 0) throw new UsageError("--workloads is empty");
  const cpu = (name: string, v: string | undefined, def: string) => {
    const s = v ?? def;
    if (!/^\d+([-,]\d+)*$/.test(s)) {
      throw new UsageError(
        `--${name} must be a CPU list like 1 or 0-1, got "${s}"`,
      );
    }
    return s;
  };
  for (
    const [name, cmd] of [["server-cmd", values["server-cmd"]], [
      "memcached-cmd",
      values["memcached-cmd"],
    ]]
  ) {
    if (cmd !== undefined && !cmd.includes("{port}")) {
      throw new UsageError(`--${name} must contain {port}`);
    }
  }
  return {
    duration: intOpt("duration", values.duration, 5, 1),
    warmup: intOpt("warmup", values.warmup, 1, 0),
    workloads: [...new Set(workloads)],
    rounds: intOpt("rounds", values.rounds, 2, 1),
    generator,
    serverCmd: values["server-cmd"] ?? null,
    io: ioOpt(values.io),
    memcachedCmd: values["memcached-cmd"] ??
      "memcached -t 1 -p {port} -U 0 -l 127.0.0.1",
    memMb: intOpt("mem-mb", values["mem-mb"], 1024, 1),
    serverCpu: cpu("server-cpu", values["server-cpu"], "1"),
    clientCpu: cpu("client-cpu", values["client-cpu"], "0"),
    pin: !values["no-pin"],
    loadDepth: intOpt("load-depth", values["load-depth"], 64, 1),
    out: values["no-out"] ? null : values.out ?? `${BENCH_DIR}RESULTS.md`,
    dryRun: values["dry-run"] ?? false,
  };
}

/** The two servers under test. */
type ServerName = "memcached" | "denocached";
const SERVERS: ServerName[] = ["memcached", "denocached"];

/** Fills {port} and the memory limit into a command template. */
function serverCommand(template: string, port: number, memMb: number): string {
  let cmd = template.replaceAll("{port}", String(port));
  cmd = cmd.includes("{mb}")
    ? cmd.replaceAll("{mb}", String(memMb))
    : `${cmd} -m ${memMb}`;
  const exe = cmd.trim().split(/\s+/)[0].split("/").pop();
  if (
    exe === "memcached" && Deno.uid() === 0 &&
    !/(^|\s)(-u|--user)(\s|=|$)/.test(cmd)
  ) {
    cmd += " -u nobody"; // memcached refuses to run as root without -u
  }
  return cmd;
}

function firstWord(cmd: string): string {
  return cmd.trim().split(/\s+/)[0];
}

function log(line: string, sink: string[]): void {
  console.log(line);
  sink.push(line);
}

async function machineInfo(): Promise<string[]> {
  const info: string[] = [];
  let model = "", cpus = "";
  try {
    const r = await runCapture("lscpu", [], 10_000);
    model = r.stdout.match(/^Model name:\s*(.+)$/m)?.[1].trim() ?? "";
    cpus = r.stdout.match(/^CPU\(s\):\s*(.+)$/m)?.[1].trim() ?? "";
  } catch {
    // no lscpu
  }
  if (!model) {
    try {
      model =
        Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)
          ?.[1].trim() ?? "unknown";
    } catch {
      model = "unknown";
    }
  }
  info.push(`CPU: ${model}, ${cpus || navigator.hardwareConcurrency} CPU(s)`);
  try {
    const mem = Deno.systemMemoryInfo();
    info.push(`Memory: ${(mem.total / 2 ** 30).toFixed(1)} GiB`);
  } catch {
    // no --allow-sys
  }
  try {
    info.push(
      `Kernel: ${Deno.osRelease()}; load average at start: ${
        Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
      }`,
    );
  } catch {
    // no --allow-sys
  }
  info.push(`Deno: ${Deno.version.deno} (V8 ${Deno.version.v8})`);
  return info;
}

async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await runCapture(cmd, args, 10_000);
    return (r.stdout + r.stderr).trim().split("\n")[0] ?? "";
  } catch {
    return "";
  }
}

function skip(reason: string): never {
  console.log(`bench: ${reason}`);
  console.log("bench: skipped");
  Deno.exit(0);
}

async function main(argv: string[]): Promise<number> {
  let opts: Options;
  try {
    const parsed = parseOptions(argv);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    opts = parsed;
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    console.error(USAGE);
    return 2;
  }

  // ---- tools
  const memcachedBin = firstWord(opts.memcachedCmd);
  if (!which(memcachedBin)) {
    skip(`${memcachedBin} not found. Install it with: ${INSTALL_HINT}`);
  }
  if (!which("setsid")) {
    skip("setsid not found. Install it with: apt-get install -y util-linux");
  }
  if (opts.pin && !which("taskset")) {
    skip("taskset not found. Install it with: apt-get install -y util-linux");
  }
  if (!which("/bin/sh")) skip("/bin/sh not found");
  let genBin: string | null;
  if (opts.generator === "memcaslap") {
    genBin = which("memcaslap") ?? which("memaslap");
    if (!genBin) {
      skip(
        `memcaslap not found. Install it with: ${INSTALL_HINT} (or use --generator mcload)`,
      );
    }
  } else {
    if (!which("gcc")) {
      skip(
        "gcc not found (needed to build bench/mcload.c). Install it with: apt-get install -y gcc",
      );
    }
    genBin = null;
  }
  let serverTemplate = opts.serverCmd;
  if (serverTemplate === null) {
    const mainTs = `${REPO_DIR}main.ts`;
    try {
      Deno.statSync(mainTs);
    } catch {
      skip(
        `${mainTs} not found (denocached is not there yet); use --server-cmd 'CMD with {port}' to benchmark another server`,
      );
    }
    serverTemplate = opts.io === "epoll"
      // The default path: the README's `deno task start` command line, no
      // extra flags (it picks epoll itself where FFI runs).
      ? `${startCommand(mainTs)} -p {port} -l 127.0.0.1`
      : `${shQuote(Deno.execPath())} run --allow-net ${
        shQuote(mainTs)
      } -p {port} -l 127.0.0.1`;
  } else if (
    !firstWord(serverTemplate).includes("=") &&
    !which(firstWord(serverTemplate))
  ) {
    skip(`${firstWord(serverTemplate)} (from --server-cmd) not found`);
  }
  const templates: Record<ServerName, string> = {
    memcached: opts.memcachedCmd,
    denocached: serverTemplate,
  };
  const ncpu = navigator.hardwareConcurrency;
  if (opts.pin && ncpu < 2) {
    console.log(`bench: only ${ncpu} CPU: not pinning (results will be noisy)`);
    opts.pin = false;
  }
  const serverCpu = opts.pin ? opts.serverCpu : null;
  const clientCpu = opts.pin ? opts.clientCpu : null;

  // ---- scratch dir, generator
  const tmpDir = await Deno.makeTempDir({ prefix: "denocached-bench-" });
  onInterrupt(() =>
    Deno.remove(tmpDir, { recursive: true }).catch(() => undefined)
  );
  installSignalHandlers();

  let gen: Generator;
  if (opts.generator === "mcload") {
    const bin = `${tmpDir}/mcload`;
    if (!opts.dryRun) {
      const failed = await buildMcload(bin);
      if (failed !== null) {
        console.error(`bench: building mcload failed:\n${failed}`);
        await runCleanups();
        return 1;
      }
    }
    gen = new McloadGenerator({ bin, cpu: clientCpu, tmpDir }, opts.loadDepth);
  } else {
    gen = new MemcaslapGenerator({ bin: genBin!, cpu: clientCpu, tmpDir });
  }
  const runOpts: RunOptions = { duration: opts.duration, warmup: opts.warmup };
  const throughputIds = opts.workloads.filter((w) => w !== "M1");
  const withM1 = opts.workloads.includes("M1");

  if (opts.dryRun) {
    const pin = (cmd: string) =>
      serverCpu === null ? cmd : `taskset -c ${serverCpu} ${cmd}`;
    console.log(
      `generator: ${gen.name}; ${opts.rounds} round(s); servers alternate ${
        SERVERS.join(", ")
      } each round`,
    );
    for (const id of throughputIds) {
      const w = WORKLOADS[id];
      console.log(`\n${id}: ${w.title}`);
      const why = gen.unsupported(w);
      if (why) {
        console.log(`  ${why}`);
        continue;
      }
      for (const s of SERVERS) {
        console.log(
          `  ${s}: ${pin(serverCommand(templates[s], 11211, opts.memMb))}`,
        );
      }
      for (const c of gen.describe(w, 11211, runOpts)) {
        console.log(`  load: ${c}`);
      }
    }
    if (withM1) {
      console.log(`\nM1: ${M1.keys} keys x ${M1.valueSize} B`);
      for (const s of SERVERS) {
        console.log(
          `  ${s}: ${pin(serverCommand(templates[s], 11211, M1.memMb))}`,
        );
      }
      console.log(`  load: ${gen.describeLoad(11211)}`);
    }
    console.log("\n(port 11211 stands for a free port picked at run time)");
    await runCleanups();
    return 0;
  }

  // ---- run
  const runLog: string[] = [];
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const machine = await machineInfo();
  const memcachedVersion = await versionOf(memcachedBin, ["-V"]);
  /** A command as shown in the report: PORT for the port, no machine-specific paths. */
  const shown = (template: string) =>
    serverCommand(template.replaceAll("{port}", "PORT"), 0, opts.memMb)
      .replaceAll(shQuote(Deno.execPath()), "deno")
      .replaceAll(REPO_DIR, "");
  const settings = [
    `Generator: ${gen.name}${genBin ? "" : " (bench/mcload.c, gcc -O2)"}`,
    `Duration ${opts.duration} s, warm-up ${opts.warmup} s, ${opts.rounds} round(s) per server and workload, servers alternating`,
    `Workloads: ${opts.workloads.join(", ")} — ${CONNECTIONS_TEXT}`,
    opts.pin
      ? `Pinning: servers on CPU ${serverCpu}, load generator on CPU ${clientCpu} (taskset)`
      : "Pinning: none",
    `memcached: \`${shown(templates.memcached)}\`${
      memcachedVersion ? ` (${memcachedVersion})` : ""
    }`,
    `denocached: \`${shown(templates.denocached)}\``,
  ];
  console.log(`bench: ${machine[0]}`);
  for (const s of settings) console.log(`bench: ${s}`);
  let failures = 0;
  let maxOtherCpu = 0; // mcload: CPU% used by other processes during a run

  const startServer = async (
    name: ServerName,
    memMb: number,
  ): Promise<ServerProcess> => {
    const port = freePort();
    return await ServerProcess.start({
      label: name,
      command: serverCommand(templates[name], port, memMb),
      port,
      cpu: serverCpu,
      logPath: `${tmpDir}/${name}-${port}.log`,
    });
  };
  const errText = (e: unknown) => e instanceof Error ? e.message : String(e);

  const throughput: ThroughputRow[] = [];
  for (const id of throughputIds) {
    const w: Workload = WORKLOADS[id];
    const row: ThroughputRow = {
      id,
      title: w.title,
      target: w.target,
      skipped: gen.unsupported(w),
      memcached: emptySamples(),
      denocached: emptySamples(),
      p99Estimated: false,
    };
    throughput.push(row);
    if (row.skipped) {
      log(`${id}: ${row.skipped}`, runLog);
      continue;
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const name of SERVERS) {
        const samples = row[name];
        let server: ServerProcess | null = null;
        try {
          server = await startServer(name, opts.memMb);
          const r = await gen.measure(
            w,
            server.port,
            await server.pid(),
            runOpts,
          );
          const rss = await server.statusKiB("VmRSS") ?? NaN;
          samples.ops.push(r.opsPerSec);
          samples.p99.push(r.p99Us);
          samples.rssKiB.push(rss);
          row.p99Estimated = r.p99Estimated;
          maxOtherCpu = Math.max(
            maxOtherCpu,
            Number(r.details.other_cpu_pct ?? 0) || 0,
          );
          const extra = Object.entries(r.details).map(([k, v]) => `${k}=${v}`)
            .join(" ");
          log(
            `${id} round ${round} ${name.padEnd(10)} ops_s=${
              Math.round(r.opsPerSec)
            } p99_us=${r.p99Estimated ? "~" : ""}${r.p99Us} rss_mib=${
              (rss / 1024).toFixed(1)
            } ${extra}`,
            runLog,
          );
        } catch (e) {
          if (interrupted()) await new Promise(() => {}); // exiting: no failure noise
          failures++;
          samples.errors.push(errText(e));
          log(
            `${id} round ${round} ${name.padEnd(10)} FAILED: ${errText(e)}`,
            runLog,
          );
        } finally {
          await server?.stop();
        }
      }
    }
  }

  let memory: MemoryRow | null = null;
  if (withM1) {
    memory = {
      memcached: [],
      denocached: [],
      maxRatio: M1.maxRatio,
      keys: M1.keys,
      valueSize: M1.valueSize,
    };
    for (let round = 1; round <= opts.rounds; round++) {
      for (const name of SERVERS) {
        let server: ServerProcess | null = null;
        const sample: MemorySample = {
          idleKiB: NaN,
          loadedKiB: NaN,
          bytesPerItem: NaN,
          items: NaN,
          loadSecs: NaN,
          error: null,
        };
        try {
          server = await startServer(name, M1.memMb);
          sample.idleKiB = await server.statusKiB("VmRSS") ?? NaN;
          const r = await gen.load(server.port, M1.keys, M1.valueSize);
          sample.loadSecs = r.seconds;
          await sleep(1000);
          sample.loadedKiB = await server.statusKiB("VmRSS") ?? NaN;
          const hwm = await server.statusKiB("VmHWM");
          if (
            !Number.isFinite(sample.idleKiB) ||
            !Number.isFinite(sample.loadedKiB)
          ) {
            throw new Error(`cannot read VmRSS of pid ${await server.pid()}`);
          }
          sample.bytesPerItem = (sample.loadedKiB - sample.idleKiB) * 1024 /
            M1.keys;
          sample.items = (await serverStats(server.port)).get("curr_items") ??
            NaN;
          log(
            `M1 round ${round} ${name.padEnd(10)} bytes_per_item=${
              sample.bytesPerItem.toFixed(1)
            } idle_rss_kib=${sample.idleKiB} rss_kib=${sample.loadedKiB} hwm_kib=${
              hwm ?? "?"
            } curr_items=${
              Number.isFinite(sample.items) ? sample.items : "?"
            } load_s=${r.seconds.toFixed(1)}`,
            runLog,
          );
          if (Number.isFinite(sample.items) && sample.items < M1.keys) {
            log(
              `M1 round ${round} ${
                name.padEnd(10)
              } warning: only ${sample.items} of ${M1.keys} items stored`,
              runLog,
            );
          }
        } catch (e) {
          if (interrupted()) await new Promise(() => {}); // exiting: no failure noise
          failures++;
          sample.error = errText(e);
          log(
            `M1 round ${round} ${name.padEnd(10)} FAILED: ${errText(e)}`,
            runLog,
          );
        } finally {
          await server?.stop();
        }
        memory[name].push(sample);
      }
    }
  }

  // ---- report
  const notes = [
    ...throughput.filter((r) => !r.skipped).map((r) => `${r.id}: ${r.title}.`),
  ];
  if (gen.name === "memcaslap") {
    notes.push(
      "memcaslap: each connection has its own key window (1k keys minimum, so up to 51,200 keys rather than 10k); it gets only keys it has set before (all gets hit, no separate preload), and once its window is full its sets write new keys.",
      "memcaslap: p99 (~) is interpolated from its log2 latency histogram; W4's ops/s counts multi-get commands, and its 90/10 get/set split is per key (about one set per 10-key get).",
    );
  } else {
    notes.push(
      "mcload preloads the 10k keys, then warms up; p99 is exact (1 µs buckets); W4's ops/s counts commands.",
    );
  }
  if (maxOtherCpu > 20) {
    notes.push(
      `The machine was busy: other processes used up to ${maxOtherCpu}% CPU during a run (other_cpu_pct in the per-run lines); rerun with more --rounds or when it is idle.`,
    );
  }
  const report: Report = {
    date,
    machine,
    settings,
    throughput,
    memory,
    notes,
    log: runLog,
  };
  console.log(`\n${renderTables(report)}\n`);
  for (const n of notes) console.log(`  * ${n}`);
  if (opts.out !== null) {
    await Deno.writeTextFile(opts.out, renderResultsMd(report));
    // keep the file as `deno fmt` wants it (prose wrapping, table layout)
    await runCapture(Deno.execPath(), ["fmt", "--quiet", opts.out], 60_000)
      .catch(() => undefined);
    console.log(`\nbench: wrote ${opts.out}`);
  }
  await runCleanups();
  return failures > 0 ? 1 : 0;
}

if (import.meta.main) {
  let code = 1;
  try {
    code = Deno.args.includes("--hit")
      ? await hitMain(Deno.args)
      : Deno.args.includes("--metrics")
      ? await metricsMain(Deno.args)
      : Deno.args.includes("--threads")
      ? await threadsMain(Deno.args)
      : await main(Deno.args);
  } catch (e) {
    console.error(
      `bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}`,
    );
    await runCleanups();
  }
  Deno.exit(code);
}
