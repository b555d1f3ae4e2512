/**
 * Conformance: libmemcached's `memccapable` (Debian libmemcached-tools)
 * runs its 27 ascii (`-a`) and 27 binary (`-b`) protocol checks against an
 * in-process denocached.
 * @module
 */

import assert from "node:assert/strict";
import { skip, which, withServer } from "./_helpers.ts";

for (const [flag, name] of [["-a", "ascii"], ["-b", "binary"]] as const) {
  Deno.test(`memccapable ${flag}: all 27 ${name} tests pass`, async () => {
    const bin = which("memccapable");
    if (!bin) {
      skip("memccapable not installed (apt-get install -y libmemcached-tools)");
      return;
    }
    await withServer({}, async (srv) => {
      // Runs while this process keeps serving, so it must be async (not output()).
      const out = await new Deno.Command(bin, {
        args: [flag, "-t", "10", "-h", "127.0.0.1", "-p", String(srv.port)],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      const err = new TextDecoder().decode(out.stderr);
      // Output: one "<protocol> <name>   [pass]" line per test, then a summary.
      const passed = text.match(new RegExp(`^${name} .*\\[pass\\]$`, "gm")) ??
        [];
      const failed =
        text.match(new RegExp(`^${name} .*\\[(?!pass\\]).*\\]$`, "gm")) ?? [];
      assert.deepEqual(failed, [], text + err);
      assert.equal(passed.length, 27, text + err);
      assert.match(text, /All tests passed/);
      assert.equal(out.code, 0, text + err);
    });
  });
}
