/**
 * The cost of `--metrics` — `deno task bench --metrics [options]`.
 *
 * Every round of a workload starts three fresh servers, all pinned to the
 * server CPU: memcached, denocached without `--metrics` ("off") and with
 * `--metrics=127.0.0.1:PORT` ("on", whose /metrics is scraped every
 * `--scrape-ms` for as long as it runs, as Prometheus would, only more
 * often, by `scraper.ts` pinned to the load generator's CPU). Each is
 * preloaded and warmed up, then measured in short mcload
 * windows on the other CPU (`metrics_windows.ts`), each between two
 * readings of the server's CPU time:
 *
 * - solo windows, one server at a time, off and on in ABBA order
 *   (off,on,on,off; the next round on,off,off,on), memcached first;
 * - paired windows, off and on driven at once, the cost measured where
 *   both see the same machine at the same moment.
 *
 * After the round the scrape must show on's commands in its latency
 * histograms, so a run that timed nothing cannot pass for cheap. The
 * tables (`metrics_table.ts`) give per workload the medians over rounds of
 * ops/s, CPU µs per request and the on/off ratios, with their ranges.
 * @module
 */

import { parseArgs } from "node:util";
import {
  buildMcload,
  type GeneratorEnv,
  type Workload,
  WORKLOADS,
} from "./generators.ts";
import {
  freePort,
  installSignalHandlers,
  runCapture,
  runCleanups,
  ServerProcess,
  shQuote,
  which,
} from "./procs.ts";
import { fmtFixed, fmtInt, median } from "./table.ts";
import {
  cpuUsPerReq,
  meanOps,
  pairedWindow,
  prepare,
  soloWindow,
  type Target,
} from "./metrics_windows.ts";
import {
  type Kind,
  renderMetricsTables,
  roundRatios,
  type RoundResult,
  summarize,
  TARGET,
  type WorkloadSummary,
} from "./metrics_table.ts";

const REPO_DIR = new URL("..", import.meta.url).pathname;

/** Usage text printed by `--metrics --help`. */
export const METRICS_USAGE = `Usage: deno task bench --metrics [options]

denocached with --metrics on vs off (memcached beside them): per round three
fresh servers on the server CPU, measured by mcload (built with gcc) in solo
windows (ABBA order) and paired windows (off and on driven at once); prints
ops/s, server CPU µs per request and the on/off ratios (target: within
${TARGET * 100}%).
  --workloads LIST   subset of W1,W2,W3,W4 (default all four)
  --rounds N         rounds per workload, fresh servers each (default 4)
  --duration SECS    seconds per window (default 2)
  --pairs N          paired windows per round (default 3; 0: none)
  --warmup SECS      warm-up seconds per server and round (default 1)
  --io NAME          denocached backend: epoll (default on Linux) or portable
  --server-cmd CMD   denocached command line with {port} (overrides --io);
                     "on" appends --metrics=127.0.0.1:PORT to it
  --scrape-ms MS     scrape /metrics this often while "on" runs (default
                     1000; 0: never)
  --no-memcached     skip memcached
  --mem-mb MB        -m for every server (default 1024)
  --load-depth N     mcload pipeline depth of the preload (default 64)
  --server-cpu LIST  CPU(s) for the servers (default 1)
  --client-cpu LIST  CPU(s) for the load generators (default 0)
  --no-pin           do not use taskset
  --on-cmd CMD       "on"'s command line instead (a patched build, say)
  --control          A/A check of the method: "on" is started without
                     --metrics too (and not scraped); ratios should be 1`;

/** Parses `/metrics` text: the sum of `denocached_command_duration_seconds_count`. */
export function latencySamples(metrics: string): number {
  let n = 0;
  for (
    const m of metrics.matchAll(
      /^denocached_command_duration_seconds_count\{[^}]*\} (\S+)$/gm,
    )
  ) n += Number(m[1]);
  return n;
}

/** A running `scraper.ts`; `stop` kills it and says how many scrapes it made. */
interface Scraper {
  stop(): Promise<number>;
}

/** Starts `scraper.ts` on `cpu` (the load generator's; null = unpinned). */
function startScraper(port: number, ms: number, cpu: string | null): Scraper {
  const args = [
    "run",
    "--allow-net",
    REPO_DIR + "bench/scraper.ts",
    String(port),
    String(ms),
  ];
  const child = new Deno.Command(
    cpu === null ? Deno.execPath() : "taskset",
    {
      args: cpu === null ? args : ["-c", cpu, Deno.execPath(), ...args],
      stdout: "piped",
      stderr: "null",
    },
  ).spawn();
  const out = child.output();
  let stopped: Promise<number> | null = null;
  return {
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        const o = await out;
        return new TextDecoder().decode(o.stdout).split("\n").filter((l) =>
          l === "scraped"
        ).length;
      })();
      return stopped;
    },
  };
}

async function fetchText(port: number, path: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  const body = await r.text();
  if (r.status !== 200) throw new Error(`${path} answered ${r.status}`);
  return body;
}

/**
 * What `perf stat -e instructions` says here: hardware counters would give
 * instructions per request, far steadier than CPU time, but a VM without a
 * virtual PMU has none.
 */
async function instructionCounters(): Promise<string> {
  if (!which("perf")) {
    return "not counted (no perf; apt-get install linux-perf)";
  }
  const r = await runCapture(
    "perf",
    ["stat", "-x", ",", "-e", "instructions", "--", "true"],
    10_000,
  ).catch(() => null);
  const line = r?.stderr.split("\n").find((l) => l.includes("instructions"));
  if (line === undefined) return "not counted (perf stat failed)";
  return /not supported|not counted/.test(line)
    ? "not counted (perf stat -e instructions: <not supported>, no hardware PMU here)"
    : "countable here (perf stat -e instructions works), not used by this bench";
}

function num(name: string, v: string | undefined, def: number, min: number) {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${name} needs an integer >= ${min}, got "${v}"`);
  }
  return n;
}

/** What every round of a run shares. */
interface Plan {
  env: GeneratorEnv;
  tmpDir: string;
  serverCpu: string | null;
  command: (kind: Kind, port: number, metricsPort: number) => string;
  kinds: Kind[];
  duration: number;
  pairs: number;
  warmup: number;
  scrapeMs: number;
  loadDepth: number;
  /** A/A check: "on" runs without --metrics, so nothing is scraped or checked. */
  control: boolean;
}

/** One round of `w`: fresh servers, solo then paired windows; logs as it goes. */
async function runRound(
  p: Plan,
  w: Workload,
  round: number,
): Promise<RoundResult> {
  const res: RoundResult = {
    solo: { memcached: [], off: [], on: [] },
    paired: { off: [], on: [] },
  };
  const servers: ServerProcess[] = [];
  const t: Partial<Record<Kind, Target>> = {};
  const mport = freePort();
  let scraper: Scraper | null = null;
  try {
    for (const kind of p.kinds) {
      const port = freePort();
      const s = await ServerProcess.start({
        label: kind === "memcached" ? "memcached" : `denocached-${kind}`,
        command: p.command(kind, port, mport),
        port,
        cpu: p.serverCpu,
        logPath: `${p.tmpDir}/${kind}-${port}.log`,
      });
      servers.push(s);
      t[kind] = { port, pid: await s.pid() };
    }
    if (p.scrapeMs > 0) scraper = startScraper(mport, p.scrapeMs, p.env.cpu);
    for (const kind of p.kinds) {
      await prepare(p.env, w, t[kind]!.port, p.warmup, p.loadDepth);
    }
    const timed = () =>
      p.control
        ? Promise.resolve(0)
        : fetchText(mport, "/metrics").then(latencySamples);
    const before = await timed();
    const abba: Kind[] = round % 2 === 1
      ? ["off", "on", "on", "off"]
      : ["on", "off", "off", "on"];
    const order = p.kinds.includes("memcached")
      ? ["memcached" as const, ...abba]
      : abba;
    for (const kind of order) {
      const r = await soloWindow(p.env, w, t[kind]!, p.duration);
      res.solo[kind].push(r);
      console.log(
        `${w.id} round ${round} ${kind.padEnd(9)} ops_s=${
          Math.round(r.opsPerSec)
        } p99_us=${r.p99Us} cpu_us_req=${
          fmtFixed(cpuUsPerReq([r]), 2)
        } other_cpu_pct=${r.otherCpuPct}`,
      );
    }
    for (let i = 0; i < p.pairs; i++) {
      const onFirst = (i + round) % 2 === 0;
      const [a, b] = await pairedWindow(
        p.env,
        w,
        t[onFirst ? "on" : "off"]!,
        t[onFirst ? "off" : "on"]!,
        p.duration,
      );
      const [on, off] = onFirst ? [a, b] : [b, a];
      res.paired.on.push(on);
      res.paired.off.push(off);
      console.log(
        `${w.id} round ${round} paired    off ops_s=${
          Math.round(off.opsPerSec)
        } cpu_us_req=${fmtFixed(cpuUsPerReq([off]), 2)} | on ops_s=${
          Math.round(on.opsPerSec)
        } cpu_us_req=${fmtFixed(cpuUsPerReq([on]), 2)} | on/off ops=${
          fmtFixed(on.ops / off.ops, 3)
        }`,
      );
    }
    const scrapes = scraper === null ? 0 : await scraper.stop();
    scraper = null;
    const onOps = [...res.solo.on, ...res.paired.on].reduce(
      (s, x) => s + x.ops,
      0,
    );
    const seen = (await timed()) - before;
    if (!p.control && seen < onOps * 0.5) {
      throw new Error(`only ${seen} of ${onOps} commands in the histograms`);
    }
    const j = p.control
      ? { denocached: { latency: { clock: "none (control)" } } }
      : JSON.parse(await fetchText(mport, "/stats.json"));
    const q = roundRatios(res);
    console.log(
      `${w.id} round ${round} on/off    solo ops=${
        fmtFixed(q.soloOps, 3)
      } cpu=${fmtFixed(q.soloCpu, 3)} | paired ops=${
        fmtFixed(q.pairedOps, 3)
      } cpu=${
        fmtFixed(q.pairedCpu, 3)
      } | timed=${seen} scrapes=${scrapes} clock=${
        j.denocached?.latency?.clock ?? "?"
      }`,
    );
    return res;
  } finally {
    await scraper?.stop();
    for (const s of servers) await s.stop();
  }
}

/** Entry point of `bench --metrics`; returns the exit code. */
export async function metricsMain(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        metrics: { type: "boolean" },
        workloads: { type: "string" },
        rounds: { type: "string" },
        duration: { type: "string" },
        pairs: { type: "string" },
        warmup: { type: "string" },
        io: { type: "string" },
        "server-cmd": { type: "string" },
        "scrape-ms": { type: "string" },
        "no-memcached": { type: "boolean" },
        "mem-mb": { type: "string" },
        "load-depth": { type: "string" },
        "server-cpu": { type: "string" },
        "client-cpu": { type: "string" },
        "no-pin": { type: "boolean" },
        control: { type: "boolean" },
        "on-cmd": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n\n${METRICS_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(METRICS_USAGE);
    return 0;
  }
  let rounds: number, duration: number, warmup: number, scrapeMs: number;
  let memMb: number, pairs: number, loadDepth: number;
  try {
    rounds = num("rounds", values.rounds, 4, 1);
    duration = num("duration", values.duration, 2, 1);
    pairs = num("pairs", values.pairs, 3, 0);
    warmup = num("warmup", values.warmup, 1, 0);
    scrapeMs = num("scrape-ms", values["scrape-ms"], 1000, 0);
    memMb = num("mem-mb", values["mem-mb"], 1024, 1);
    loadDepth = num("load-depth", values["load-depth"], 64, 1);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 2;
  }
  const ids = (values.workloads ?? "W1,W2,W3,W4").split(",").map((w) =>
    w.trim().toUpperCase()
  ).filter((w) => w !== "");
  const bad = ids.find((w) => !(w in WORKLOADS));
  if (bad !== undefined || ids.length === 0) {
    console.error(`bench: unknown workload "${bad ?? ""}" (W1,W2,W3,W4)`);
    return 2;
  }
  const serverCmd = values["server-cmd"], onCmd = values["on-cmd"];
  for (const [name, cmd] of [["server-cmd", serverCmd], ["on-cmd", onCmd]]) {
    if (cmd !== undefined && !cmd.includes("{port}")) {
      console.error(`bench: --${name} must contain {port}`);
      return 2;
    }
  }
  installSignalHandlers();
  if (!which("memcached") || !which("setsid") || !which("gcc")) {
    console.log("bench: needs memcached, setsid and gcc\nbench: skipped");
    return 0;
  }
  const pin = !values["no-pin"] && which("taskset") !== null &&
    navigator.hardwareConcurrency >= 2;
  const serverCpu = pin ? values["server-cpu"] ?? "1" : null;
  const clientCpu = pin ? values["client-cpu"] ?? "0" : null;
  const tmpDir = await Deno.makeTempDir({ prefix: "denocached-mbench-" });
  const bin = `${tmpDir}/mcload`;
  const failed = await buildMcload(bin);
  if (failed !== null) {
    console.error(`bench: building mcload failed:\n${failed}`);
    return 1;
  }
  const epoll = values.io === undefined
    ? Deno.build.os === "linux"
    : values.io === "epoll";
  const deno = serverCmd ??
    `${shQuote(Deno.execPath())} run --allow-net${
      epoll ? " --allow-ffi" : ""
    } ${shQuote(REPO_DIR + "main.ts")} -p {port} -l 127.0.0.1${
      epoll ? " --io=epoll" : ""
    }`;
  const control = values.control === true;
  const root = Deno.uid() === 0 ? " -u nobody" : "";
  const command = (kind: Kind, port: number, metricsPort: number) => {
    if (kind === "memcached") {
      return `memcached -t 1 -p ${port} -U 0 -l 127.0.0.1 -m ${memMb}${root}`;
    }
    const base = `${
      (kind === "on" ? onCmd ?? deno : deno).replaceAll("{port}", String(port))
    } -m ${memMb}`;
    return kind === "on" && !control
      ? `${base} --metrics=127.0.0.1:${metricsPort}`
      : base;
  };
  const plan: Plan = {
    env: { bin, cpu: clientCpu, tmpDir },
    tmpDir,
    serverCpu,
    command,
    kinds: values["no-memcached"] ? ["off", "on"] : ["memcached", "off", "on"],
    duration,
    pairs,
    warmup,
    scrapeMs: control ? 0 : scrapeMs,
    loadDepth,
    control,
  };
  console.log(
    `bench: mcload, ${rounds} round(s) per workload of 5 solo + ${pairs} paired windows of ${duration} s (+${warmup} s warm-up per server); servers ${
      pin ? `on CPU ${serverCpu}, load on CPU ${clientCpu}` : "not pinned"
    }; ${
      control
        ? 'CONTROL run: "on" is a second server without --metrics'
        : `/metrics scraped every ${scrapeMs || "-"} ms while on runs`
    }`,
  );
  console.log(
    `bench: denocached: ${
      command("on", 0, 0).replaceAll(shQuote(Deno.execPath()), "deno")
        .replaceAll(REPO_DIR, "")
    }`,
  );
  console.log(
    `bench: instructions per request: ${await instructionCounters()}`,
  );

  const rows: WorkloadSummary[] = [];
  let failures = 0;
  for (const id of ids) {
    const w = WORKLOADS[id];
    const got: RoundResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      try {
        got.push(await runRound(plan, w, round));
      } catch (e) {
        failures++;
        console.log(`${id} round ${round} FAILED: ${(e as Error).message}`);
      }
    }
    const s = summarize(id, got);
    rows.push(s);
    console.log(
      `${id}: off ${
        fmtInt(median(got.map((r) => meanOps(r.solo.off))))
      } ops/s; paired on/off ${s.paired[2]}`,
    );
  }
  console.log("\n" + renderMetricsTables(rows, { duration, pairs, scrapeMs }));
  await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  await runCleanups();
  return failures > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await metricsMain(Deno.args));
