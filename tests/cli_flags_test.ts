/**
 * Every flag of memcached 1.6.18's getopt string and long options is
 * accepted (implemented, or a one-line note), never "unknown option": each
 * alone through the parser, then a real process started with all the
 * no-effect ones together, serving, one note per flag; `-X` refuses
 * `stats cachedump` as memcached does; `-i` prints the license.
 * @module
 */

import assert from "node:assert/strict";
import { parseCli } from "../lib/cli.ts";
import { freePort, roundTrip } from "./_helpers.ts";
import { DENO, MAIN, spawnMain } from "./_proc.ts";

/** memcached.c 1.6.18's getopt string. */
const GETOPT = "a:AZp:s:U:m:Mc:khiVrvdl:u:P:f:n:t:D:LR:Cb:B:I:SFXWY:e:o:N:";
/** Its long options (name → short). */
const LONG = {
  "unix-mask": "a",
  "enable-shutdown": "A",
  "enable-ssl": "Z",
  port: "p",
  "unix-socket": "s",
  "udp-port": "U",
  "memory-limit": "m",
  "disable-evictions": "M",
  "conn-limit": "c",
  "lock-memory": "k",
  help: "h",
  license: "i",
  version: "V",
  "enable-coredumps": "r",
  verbose: "v",
  daemon: "d",
  listen: "l",
  user: "u",
  pidfile: "P",
  "slab-growth-factor": "f",
  "slab-min-size": "n",
  threads: "t",
  "enable-largepages": "L",
  "max-reqs-per-event": "R",
  "disable-cas": "C",
  "listen-backlog": "b",
  protocol: "B",
  "max-item-size": "I",
  "enable-sasl": "S",
  "disable-flush-all": "F",
  "disable-dumping": "X",
  "disable-watch": "W",
  "auth-file": "Y",
  "memory-file": "e",
  extended: "o",
  "napi-ids": "N",
} as const; // deno-fmt-ignore

/** A valid value for each flag that takes one. */
const VALUE: Record<string, string> = {
  a: "0700", p: "11211", s: "/tmp/x.sock", U: "0", m: "64", c: "1024",
  l: "127.0.0.1", u: "nobody", P: "/tmp/x.pid", f: "1.25", n: "48",
  t: "4", D: ":", R: "20", b: "1024", B: "auto", I: "1m", Y: "/tmp/auth",
  e: "/tmp/mem", o: "idle_timeout=5", N: "1",
}; // deno-fmt-ignore

Deno.test("every memcached 1.6.18 short and long flag parses", () => {
  const flags = [...GETOPT.matchAll(/([a-zA-Z]):?/g)].map((m) => m[1]);
  assert.equal(flags.length, 37);
  for (const f of flags) {
    const args = VALUE[f] !== undefined ? [`-${f}`, VALUE[f]] : [`-${f}`];
    assert.doesNotThrow(() => parseCli(args), `-${f}`);
  }
  for (const [name, f] of Object.entries(LONG)) {
    const args = VALUE[f] !== undefined
      ? [`--${name}=${VALUE[f]}`]
      : [`--${name}`];
    assert.doesNotThrow(() => parseCli(args), `--${name}`);
  }
});

Deno.test("the no-effect flags together: a server that serves, one note each", async () => {
  const port = freePort();
  const p = await spawnMain(["--allow-net"], [
    "-p",
    String(port),
    "-t",
    "4",
    "-U",
    "0",
    "-k",
    "-r",
    "-R",
    "20",
    "-C",
    "-b",
    "1024",
    "-L",
    "-M",
    "-n",
    "48",
    "-D",
    ":",
    "-W",
    "-e",
    "/tmp/m",
    "-N",
    "1",
  ], port); // deno-fmt-ignore
  try {
    assert.equal(await roundTrip(port, "set a 0 0 1\r\n1\r\n"), "STORED\r\n");
  } finally {
    const st = await p.stop("SIGTERM");
    assert.equal(st.code, 0, p.stderr());
  }
  const notes = p.stderr().split("\n").filter((l) => /^denocached: -/.test(l));
  // -U 0 is exactly "no UDP": nothing to note; the other 13 one line each.
  assert.equal(notes.length, 13, p.stderr());
  assert.doesNotMatch(p.stderr(), /unknown|Unknown/);
});

Deno.test("-X: stats cachedump refused as memcached does; -i prints the license", async () => {
  const port = freePort();
  const p = await spawnMain(["--allow-net"], ["-p", String(port), "-X"], port);
  try {
    assert.equal(
      await roundTrip(port, "stats cachedump 1 1\r\n"),
      "CLIENT_ERROR stats cachedump not allowed\r\n",
    );
    assert.match(
      await roundTrip(port, "stats settings\r\n"),
      /^STAT dump_enabled no\r$/m,
    );
  } finally {
    await p.stop("SIGTERM");
  }
  const out = await new Deno.Command(DENO, {
    args: ["run", MAIN, "-i"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stdout), /MIT License/);
});
