/**
 * Result aggregation and rendering: medians over rounds, the throughput and
 * memory tables (Markdown, aligned for the terminal too) and the
 * `bench/RESULTS.md` report.
 * @module
 */

/** Median of the finite numbers in `xs` (NaN if none). */
export function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Formats an integer with thousands separators ("-" for NaN). */
export function fmtInt(x: number): string {
  if (!Number.isFinite(x)) return "-";
  return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Formats with `digits` decimals ("-" for NaN). */
export function fmtFixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "-";
}

/** Renders rows as an aligned Markdown table; columns listed in `right` are right-aligned. */
export function markdownTable(
  header: string[],
  rows: string[][],
  right: Set<number> = new Set(),
): string {
  const width = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const cell = (s: string, i: number) =>
    right.has(i) ? s.padStart(width[i]) : s.padEnd(width[i]);
  const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const sep = `| ${
    width.map((w, i) => right.has(i) ? `${"-".repeat(w - 1)}:` : "-".repeat(w))
      .join(" | ")
  } |`;
  return [line(header), sep, ...rows.map(line)].join("\n");
}

/** One server's numbers for one workload, over all rounds. */
export interface ServerSamples {
  /** ops/s of each successful round. */
  ops: number[];
  /** p99 µs of each successful round. */
  p99: number[];
  /** Server RSS (KiB) after each successful round. */
  rssKiB: number[];
  /** Error messages of failed rounds. */
  errors: string[];
}

/** Throughput results of one workload. */
export interface ThroughputRow {
  /** "W1" … "W4". */
  id: string;
  /** Description for the footnotes. */
  title: string;
  /** Target ratio (at least). */
  target: number;
  /** Reason the workload was not run (e.g. "n/a (needs mcload)"), or null. */
  skipped: string | null;
  /** Baseline samples. */
  memcached: ServerSamples;
  /** Candidate samples. */
  denocached: ServerSamples;
  /** True if p99 values are estimates from a log2 histogram. */
  p99Estimated: boolean;
}

/** Memory (M1) results, one entry per round. */
export interface MemoryRow {
  /** Bytes per item for memcached, per round. */
  memcached: MemorySample[];
  /** Bytes per item for denocached, per round. */
  denocached: MemorySample[];
  /** Largest allowed denocached/memcached ratio. */
  maxRatio: number;
  /** Items loaded. */
  keys: number;
  /** Value size. */
  valueSize: number;
}

/** One M1 measurement (or its error). */
export interface MemorySample {
  /** Idle VmRSS in KiB. */
  idleKiB: number;
  /** VmRSS after loading, in KiB. */
  loadedKiB: number;
  /** (loaded - idle) bytes / items. */
  bytesPerItem: number;
  /** curr_items from `stats`, NaN if not available. */
  items: number;
  /** Load time in seconds. */
  loadSecs: number;
  /** Error message if the round failed. */
  error: string | null;
}

/** Creates an empty sample holder. */
export function emptySamples(): ServerSamples {
  return { ops: [], p99: [], rssKiB: [], errors: [] };
}

function ratioCell(
  r: number,
  target: number,
  atLeast: boolean,
): [string, string] {
  if (!Number.isFinite(r)) return ["-", "-"];
  const met = atLeast ? r >= target : r <= target;
  return [r.toFixed(2), met ? "met" : "NOT met"];
}

/** The throughput table (one row per workload). */
export function throughputTable(rows: ThroughputRow[]): string {
  const header = [
    "workload",
    "memcached ops/s",
    "denocached ops/s",
    "ratio",
    "target",
    "status",
    "memcached p99 µs",
    "denocached p99 µs",
    "memcached RSS MiB",
    "denocached RSS MiB",
  ];
  const body = rows.map((r) => {
    if (r.skipped !== null) {
      return [
        r.id,
        r.skipped,
        r.skipped,
        "-",
        `≥ ${r.target}`,
        "-",
        "-",
        "-",
        "-",
        "-",
      ];
    }
    const mo = median(r.memcached.ops), dop = median(r.denocached.ops);
    const [ratio, status] = ratioCell(dop / mo, r.target, true);
    const est = r.p99Estimated ? "~" : "";
    const p99 = (s: ServerSamples) =>
      Number.isFinite(median(s.p99)) ? est + fmtInt(median(s.p99)) : "-";
    const ops = (s: ServerSamples, m: number) =>
      Number.isFinite(m) ? fmtInt(m) : s.errors.length ? "FAIL" : "-";
    return [
      r.id,
      ops(r.memcached, mo),
      ops(r.denocached, dop),
      ratio,
      `≥ ${r.target}`,
      status,
      p99(r.memcached),
      p99(r.denocached),
      fmtFixed(median(r.memcached.rssKiB) / 1024, 1),
      fmtFixed(median(r.denocached.rssKiB) / 1024, 1),
    ];
  });
  return markdownTable(header, body, new Set([1, 2, 3, 6, 7, 8, 9]));
}

/** The memory table (one row: M1). */
export function memoryTable(m: MemoryRow): string {
  const ok = (xs: MemorySample[]) => xs.filter((x) => x.error === null);
  const bpi = (xs: MemorySample[]) => median(ok(xs).map((x) => x.bytesPerItem));
  const mb = bpi(m.memcached), db = bpi(m.denocached);
  const [ratio, status] = ratioCell(db / mb, m.maxRatio, false);
  const rss = (xs: MemorySample[]) => {
    const o = ok(xs);
    if (o.length === 0) return xs.length ? "FAIL" : "-";
    return `${fmtFixed(median(o.map((x) => x.idleKiB)) / 1024, 1)} → ${
      fmtFixed(median(o.map((x) => x.loadedKiB)) / 1024, 1)
    }`;
  };
  const items = (xs: MemorySample[]) =>
    fmtInt(median(ok(xs).map((x) => x.items)));
  const header = [
    "workload",
    "memcached B/item",
    "denocached B/item",
    "ratio",
    "target",
    "status",
    "memcached RSS MiB idle → loaded",
    "denocached RSS MiB idle → loaded",
    "items (memcached / denocached)",
  ];
  const row = [
    "M1",
    Number.isFinite(mb) ? fmtFixed(mb, 1) : m.memcached.length ? "FAIL" : "-",
    Number.isFinite(db) ? fmtFixed(db, 1) : m.denocached.length ? "FAIL" : "-",
    ratio,
    `≤ ${m.maxRatio}`,
    status,
    rss(m.memcached),
    rss(m.denocached),
    `${items(m.memcached)} / ${items(m.denocached)}`,
  ];
  return markdownTable(header, [row], new Set([1, 2, 3, 6, 7]));
}

/** Everything RESULTS.md reports. */
export interface Report {
  /** ISO date and time of the run. */
  date: string;
  /** Machine description lines ("CPU: ...", ...). */
  machine: string[];
  /** Settings lines (generator, duration, rounds, commands, ...). */
  settings: string[];
  /** Throughput rows (may be empty). */
  throughput: ThroughputRow[];
  /** Memory row, or null if M1 was not run. */
  memory: MemoryRow | null;
  /** Footnotes. */
  notes: string[];
  /** Per-round lines, as printed during the run. */
  log: string[];
}

/** Renders the tables only (what the terminal shows at the end). */
export function renderTables(r: Report): string {
  const parts: string[] = [];
  if (r.throughput.length) parts.push(throughputTable(r.throughput));
  if (r.memory) parts.push(memoryTable(r.memory));
  return parts.join("\n\n");
}

/** Renders the full RESULTS.md text. */
export function renderResultsMd(r: Report): string {
  const lines = [
    "# Benchmark results",
    "",
    "Written by `deno task bench` (bench/bench.ts) — rerun it to refresh this file.",
    "",
    `Date: ${r.date}`,
    "",
    "## Machine",
    "",
    ...r.machine.map((l) => `- ${l}`),
    "",
    "## Settings",
    "",
    ...r.settings.map((l) => `- ${l}`),
    "",
    "## Results",
    "",
    "ops/s and p99 are medians over the rounds; ratio = denocached ops/s ÷ memcached ops/s",
    "(for M1: denocached bytes/item ÷ memcached bytes/item). RSS is the server's VmRSS after the run.",
    "",
    renderTables(r),
    "",
  ];
  if (r.notes.length) {
    lines.push(
      "Notes:",
      "",
      ...r.notes.map((n) => `- ${n}`),
      "",
    );
  }
  if (r.log.length) {
    lines.push("## Individual runs", "", "```text", ...r.log, "```", "");
  }
  return lines.join("\n");
}
