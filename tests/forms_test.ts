/**
 * One server in every form: `deno task start` (the task's own command line
 * from deno.json) and the bundle (`deno task bundle`, run with the
 * permissions the README gives) each take a memcached command line with
 * every flag people run memcached with — `-p -l -m -c -I -Y -Z -o ssl_*
 * --snapshot -A -F -t -v -P`, and `-s -a` — serve it on the fast path (no
 * "portable I/O" fallback line), and stop gracefully with the snapshot
 * written. The compiled executable runs the same flags in
 * `tests/compile_test.ts` where a runtime is available.
 * @module
 */

import assert from "node:assert/strict";
import { ask, freePort } from "./_helpers.ts";
import { makePki, type Pki } from "./_pki.ts";
import { DENO, MAIN, ROOT, smoke, spawnProc, spawnServer } from "./_proc.ts";

/** A form: how to start it with `flags`. */
interface Form {
  name: string;
  argv(flags: string[]): string[];
}

/** The `start` task's `deno run ...` arguments, with main.ts made absolute. */
async function startTask(): Promise<string[]> {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  // Past its VAR=value prefixes (they only quiet Deno's update check).
  const task = cfg.tasks.start.split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
  assert.equal(task[0], "deno");
  return task.slice(1).map((a) => a === "main.ts" ? MAIN : a);
}

/** The README's command line for the bundle with every feature. */
async function bundlePerms(): Promise<string[]> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const m = /^deno run (.*) dist\/denocached\.js -p 11211 -Y/m.exec(readme);
  assert.ok(m, "README gives no full bundle command line");
  return m[1].split(/\s+/);
}

async function buildBundle(dir: string): Promise<string> {
  const out = `${dir}/denocached.js`;
  const b = spawnProc(DENO, ["bundle", "--output", out, MAIN], { cwd: ROOT });
  assert.equal((await b.status).code, 0, b.stderr());
  return out;
}

const LOGIN = "set auth 0 0 9\r\nuser pass\r\n";

/** Every TCP flag at once; TLS on `tlsPort`, plain (`notls:`) on `plainPort`. */
function tcpFlags(pki: Pki, dir: string, tlsPort: number, plainPort: number) {
  return [
    "-p",
    String(tlsPort),
    "-l",
    `127.0.0.1,notls:127.0.0.1:${plainPort}`,
    "-m",
    "32",
    "-c",
    "200",
    "-I",
    "2m",
    "-Y",
    `${dir}/auth`,
    "-Z",
    "-o",
    `ssl_chain_cert=${pki.certFile},ssl_key=${pki.keyFile}`,
    "--snapshot",
    `${dir}/snap`,
    "-A",
    "-F",
    "-t",
    "2",
    "-v",
    "-P",
    `${dir}/pid`,
  ]; // deno-fmt-ignore
}

async function checkForm(form: Form, pki: Pki): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "denocached-form-" });
  try {
    await Deno.writeTextFile(`${dir}/auth`, "user:pass\n");
    const tlsPort = freePort();
    const plainPort = freePort();
    const flags = tcpFlags(pki, dir, tlsPort, plainPort);
    for (const round of [1, 2]) {
      const p = await spawnServer(DENO, form.argv(flags), plainPort);
      try {
        const big = "x".repeat(1_500_000); // past 1m: -I 2m took effect
        const plain = await ask(
          "127.0.0.1",
          plainPort,
          LOGIN + (round === 1
            ? `set big 0 0 ${big.length}\r\n${big}\r\nflush_all\r\n`
            : "") +
            "get big\r\n",
          "END\r\n",
        );
        assert.equal(
          plain,
          "STORED\r\n" +
            (round === 1
              ? "STORED\r\nCLIENT_ERROR flush_all not allowed\r\n"
              : "") +
            `VALUE big 0 ${big.length}\r\n${big}\r\nEND\r\n`,
          `${form.name} round ${round}: plain listener`,
        );
        assert.equal(
          await ask(
            "127.0.0.1",
            tlsPort,
            LOGIN + "version\r\n",
            "\r\nVERSION 1.6.18\r\n",
            pki.ca,
          ),
          "STORED\r\nVERSION 1.6.18\r\n",
          `${form.name}: TLS listener`,
        );
        assert.match(
          await ask(
            "127.0.0.1",
            plainPort,
            LOGIN + "stats settings\r\n",
            "END\r\n",
          ),
          /STAT maxbytes 33554432\r\n[^]*STAT maxconns 200\r\n/,
        );
        const pid = Number((await Deno.readTextFile(`${dir}/pid`)).trim());
        assert.ok(pid > 0, "pid file");
      } finally {
        // -A: shutdown is allowed; SIGTERM is the graceful stop either way.
        const st = await p.stop("SIGTERM");
        assert.equal(st.code, 0, p.stderr());
        assert.doesNotMatch(
          p.stderr(),
          /portable I\/O/,
          `${form.name}: not fast`,
        );
      }
      // Round 2 finds `big` again: the snapshot was written at exit.
      assert.ok((await Deno.stat(`${dir}/snap`)).size > 1_500_000);
    }

    const sock = `${dir}/mc.sock`;
    const p = await spawnServer(
      DENO,
      form.argv(["-s", sock, "-a", "700"]),
      sock,
    );
    try {
      assert.equal((await Deno.stat(sock)).mode! & 0o777, 0o700);
      await smoke(sock);
    } finally {
      const st = await p.stop("SIGTERM");
      assert.equal(st.code, 0, p.stderr());
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task start: every memcached flag, on the fast path", async () => {
  const pki = await makePki();
  if (pki === null) return;
  try {
    const task = await startTask();
    await checkForm({ name: "task start", argv: (f) => [...task, ...f] }, pki);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("bundle with the README's permissions: every memcached flag, on the fast path", async () => {
  const pki = await makePki();
  if (pki === null) return;
  const build = await Deno.makeTempDir({ prefix: "denocached-bundle-" });
  try {
    const js = await buildBundle(build);
    const perms = await bundlePerms();
    await checkForm({
      name: "bundle",
      argv: (f) => ["run", ...perms, "--no-config", js, ...f],
    }, pki);
  } finally {
    await Deno.remove(build, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});
