/**
 * Warm restart through `main.ts` as a subprocess (signals involved): the
 * snapshot is written on SIGTERM, SIGINT and `shutdown` and restored byte
 * for byte with the same flags and cas; `kill -9` during a periodic save
 * leaves the previous snapshot usable; missing permissions and foreign
 * files are refused with clear messages. The format itself is tested in
 * `snapshot_test.ts`.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../lib/clock.ts";
import { createStore } from "../lib/store/store.ts";
import { Cursor, type Store } from "../lib/store/types.ts";
import { loadClean, loadSnapshot, tmpPath } from "../lib/snapshot.ts";
import { freePort, latin1, raw, settle } from "./_helpers.ts";
import { type Proc, spawnMain } from "./_proc.ts";

function newStore(): Store {
  return createStore({
    limitBytes: 64 * 1024 * 1024,
    maxItemSize: 1024 * 1024,
    clock: manualClock(1_700_000_000),
  });
}

/** Value and flags of every live item. */
function dump(s: Store): Map<string, { value: string; flags: number }> {
  const m = new Map<string, { value: string; flags: number }>();
  s.scan(Cursor.Start, Infinity, (h) => {
    const ks = s.keyStart(h);
    const vs = s.valueStart(h);
    m.set(latin1(s.keyBytes(h).subarray(ks, ks + s.keyLen(h))), {
      value: latin1(s.valueBytes(h).subarray(vs, vs + s.valueLen(h))),
      flags: s.flagsOf(h),
    });
  });
  return m;
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "denocached-snap-" });
}

function perms(dir: string): string[] {
  return ["--allow-net", `--allow-read=${dir}`, `--allow-write=${dir}`];
}

async function script(
  port: number,
  text: string,
  until = "VERSION 1.6.18\r\n",
) {
  const c = await raw(port);
  try {
    await c.send(text + "version\r\n");
    return await c.until(until, 20_000);
  } finally {
    c.close();
    await settle();
  }
}

async function stopped(p: Proc, signal: Deno.Signal) {
  const st = await p.stop(signal);
  assert.equal(st.code, 0, p.stderr());
}

Deno.test("snapshot server: SIGTERM, SIGINT and shutdown save; restart restores byte for byte", async () => {
  const dir = await tempDir();
  const file = `${dir}/cache.snap`;
  try {
    const port = freePort();
    const flags = ["-p", String(port), "--snapshot", file, "-A"];
    let p = await spawnMain(perms(dir), flags, port);
    let fill = "";
    const keys: string[] = [];
    for (let i = 0; i < 300; i++) {
      const v = `\x00\r\n${i}\xff`.repeat(i * 7);
      fill += `set key${i} ${i * 1000003 % 4294967296} ${
        i % 2 ? 0 : 100000
      } ${v.length}\r\n${v}\r\n`;
      keys.push(`key${i}`);
    }
    await script(port, fill);
    const before = await script(port, `gets ${keys.join(" ")}\r\n`);
    assert.equal(before.split("VALUE ").length - 1, 300);
    await stopped(p, "SIGTERM");
    assert.match(p.stderr(), /not found, starting empty/);

    // File-level permissions (the documented minimum) are enough.
    const filePerms = [
      "--allow-net",
      `--allow-read=${file},${file}.tmp`,
      `--allow-write=${file},${file}.tmp`,
    ];
    p = await spawnMain(filePerms, flags, port);
    assert.equal(await script(port, `gets ${keys.join(" ")}\r\n`), before);
    assert.match(p.stderr(), /restored 300 items/);
    await script(port, "set late 5 0 4\r\nlate\r\ndelete key0\r\n");
    const mid = await script(port, `gets late ${keys.join(" ")}\r\n`);
    await stopped(p, "SIGINT");

    p = await spawnMain(perms(dir), flags, port);
    assert.equal(await script(port, `gets late ${keys.join(" ")}\r\n`), mid);
    // A new item gets a cas above all restored ones.
    const cas = [...mid.matchAll(/^VALUE \S+ \d+ \d+ (\d+)\r$/gm)].map((m) =>
      Number(m[1])
    );
    const fresh = await script(port, "set fresh 0 0 1\r\nf\r\ngets fresh\r\n");
    const freshCas = Number(/VALUE fresh 0 1 (\d+)/.exec(fresh)![1]);
    assert.ok(freshCas > Math.max(...cas));
    // `shutdown` (enabled with -A) saves too.
    const c = await raw(port);
    await c.send("shutdown\r\n");
    assert.equal(await c.closed(10_000), true);
    c.close();
    assert.equal((await p.status).code, 0, p.stderr());
    p = await spawnMain(perms(dir), flags, port);
    assert.match(
      await script(port, "get fresh\r\n"),
      /VALUE fresh 0 1\r\nf\r\n/,
    );
    await stopped(p, "SIGTERM");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot server: kill -9 during a save leaves the previous snapshot usable", async () => {
  const dir = await tempDir();
  const file = `${dir}/cache.snap`;
  try {
    const port = freePort();
    const flags = [
      "-p",
      String(port),
      "--snapshot",
      file,
      "--snapshot-interval",
      "1",
    ];
    const p = await spawnMain(perms(dir), flags, port);
    // ~40 MB so that a save takes long enough to be caught in the act.
    const v = "v".repeat(100_000);
    let fill = "";
    for (let i = 0; i < 400; i++) {
      fill += `set big${i} ${i} 0 ${v.length}\r\n${v}\r\n`;
    }
    await script(port, fill);
    const exists = async (f: string) =>
      await Deno.stat(f).then(() => true, () => false);
    const deadline = Date.now() + 20_000;
    while (!(await exists(file)) && Date.now() < deadline) await settle(20);
    assert.ok(await exists(file), "a periodic snapshot was written");
    let caught = false;
    while (Date.now() < deadline) {
      if (await exists(tmpPath(file))) {
        caught = true;
        break;
      }
      await settle(2);
    }
    const st = await p.stop("SIGKILL");
    assert.notEqual(st.code, 0);
    if (!caught) {
      console.log("note: did not see a save in progress; killed anyway");
    }
    const s = newStore();
    const r = loadSnapshot(s, file);
    assert.ok(loadClean(r), JSON.stringify(r));
    assert.equal(r.restored, 400);
    const item = dump(s).get("big399");
    assert.equal(item?.value, v);
    assert.equal(item?.flags, 399);
    // The half-written temporary file, if any, is only ever partly loaded.
    if (await exists(tmpPath(file))) {
      const t = newStore();
      const rt = loadSnapshot(t, tmpPath(file));
      for (const it of dump(t).values()) assert.equal(it.value, v);
      assert.ok(rt.truncated || loadClean(rt));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot server: missing permissions and a foreign file are refused clearly", async () => {
  const dir = await tempDir();
  try {
    const port = freePort();
    const run = async (perm: string[], file: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...perm,
          "main.ts",
          "-p",
          String(port),
          "--snapshot",
          file,
        ],
        cwd: new URL("..", import.meta.url).pathname,
        stdout: "null",
        stderr: "piped",
      }).output();
      return { code: out.code, err: new TextDecoder().decode(out.stderr) };
    };
    let r = await run(["--allow-net"], `${dir}/x.snap`);
    assert.equal(r.code, 77);
    assert.match(r.err, /--allow-read=.*x\.snap/);
    await Deno.writeTextFile(
      `${dir}/notes.txt`,
      "my precious notes\n".repeat(10),
    );
    r = await run(perms(dir), `${dir}/notes.txt`);
    assert.equal(r.code, 65);
    assert.match(r.err, /not a denocached snapshot/);
    assert.equal(
      await Deno.readTextFile(`${dir}/notes.txt`),
      "my precious notes\n".repeat(10),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
