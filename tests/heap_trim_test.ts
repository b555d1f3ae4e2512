/**
 * The periodic heap trim (lib/ops/heap_trim.ts) starts where glibc and FFI
 * are there, runs without disturbing the process, and stops cleanly.
 * @module
 */

import assert from "node:assert/strict";
import { startHeapTrim } from "../lib/ops/heap_trim.ts";
import { unsupportedReason } from "../lib/server/ffi/libc.ts";
import { settle, skip } from "./_helpers.ts";

Deno.test("startHeapTrim: trims on a timer and stops", async () => {
  const why = unsupportedReason();
  if (why !== null) return void skip(why);
  const stop = startHeapTrim();
  assert.equal(typeof stop, "function", String(stop));
  // Memory freed meanwhile is what a trim gives back; the process goes on.
  let kept = 0;
  for (let i = 0; i < 2000; i++) kept += new Uint8Array(1024).length;
  assert.equal(kept, 2000 * 1024);
  await settle(50);
  (stop as () => void)();
});
