/**
 * `deno task compile`: the argument list `scripts/compile.ts` builds, and
 * the native binary itself where a runtime is at hand. `deno compile`
 * downloads its runtime (denort) from Deno's servers unless `DENORT_BIN`
 * names a local one; without either the binary test skips, saying why.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, skip } from "./_helpers.ts";
import { DENO, ROOT, smoke, spawnProc, spawnServer } from "./_proc.ts";
import {
  compileArgs,
  parseCompileArgs,
  resolveTarget,
  V8_FLAGS,
} from "../scripts/compile.ts";

Deno.test("compile: targets, output names and permissions", () => {
  assert.equal(resolveTarget("linux-x64"), "x86_64-unknown-linux-gnu");
  assert.equal(resolveTarget("linux-arm64"), "aarch64-unknown-linux-gnu");
  assert.equal(resolveTarget("macos-x64"), "x86_64-apple-darwin");
  assert.equal(resolveTarget("macos-arm64"), "aarch64-apple-darwin");
  assert.equal(resolveTarget("windows-x64"), "x86_64-pc-windows-msvc");
  assert.equal(resolveTarget("aarch64-apple-darwin"), "aarch64-apple-darwin");
  assert.throws(() => resolveTarget("linux-mips"));

  const host = parseCompileArgs([]);
  assert.deepEqual(host, {
    target: null,
    output: "dist/denocached",
    unixSocket: false,
  });
  assert.deepEqual(compileArgs(host), [
    "compile",
    "--allow-net",
    "--allow-ffi",
    "--allow-read",
    "--allow-write",
    `--v8-flags=${V8_FLAGS}`,
    "--exclude-unused-npm",
    "--output",
    "dist/denocached",
    "main.ts",
  ]);
  const win = parseCompileArgs(["--target", "windows-x64"]);
  assert.equal(win.output, "dist/denocached-windows-x64.exe");
  assert.deepEqual(
    compileArgs(win).slice(0, 9),
    [
      "compile",
      "--allow-net",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      `--v8-flags=${V8_FLAGS}`,
      "--exclude-unused-npm",
      "--target",
      "x86_64-pc-windows-msvc",
    ],
  );
  const unix = parseCompileArgs(["--unix-socket", "-o", "/tmp/x"]);
  const args = compileArgs(unix);
  assert.deepEqual(args.slice(0, 5), [
    "compile",
    "--allow-net",
    "--allow-ffi",
    "--allow-read",
    "--allow-write",
  ]);
  // Never everything.
  for (const a of [...args, ...compileArgs(host)]) {
    assert.ok(
      !["-A", "--allow-all", "--allow-run", "--allow-env"].includes(a),
      a,
    );
  }
});

Deno.test("compile: deno.json's server tasks run with the same V8 flags", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  for (const t of ["start", "start:fast", "dev"]) {
    assert.ok(
      String(cfg.tasks[t]).includes(`--v8-flags=${V8_FLAGS}`),
      `task ${t}: ${cfg.tasks[t]}`,
    );
  }
});

Deno.test("compile: the binary serves with its embedded --allow-net", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denocached-compile-" });
  try {
    const bin = `${dir}/denocached`;
    const build = spawnProc(
      DENO,
      [
        "run",
        "--allow-run",
        "--allow-env",
        "--allow-read",
        "scripts/compile.ts",
        "--output",
        bin,
      ],
      { cwd: ROOT },
    );
    const bs = await build.status;
    if (bs.code !== 0) {
      const err = build.stderr();
      if (/dl\.deno\.land|error sending request|dns error/i.test(err)) {
        skip(
          "deno compile could not download its runtime (denort) from Deno's " +
            `servers; set DENORT_BIN=/path/to/denort (v${Deno.version.deno}) to run this test`,
        );
        return;
      }
      assert.fail(`deno compile failed:\n${err}`);
    }
    // A full deno binary given as DENORT_BIN ignores the embedded program.
    const v = await new Deno.Command(bin, {
      args: ["-V"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    const version = new TextDecoder().decode(v.stdout).trim();
    if (!version.startsWith("denocached ")) {
      skip(
        `DENORT_BIN is not a denort runtime (the binary printed '${version}')`,
      );
      return;
    }

    const port = freePort();
    const p = await spawnServer(bin, ["-p", String(port)], port, { cwd: dir });
    let code = -1;
    try {
      await smoke(port);
    } finally {
      code = (await p.stop("SIGTERM")).code;
    }
    assert.equal(code, 0, p.stderr());

    // The embedded grants cover the unix socket and snapshots too.
    const sock = `${dir}/mc.sock`;
    const u = await spawnServer(
      bin,
      ["-s", sock, "--snapshot", `${dir}/cache.snap`],
      sock,
      { cwd: dir },
    );
    try {
      await smoke(sock);
    } finally {
      assert.equal((await u.stop("SIGTERM")).code, 0, u.stderr());
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
