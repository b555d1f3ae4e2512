/**
 * `deno task bundle`: one self-contained JavaScript file. Builds it into a
 * temp dir with the task's own command, then runs it alone in an empty
 * directory with an empty DENO_DIR, `--cached-only` and exactly
 * `--allow-net`: nothing else to read, nothing to download.
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "./_helpers.ts";
import { DENO, ROOT, smoke, spawnProc, spawnServer } from "./_proc.ts";

Deno.test("bundle: one file that serves with --allow-net only", async () => {
  const build = await Deno.makeTempDir({ prefix: "denocached-bundle-" });
  const run = await Deno.makeTempDir({ prefix: "denocached-run-" });
  const denoDir = await Deno.makeTempDir({ prefix: "denocached-denodir-" });
  try {
    // The task's command, with the output redirected out of the repo.
    const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
      tasks: Record<string, string>;
    };
    const task = cfg.tasks.bundle.split(/\s+/);
    assert.equal(task[0], "deno");
    const out = `${build}/denocached.js`;
    const args = task.slice(1).map((a) => a === "dist/denocached.js" ? out : a);
    assert.ok(
      args.includes(out),
      `bundle task does not write dist/denocached.js`,
    );
    const b = spawnProc(DENO, args, { cwd: ROOT });
    const bs = await b.status;
    assert.equal(bs.code, 0, b.stderr());

    const js = await Deno.readTextFile(out);
    // Only runtime built-ins may stay as imports.
    const imports = [...js.matchAll(/^\s*import\b[^"']*["']([^"']+)["']/gm)]
      .map((m) => m[1]);
    for (const spec of imports) {
      assert.match(spec, /^node:/, `import of ${spec}`);
    }
    assert.doesNotMatch(js, /\bimport\s*\(/, "dynamic import in the bundle");

    // Alone in an empty directory, from another cwd.
    await Deno.copyFile(out, `${run}/denocached.js`);
    const port = freePort();
    const p = await spawnServer(
      DENO,
      [
        "run",
        "--allow-net",
        "--cached-only",
        "--no-config",
        "denocached.js",
        "-p",
        String(port),
      ],
      port,
      { cwd: run, env: { DENO_DIR: denoDir, NO_COLOR: "1" } },
    );
    let code = -1;
    try {
      await smoke(port);
    } finally {
      code = (await p.stop("SIGTERM")).code;
    }
    assert.equal(code, 0, p.stderr());
    assert.deepEqual([...Deno.readDirSync(run)].map((e) => e.name), [
      "denocached.js",
    ]);
  } finally {
    for (const d of [build, run, denoDir]) {
      await Deno.remove(d, { recursive: true });
    }
  }
});
