/**
 * The latency histograms' pieces: the FFI clock agrees with
 * `performance.now()`, a batch's commands land in the bucket of the
 * batch's time, command labels, and `setClock` releases the handle.
 * @module
 */

import assert from "node:assert/strict";
import { ffiClock, PERFORMANCE_CLOCK } from "../lib/metrics/clock.ts";
import {
  beginBatch,
  commandCount,
  commandIndex,
  COMMANDS,
  countCommand,
  createLatency,
  endBatch,
  SAMPLE_EVERY,
  setClock,
} from "../lib/metrics/latency.ts";

const enc = new TextEncoder();

Deno.test("the FFI clock ticks like performance.now()", () => {
  const c = ffiClock();
  if (c === null) {
    console.log("SKIP: no FFI clock here (not Linux, or no --allow-ffi)");
    return;
  }
  try {
    const a = c.now(), pa = performance.now();
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += i % 7;
    const b = c.now(), pb = performance.now();
    assert.ok(x > 0);
    assert.ok(b >= a, "monotonic");
    // Same elapsed time within a millisecond (both are monotonic clocks).
    assert.ok(Math.abs((b - a) - (pb - pa)) < 1, `${b - a} vs ${pb - pa}`);
  } finally {
    c.close();
  }
});

Deno.test("a batch's commands get the batch's bucket; labels by name", () => {
  let t = 0;
  const lat = createLatency({ name: "t", now: () => t, close: () => {} });
  const line = (s: string) => enc.encode(s);
  for (const s of ["get a", "set a 0 0 1", "get b", "mg a v", "bogus"]) {
    const b = line(s);
    countCommand(lat, b, 0, b.length, 0);
  }
  t = 0.003; // 3 µs: bucket 2 (2, 4] µs
  endBatch(lat, 0);
  const get = COMMANDS.indexOf("get");
  assert.equal(commandCount(lat, get), 2);
  assert.equal(lat.counts[get * 23 + 2], 2);
  assert.equal(commandCount(lat, COMMANDS.indexOf("set")), 1);
  assert.equal(commandCount(lat, COMMANDS.indexOf("mg")), 1);
  assert.equal(commandCount(lat, COMMANDS.indexOf("other")), 1);
  assert.ok(Math.abs(lat.sums[get] - 2 * 3e-6) < 1e-12);
  assert.equal(commandIndex(line("  gets a"), 0, 8), COMMANDS.indexOf("gets"));
  // the get/set/gets shortcut: whole tokens only, and only up to the line end
  const idx = (s: string, le = s.length) =>
    COMMANDS[commandIndex(line(s), 0, le)];
  assert.equal(idx("get"), "get");
  assert.equal(idx("gets"), "gets");
  assert.equal(idx("set k 0 0 1"), "set");
  assert.equal(idx("getx a"), "other");
  assert.equal(idx("setx a"), "other");
  assert.equal(idx("gat 0 a"), "gat");
  assert.equal(idx("gets a", 3), "get");
  assert.equal(idx("get", 2), "other");
});

Deno.test("setClock releases the clock it replaces", () => {
  let closed = 0;
  const lat = createLatency({
    name: "t",
    now: () => 1,
    close: () => closed++,
  });
  setClock(lat, PERFORMANCE_CLOCK);
  assert.equal(closed, 1);
  assert.equal(lat.clockName, "performance.now");
  assert.ok(lat.now() > 0);
});

Deno.test("one batch in SAMPLE_EVERY is timed; the others count, held at its bucket", () => {
  let t = 0;
  let reads = 0;
  const lat = createLatency({
    name: "t",
    now: () => (reads++, t),
    close: () => {},
  });
  const get = COMMANDS.indexOf("get");
  const b = enc.encode("get a");
  const batch = (ms: number) => {
    t = 0;
    const t0 = beginBatch(lat);
    countCommand(lat, b, 0, b.length, 0);
    t = ms;
    endBatch(lat, t0);
  };
  batch(0.003); // timed: 3 µs, bucket 2
  for (let i = 1; i < SAMPLE_EVERY; i++) batch(0.5); // untimed: held at 3 µs
  assert.equal(reads, 2, "two readings for SAMPLE_EVERY batches");
  assert.equal(commandCount(lat, get), SAMPLE_EVERY, "counts stay exact");
  assert.equal(lat.counts[get * 23 + 2], SAMPLE_EVERY);
  batch(0.5); // timed again: 500 µs, bucket 9 (256, 512]
  assert.equal(reads, 4);
  assert.equal(lat.counts[get * 23 + 9], 1);
  // A batch without commands neither uses up nor shifts the sample.
  t = 0;
  endBatch(lat, beginBatch(lat));
  assert.equal(lat.skip, SAMPLE_EVERY - 1);
});
