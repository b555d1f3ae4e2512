/**
 * `-B`, `-S` and `-Y` settle the protocol as memcached does: SASL needs
 * binary, ASCII auth needs text, and a contradicting `-B` is refused; the
 * server reports the choice in `stats settings` (`binding_protocol`,
 * `auth_enabled_sasl`).
 * @module
 */

import assert from "node:assert/strict";
import { parseCli, UsageError } from "../lib/cli.ts";
import { raw, withServer } from "./_helpers.ts";
import { stats } from "./_robust_helpers.ts";

Deno.test("cli: -B and -S/-Y pick the protocol, contradictions are usage errors", () => {
  assert.equal(parseCli([]).config.protocol, "auto");
  assert.equal(parseCli(["-B", "binary"]).config.protocol, "binary");
  assert.equal(parseCli(["--protocol=ascii"]).config.protocol, "ascii");
  const s = parseCli(["-S", "--sasl-pwdb", "/x"]);
  assert.equal(s.config.protocol, "binary");
  assert.equal(s.extra.sasl, true);
  assert.equal(s.extra.saslPwdb, "/x");
  assert.equal(parseCli(["-Y", "/f"]).config.protocol, "ascii");
  for (
    const bad of [
      ["-B", "udp"],
      ["-S", "-B", "ascii"],
      ["-S", "-B", "auto"],
      ["-Y", "/f", "-B", "binary"],
      ["-S", "-Y", "/f"],
    ]
  ) {
    assert.throws(() => parseCli(bad), UsageError, bad.join(" "));
  }
});

Deno.test("stats settings: binding_protocol and auth_enabled_sasl", async () => {
  for (
    const [opts, binding, sasl] of [
      [{}, "auto-negotiate", "no"],
      [{ protocol: "ascii" as const }, "ascii", "no"],
      [{ users: { u: "p" } }, "ascii", "no"],
    ] as const
  ) {
    await withServer(opts, async (srv) => {
      if ("users" in opts) {
        // Log in first: -Y answers nothing else before that.
        const c = await raw(srv.port);
        await c.send("set x 0 0 3\r\nu p\r\nstats settings\r\n");
        const out = await c.until("END\r\n");
        c.close();
        assert.match(out, new RegExp(`STAT binding_protocol ${binding}\r\n`));
        assert.match(out, new RegExp(`STAT auth_enabled_sasl ${sasl}\r\n`));
        return;
      }
      const m = await stats(srv.port, "settings");
      assert.equal(m.get("binding_protocol"), binding);
      assert.equal(m.get("auth_enabled_sasl"), sasl);
    });
  }
});
