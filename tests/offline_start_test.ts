/**
 * `deno task start` works offline: a fresh DENO_DIR and the npm registry
 * pointed at a closed port. deno.json sets `"lock": false` so the task
 * runner installs nothing; the tasks that need the test-only npm packages
 * (test, check, bench) pass `--lock=deno.lock`, so the lock still pins them.
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "./_helpers.ts";
import { DENO, ROOT, smoke, spawnProc, spawnServer } from "./_proc.ts";

Deno.test("offline: deno task start -V and a served request with no registry", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "denocached-offline-" });
  const closed = freePort(); // nothing listens there
  const env = {
    DENO_DIR: denoDir,
    NPM_CONFIG_REGISTRY: `http://127.0.0.1:${closed}/`,
    NO_COLOR: "1",
  };
  try {
    const v = spawnProc(DENO, ["task", "start", "-V"], {
      cwd: ROOT,
      env,
      stdout: true,
    });
    const s = await v.status;
    assert.equal(s.code, 0, v.stderr());
    assert.match(v.stdout(), /^denocached \S+ \(memcached 1\.6\.18\)\n$/);
    assert.doesNotMatch(v.stderr(), /Download|Failed caching/);
    const port = freePort();
    const p = await spawnServer(
      DENO,
      ["task", "start", "-p", String(port)],
      port,
      {
        cwd: ROOT,
        env,
      },
    );
    try {
      await smoke(port);
    } finally {
      await p.stop("SIGTERM");
    }
    assert.doesNotMatch(p.stderr(), /Download|Failed caching/);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
