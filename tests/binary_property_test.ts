/**
 * Property tests of the binary framing (fast-check, seeded): over random and
 * well-formed-but-hostile packet streams, `feed` never throws, never
 * consumes more than it was given, holds only what a request still needs
 * (bounded even when length fields lie), and answers the same whether the
 * input comes whole, split anywhere, or is paused by a full output buffer.
 * @module
 */
// deno-lint-ignore-file no-import-prefix

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { manualClock } from "../lib/clock.ts";
import { defaultConfig } from "../lib/config.ts";
import { createContext } from "../lib/server/context.ts";
import { createSession, feed } from "../lib/protocol/session.ts";
import { cat, incrExtras, pkt, setExtras, u32be } from "./_binary.ts";
import { BIN_SCRIPTS } from "./_binary_cases.ts";

const MAX_ITEM = 4096;
const SEED = Number(Deno.env.get("FC_SEED") ?? 0xb1a7);
const params = (numRuns: number) => ({ seed: SEED, numRuns });

function session(maxOut?: number) {
  const config = defaultConfig();
  config.clock = manualClock();
  config.maxItemSize = MAX_ITEM;
  config.memoryLimitMb = 4;
  config.protocol = "binary";
  if (maxOut !== undefined) config.maxOutputBytes = maxOut;
  return createSession(createContext(config, () => {}), 1);
}

/** The most a binary session may hold unconsumed: a header, extras, key and a value up to -I. */
const HOLD_MAX = 24 + 255 + 65535 + MAX_ITEM + 64;

/** Plays `input` in chunks cut at `cuts`; returns replies (hex) and whether it closed. */
function play(input: Uint8Array, cuts: number[], maxOut?: number) {
  const s = session(maxOut);
  const out: number[] = [];
  let held: Uint8Array = new Uint8Array(0);
  const bounds = [
    ...cuts.filter((c) => c > 0 && c < input.length),
    input.length,
  ]
    .sort((a, b) => a - b);
  let from = 0;
  for (const to of bounds) {
    if (s.close) break;
    const buf = cat(held, input.subarray(from, to));
    from = to;
    let start = 0;
    for (;;) {
      const used = feed(s, buf, start, buf.length);
      assert.ok(Number.isInteger(used) && used >= 0, `feed returned ${used}`);
      assert.ok(used <= buf.length - start, "over-consumed");
      start += used;
      for (let i = 0; i < s.out.len; i++) out.push(s.out.buf[i]);
      s.out.len = 0;
      if (used === 0 || start === buf.length || s.close) break;
    }
    held = buf.slice(start);
    assert.ok(held.length <= HOLD_MAX, `holds ${held.length} bytes`);
  }
  return { out: out.join(","), closed: s.close };
}

const keyArb = fc.constantFrom(
  "k",
  "a",
  "counter",
  "x".repeat(250),
  "y".repeat(251),
  "",
);
const opArb = fc.oneof(
  fc.constantFrom(
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    8,
    9,
    0xa,
    0xb,
    0xc,
    0xd,
    0xe,
    0xf,
    0x10,
    0x11,
    0x14,
    0x15,
    0x19,
    0x1c,
    0x1d,
    0x1e,
    0x20,
    0x21,
    0x22,
    0x23,
    0x24,
  ),
  fc.integer({ min: 0, max: 255 }),
);
const extrasArb = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.nat({ max: 60 }).map((f) => setExtras(f, 0)),
  fc.constant(incrExtras(3n, 7n, 0)),
  fc.constant(incrExtras(1n, 0n, 0xffffffff)),
  fc.constant(u32be(0)),
  fc.uint8Array({ maxLength: 24 }),
);
const valueArb = fc.oneof(
  fc.constantFrom("", "v", "12", "abc", "\0PLAIN\0x"),
  fc.nat({ max: MAX_ITEM + 50 }).map((n) => "z".repeat(n)),
);
/** A mostly well-formed packet, sometimes with lying lengths or magic. */
const packetArb = fc.record({
  op: opArb,
  key: keyArb,
  extras: extrasArb,
  value: valueArb,
  opaque: fc.nat(),
  cas: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  lie: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({ bodylen: fc.nat({ max: 0xffffffff }) }),
    },
    { weight: 1, arbitrary: fc.record({ keylen: fc.nat({ max: 0xffff }) }) },
    {
      weight: 1,
      arbitrary: fc.record({ magic: fc.integer({ min: 0, max: 255 }) }),
    },
  ),
}).map((p) => pkt({ ...p, ...(p.lie ?? {}) }));
const streamArb = fc.oneof(
  fc.array(packetArb, { maxLength: 12 }).map((a) => cat(...a)),
  fc.uint8Array({ maxLength: 400 }).map((b) => cat(Uint8Array.of(0x80), b)),
);
const cutsArb = fc.array(fc.nat({ max: 20000 }), { maxLength: 8 });

Deno.test("binary parser: never throws, never over-consumes, bounded holding", () => {
  fc.assert(
    fc.property(streamArb, cutsArb, (input, cuts) => {
      play(input, cuts);
    }),
    params(400),
  );
});

Deno.test("binary parser: same replies whole, split anywhere, byte by byte, or paused", () => {
  fc.assert(
    fc.property(
      // Stat replies carry CPU time, which differs from run to run.
      fc.array(packetArb.filter((b) => b[0] === 0x80 && b[1] !== 0x10), {
        maxLength: 8,
      }).map((
        a,
      ) => cat(...a)),
      cutsArb,
      (input, cuts) => {
        const whole = play(input, []);
        assert.deepEqual(play(input, cuts), whole);
        assert.deepEqual(
          play(input, [], 1),
          whole,
          "paused by a tiny output bound",
        );
        if (input.length < 600) {
          const bytes = Array.from({ length: input.length }, (_, i) => i);
          assert.deepEqual(play(input, bytes), whole, "byte by byte");
        }
      },
    ),
    params(200),
  );
});

Deno.test("binary parser: the differential scripts answer the same split anywhere", () => {
  for (const [name, bytes] of BIN_SCRIPTS) {
    if (bytes.length > 20000 || bytes.includes(0x10)) continue;
    const whole = play(bytes, []);
    const cuts = Array.from(
      { length: 7 },
      (_, i) => Math.floor((bytes.length * (i + 1)) / 8),
    );
    assert.deepEqual(play(bytes, cuts), whole, name);
  }
});

Deno.test("binary parser: a lying body length is held only to -I, then swallowed", () => {
  // A Set whose header promises 4 GB: answered Too large at once, and the
  // session holds nothing while the client keeps sending.
  const s = session();
  const head = pkt({
    op: 1,
    key: "k",
    extras: setExtras(0, 0),
    bodylen: 0xffffffff,
  });
  const used = feed(s, head, 0, head.length);
  assert.equal(used, head.length);
  assert.equal(s.out.buf[7], 0x03, "E2BIG");
  assert.equal(s.swallow, 0xffffffff - 8 - 1);
  const junk = new Uint8Array(65536);
  assert.equal(feed(s, junk, 0, junk.length), junk.length);
});
