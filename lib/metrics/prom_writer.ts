/**
 * A tiny writer for the Prometheus text exposition format (0.0.4): samples
 * are grouped by family so each family's `# HELP`/`# TYPE` comes once,
 * before its samples, as the format requires.
 * @module
 */

/** Prometheus' content type for this format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A metric family's type. */
export type Kind = "counter" | "gauge" | "histogram";
/** Label name → value. */
export type Labels = Record<string, string>;

/** Collects families in first-use order. */
export interface Writer {
  families: Map<string, { help: string; type: Kind; lines: string[] }>;
}

/** Creates an empty writer. */
export function createWriter(): Writer {
  return { families: new Map() };
}

function family(w: Writer, name: string, type: Kind, help: string) {
  let f = w.families.get(name);
  if (!f) w.families.set(name, f = { help, type, lines: [] });
  return f;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A sample value as the format spells it (NaN, +Inf, -Inf). */
export function fmt(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Adds one sample; `suffix` is `_bucket`/`_sum`/`_count` for histograms. */
export function sample(
  w: Writer,
  name: string,
  type: Kind,
  help: string,
  value: number,
  labels: Labels = {},
  suffix = "",
): void {
  const keys = Object.keys(labels);
  const l = keys.length === 0
    ? ""
    : `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",")}}`;
  family(w, name, type, help).lines.push(`${name}${suffix}${l} ${fmt(value)}`);
}

/** A numeric stats field, or null when absent or not a number. */
export function num(m: Map<string, string>, key: string): number | null {
  const v = m.get(key);
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Adds a sample from `m[key]` when the key is there (exporter behaviour). */
export function from(
  w: Writer,
  m: Map<string, string>,
  key: string,
  name: string,
  type: Kind,
  help: string,
  labels: Labels = {},
): void {
  const v = num(m, key);
  if (v !== null) sample(w, name, type, help, v, labels);
}

/** The exposition text. */
export function render(w: Writer): string {
  let out = "";
  for (const [name, f] of w.families) {
    out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n`;
    out += f.lines.join("\n") + "\n";
  }
  return out;
}
