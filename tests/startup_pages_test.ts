/**
 * Startup pages (lib/ops/startup_pages.ts): which mappings are dropped,
 * that dropping them in a running process leaves it working, and that the
 * server started as the `start` task starts it drops them once serving.
 * @module
 */

import assert from "node:assert/strict";
import { droppableRanges, dropStartupPages } from "../lib/ops/startup_pages.ts";
import { unsupportedReason } from "../lib/server/ffi/libc.ts";
import { skip } from "./_helpers.ts";

const EXE = "/opt/deno/bin/deno";

/** One smaps entry: the header line and the two fields we read. */
function entry(
  range: string,
  perms: string,
  path: string,
  rss: number,
  anon: number,
): string {
  return [
    `${range} ${perms} 00000000 fe:00 1442168                    ${path}`,
    `Size:              12345 kB`,
    `Rss:               ${rss} kB`,
    `Pss:               ${rss} kB`,
    `Anonymous:         ${anon} kB`,
    `VmFlags: rd mr mw me dw sd`,
  ].join("\n");
}

Deno.test("droppableRanges: read-only file pages of the executable only", () => {
  const smaps = [
    entry("1000-3000", "r--p", EXE, 8, 0), // rodata: the snapshot
    entry("3000-5000", "r-xp", EXE, 4, 0), // text
    entry("5000-6000", "rw-p", EXE, 4, 4), // data
    entry("6000-7000", "r--p", EXE, 4, 4), // RELRO: relocated copies
    entry("7000-8000", "r-xp", "/usr/lib/libc.so.6", 4, 0), // not ours
    entry("8000-9000", "rw-p", "", 4, 4), // anonymous
    entry("a000-b000", "r-xp", EXE + " (deleted)", 4, 0), // another path
  ].join("\n") + "\n";
  assert.deepEqual(droppableRanges(smaps, EXE), [
    { start: 0x1000n, end: 0x3000n, rssKiB: 8 },
    { start: 0x3000n, end: 0x5000n, rssKiB: 4 },
  ]);
  assert.deepEqual(droppableRanges("", EXE), []);
});

Deno.test("dropStartupPages: this process keeps working after its pages go", async () => {
  const why = unsupportedReason();
  if (why !== null) return void skip(why);
  const r = dropStartupPages();
  assert.ok(r.dropped, r.dropped ? "" : r.why);
  assert.ok(r.ranges >= 2, `ranges ${r.ranges}`);
  assert.ok(r.residentKiB > 0);
  // Code and data of the binary come back on demand: V8, crypto, sockets.
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode("abc"),
  );
  assert.equal(
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
      .join(""),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = l.accept();
  const c = await Deno.connect({ hostname: "127.0.0.1", port: l.addr.port });
  const s = await accepted;
  await c.write(new TextEncoder().encode("ping"));
  const buf = new Uint8Array(4);
  let n = 0;
  while (n < 4) n += (await s.read(buf.subarray(n))) ?? 4;
  assert.equal(new TextDecoder().decode(buf), "ping");
  c.close();
  s.close();
  l.close();
  // A second call finds the pages that came back and drops them again.
  assert.ok(dropStartupPages().dropped);
});
