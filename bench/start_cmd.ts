/**
 * The command line `deno task start` runs, rebuilt from deno.json's `start`
 * task, so that the benchmarks start denocached the way a user does (same
 * permissions and V8 flags) and follow the task when it changes.
 * @module
 */

import { shQuote } from "./procs.ts";

const REPO_DIR = new URL("..", import.meta.url).pathname;

/**
 * deno.json's `start` task as a shell command line for `mainTs`: the
 * leading `deno` (after any `VAR=value`) becomes this Deno's path and `main.ts` becomes `mainTs`.
 */
export function startCommand(mainTs = `${REPO_DIR}main.ts`): string {
  const cfg = JSON.parse(
    Deno.readTextFileSync(`${REPO_DIR}deno.json`),
  ) as { tasks: Record<string, string> };
  const words = cfg.tasks.start.split(/\s+/);
  // The command is the first word after the VAR=value prefixes.
  const at = words.findIndex((w) => !/^[A-Za-z_]\w*=/.test(w));
  const cmd = words.map((w, i) =>
    i === at && w === "deno"
      ? shQuote(Deno.execPath())
      : w === "main.ts"
      ? shQuote(mainTs)
      : w
  );
  // Through env(1), so the line also works after `exec` (as procs.ts runs
  // it) and the server keeps the pid the bench measures.
  return (at > 0 ? ["env", ...cmd] : cmd).join(" ");
}
