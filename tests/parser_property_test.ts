/**
 * Property tests of the pure protocol state machine (`createSession` +
 * `feed`): random bytes, mutated text commands, and random split points.
 * Invariants: `feed` never throws, never consumes more than it was given,
 * never reads outside `[start, end)`, never holds more than a line
 * (2048 bytes, or a get line) or one declared item (bounded by `-I`), and
 * answers the same whether input arrives whole, split anywhere, or a byte at
 * a time. Seeded (set FC_SEED to replay a failure), bounded in runs.
 * @module
 */

// deno-lint-ignore-file no-import-prefix

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { manualClock } from "../lib/clock.ts";
import { defaultConfig } from "../lib/config.ts";
import type { Context } from "../lib/protocol/context.ts";
import { createCounters } from "../lib/protocol/counters.ts";
import {
  createSession,
  feed,
  MAX_GET_LINE,
  MAX_LINE,
} from "../lib/protocol/session.ts";
import { createStore } from "../lib/store/store.ts";
import { bytes, latin1 } from "./_helpers.ts";

/** `-I` for these tests: small, so item-size bounds are reachable cheaply. */
const MAX_ITEM = 4096;
const SEED = Number(Deno.env.get("FC_SEED") ?? 0x5eed);
const params = (numRuns: number) => ({ seed: SEED, numRuns });

/** A fresh Context, built as lib/server/server.ts builds it. */
function makeCtx(maxOut?: number): Context {
  const config = defaultConfig();
  if (maxOut !== undefined) config.maxOutputBytes = maxOut;
  const clock = manualClock();
  config.clock = clock;
  config.maxItemSize = MAX_ITEM;
  config.memoryLimitMb = 4;
  config.enableShutdown = true;
  // Text framing is under test: a first byte of 0x80 must not pick binary
  // (tests/binary_property_test.ts covers that protocol).
  config.protocol = "ascii";
  return {
    config,
    store: createStore({
      limitBytes: config.memoryLimitMb * 1024 * 1024,
      maxItemSize: config.maxItemSize,
      clock,
      growthFactor: config.growthFactor,
    }),
    counters: createCounters(),
    clock,
    started: clock.now(),
    conns: new Map(),
    requestShutdown: () => {},
    verbose: 0,
    auth: null,
    sasl: null,
    tick: () => {},
    latency: null,
  };
}

/** What one run of a connection produced. */
interface Run {
  replies: string;
  closed: boolean;
}

const STORAGE = /^ *(set|add|replace|append|prepend|cas|ms) /;

/**
 * Checks what is left unconsumed after the session made no more progress:
 * an incomplete line within the line limit, or one storage command line
 * whose data block (bounded by the item size) has not fully arrived.
 */
function checkHeld(rest: Uint8Array): void {
  if (rest.length === 0) return;
  const nl = rest.indexOf(10);
  if (nl < 0) {
    const isGet = /^ *gets? /.test(latin1(rest.subarray(0, 110)));
    const limit = isGet ? MAX_GET_LINE : MAX_LINE;
    assert.ok(rest.length <= limit, `holds a ${rest.length}-byte line`);
    return;
  }
  const line = latin1(rest.subarray(0, Math.min(nl, 4096)));
  assert.match(
    line,
    STORAGE,
    `holds a complete non-storage line: ${JSON.stringify(line)}`,
  );
  const data = rest.length - nl - 1;
  assert.ok(
    data < MAX_ITEM + 2,
    `holds ${data} data bytes, over the item size`,
  );
}

/**
 * Plays `input` into a session as a connection would, in chunks cut at
 * `cuts`. With `pad`, every feed sees its bytes inside a larger buffer of
 * newline-rich junk, so a read outside `[start, end)` changes the answers.
 * A tiny `maxOut` makes the session stop (and resume) after nearly every
 * reply, as it does for a client that reads slowly.
 */
function play(
  input: Uint8Array,
  cuts: number[],
  pad = 0,
  maxOut?: number,
): Run {
  const s = createSession(makeCtx(maxOut), 1);
  let replies = "";
  let held: Uint8Array = new Uint8Array(0);
  const bounds = [
    ...cuts.filter((c) => c > 0 && c < input.length),
    input.length,
  ]
    .sort((a, b) => a - b);
  let from = 0;
  for (const to of bounds) {
    if (s.close) break;
    const chunk = input.subarray(from, to);
    from = to;
    const pending = new Uint8Array(held.length + chunk.length);
    pending.set(held);
    pending.set(chunk, held.length);
    const buf = new Uint8Array(pending.length + 2 * pad).fill(10);
    for (let i = 0; i < pad; i += 3) buf[i] = 103; // "g\n\n"
    buf.set(pending, pad);
    let start = pad;
    const end = pad + pending.length;
    for (;;) {
      const used = feed(s, buf, start, end);
      assert.ok(Number.isInteger(used) && used >= 0, `feed returned ${used}`);
      assert.ok(
        used <= end - start,
        `consumed ${used} of ${end - start} bytes`,
      );
      start += used;
      replies += latin1(s.out.buf.subarray(0, s.out.len));
      s.out.len = 0;
      if (used === 0 || start === end || s.close) break;
    }
    held = buf.slice(start, end);
    if (!s.close) checkHeld(held);
  }
  return { replies: normalize(replies), closed: s.close };
}

/** Drops the only stats lines that differ between runs (CPU time). */
function normalize(r: string): string {
  return r.replace(/^STAT rusage_\w+ .*\r\n/gm, "");
}

/** No command line longer than the limit (where chunking may change answers). */
function shortLines(b: Uint8Array): boolean {
  let run = 0;
  for (const x of b) {
    run = x === 10 ? 0 : run + 1;
    if (run > MAX_LINE - 8) return false;
  }
  return true;
}

// ---------------------------------------------------------------- arbitraries

const special = fc.constantFrom(0, 10, 13, 32, 9, 255, 128, 48, 57, 45, 43);
const junkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.array(fc.oneof(special, fc.integer({ min: 0, max: 255 })), {
    maxLength: 600,
  })
    .map((a) => Uint8Array.from(a)),
);

const keyArb = fc.oneof(
  fc.constantFrom("k", "a", "b", "counter", "x".repeat(250), "y".repeat(251)),
  fc.string({
    minLength: 1,
    maxLength: 12,
    unit: fc.constantFrom("a", "b", "\x01", "\t", "é"),
  }),
);
const numArb = fc.oneof(
  fc.nat({ max: 50 }).map(String),
  fc.constantFrom(
    "0",
    "-1",
    "4294967296",
    "99999999999999999999",
    "18446744073709551615",
    "2147483648",
    "-2147483649",
    "abc",
    "1.5",
    "+5",
    "0x10",
    "",
  ),
);
const dataArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({
    maxLength: 40,
    unit: fc.constantFrom("\r", "\n", "a", " ", "\0"),
  }),
  fc.nat({ max: MAX_ITEM + 200 }).map((n) => "z\n".repeat(n >> 1)),
);
const noreply = fc.constantFrom("", " noreply", " junk");

/** One syntactically plausible command (text or meta), sometimes wrong. */
const commandArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(
    fc.constantFrom("set", "add", "replace", "append", "prepend"),
    keyArb,
    numArb,
    numArb,
    dataArb,
    fc.integer({ min: -2, max: 2 }),
    noreply,
  ).map(([c, k, f, e, d, skew, nr]) =>
    `${c} ${k} ${f} ${e} ${Math.max(0, d.length + skew)}${nr}\r\n${d}\r\n`
  ),
  fc.tuple(keyArb, numArb, dataArb, numArb, noreply).map(([k, f, d, cas, nr]) =>
    `cas ${k} ${f} 0 ${d.length} ${cas}${nr}\r\n${d}\r\n`
  ),
  fc.tuple(numArb, keyArb).map(([n, k]) => `set ${k} 0 0 ${n}\r\n`),
  fc.tuple(
    fc.constantFrom("get", "gets", "bget"),
    fc.array(keyArb, { minLength: 0, maxLength: 5 }),
  )
    .map(([c, ks]) => `${c} ${ks.join(" ")}\r\n`),
  fc.tuple(
    fc.constantFrom("gat", "gats"),
    numArb,
    fc.array(keyArb, { maxLength: 4 }),
  )
    .map(([c, e, ks]) => `${c} ${e} ${ks.join(" ")}\r\n`),
  fc.tuple(fc.constantFrom("incr", "decr"), keyArb, numArb, noreply)
    .map(([c, k, n, nr]) => `${c} ${k} ${n}${nr}\r\n`),
  fc.tuple(keyArb, fc.constantFrom("", " 0", " 1", " noreply", " 0 noreply"))
    .map(([k, x]) => `delete ${k}${x}\r\n`),
  fc.tuple(keyArb, numArb, noreply).map(([k, e, nr]) =>
    `touch ${k} ${e}${nr}\r\n`
  ),
  fc.tuple(
    fc.constantFrom("mg", "md", "ma", "me", "mn"),
    keyArb,
    fc.array(
      fc.constantFrom(
        "v",
        "k",
        "c",
        "f",
        "t",
        "s",
        "q",
        "T30",
        "Oabc",
        "N5",
        "MI",
        "D3",
        "b",
        "I",
        "x",
      ),
      { maxLength: 6 },
    ),
  ).map(([c, k, fl]) => `${c} ${k} ${fl.join(" ")}\r\n`),
  fc.tuple(
    keyArb,
    dataArb,
    fc.array(fc.constantFrom("T0", "F5", "c", "q", "MA", "ME", "I", "k"), {
      maxLength: 4,
    }),
  ).map(([k, d, fl]) => `ms ${k} ${d.length} ${fl.join(" ")}\r\n${d}\r\n`),
  fc.constantFrom(
    "version\r\n",
    "stats\r\n",
    "stats settings\r\n",
    "stats items\r\n",
    "stats slabs\r\n",
    "stats sizes\r\n",
    "stats detail dump\r\n",
    "flush_all\r\n",
    "flush_all 0 noreply\r\n",
    "verbosity 1\r\n",
    "verbosity\r\n",
    "cache_memlimit 8\r\n",
    "slabs reassign 1 2\r\n",
    "lru_crawler crawl all\r\n",
    "lru mode flat\r\n",
    "watch\r\n",
    "GET k\r\n",
    "\r\n",
    " \r\n",
    "\n",
    "x\r\n",
    "GET / HTTP/1.1\r\n",
  ),
);

/** Mutations that keep most of a command's shape. */
function mutate(b: Uint8Array, ops: [number, number, number][]): Uint8Array {
  let a = Array.from(b);
  for (const [kind, pos, val] of ops) {
    const i = a.length === 0 ? 0 : pos % a.length;
    switch (kind % 5) {
      case 0: // replace a byte
        if (a.length) a[i] = val;
        break;
      case 1: // insert a byte
        a.splice(i, 0, val);
        break;
      case 2: // delete a few bytes
        a.splice(i, 1 + (val % 4));
        break;
      case 3: // duplicate a stretch
        a = [
          ...a.slice(0, i),
          ...a.slice(i, i + 1 + (val % 16)),
          ...a.slice(i),
        ];
        break;
      default: // insert a framing byte
        a.splice(i, 0, [0, 10, 13, 32][val % 4]);
    }
  }
  return Uint8Array.from(a);
}

const scriptArb = fc.array(commandArb, { minLength: 1, maxLength: 12 }).map((
  cs,
) => bytes(cs.join("")));
const mutatedArb = fc.tuple(
  scriptArb,
  fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), {
    maxLength: 6,
  }),
).map(([b, ops]) => mutate(b, ops));
const inputArb = fc.oneof(
  { weight: 2, arbitrary: junkBytes },
  { weight: 3, arbitrary: scriptArb },
  { weight: 4, arbitrary: mutatedArb },
  {
    weight: 1,
    arbitrary: fc.tuple(scriptArb, junkBytes, scriptArb).map(([a, j, b]) => {
      const out = new Uint8Array(a.length + j.length + b.length);
      out.set(a);
      out.set(j, a.length);
      out.set(b, a.length + j.length);
      return out;
    }),
  },
);
const cutsArb = fc.array(fc.nat({ max: 20_000 }), { maxLength: 12 });

// ---------------------------------------------------------------- properties

Deno.test("parser: never throws, never over-consumes, bounded holding (any input, any split)", () => {
  fc.assert(
    fc.property(inputArb, cutsArb, (input, cuts) => {
      const c = cuts.map((x) => (input.length ? x % (input.length + 1) : 0));
      play(input, c, 7);
    }),
    params(3000),
  );
});

Deno.test("parser: same replies whole, split anywhere, byte by byte, or paused by output", () => {
  fc.assert(
    fc.property(inputArb, cutsArb, (input, cuts) => {
      fc.pre(shortLines(input));
      const whole = play(input, []);
      const c = cuts.map((x) => (input.length ? x % (input.length + 1) : 0));
      assert.deepEqual(play(input, c, 5), whole, "split differs from whole");
      assert.deepEqual(
        play(input, c, 3, 40),
        whole,
        "tiny output bound differs from whole",
      );
      if (input.length <= 400) {
        const every = Array.from({ length: input.length }, (_, i) => i);
        assert.deepEqual(
          play(input, every),
          whole,
          "byte-by-byte differs from whole",
        );
      }
    }),
    params(2000),
  );
});

Deno.test("parser: a line without newline closes past 2048 bytes, a get line past 1 MiB", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("set k 0 0 5 ", "junk", "mg k v ", "get k ", "gets a "),
      fc.integer({ min: 1, max: 4000 }),
      fc.array(fc.nat({ max: 4000 }), { maxLength: 4 }),
      (head, len, cuts) => {
        const input = bytes((head + "a".repeat(len)).slice(0, len));
        const run = play(input, cuts);
        const isGet = /^gets? /.test(head) && len >= head.length;
        assert.equal(run.closed, input.length > MAX_LINE && !isGet);
        assert.equal(run.replies, "");
      },
    ),
    params(200),
  );
  // A get line may grow to MAX_GET_LINE, not further.
  const big = bytes("get " + "k ".repeat(MAX_GET_LINE / 2));
  assert.equal(play(big, [1000, 500_000]).closed, true);
  assert.equal(
    play(big.subarray(0, MAX_GET_LINE - 10), [1000, 500_000]).closed,
    false,
  );
});

Deno.test("parser: declared sizes are bounded by -I, overflowing and negative ones refused", () => {
  const over = (n: string) =>
    play(bytes(`set k 0 0 ${n}\r\nabc\r\nversion\r\n`), [5, 17]);
  assert.equal(
    over("99999999999999999999").replies,
    "CLIENT_ERROR bad command line format\r\nERROR\r\nVERSION 1.6.18\r\n",
  );
  assert.equal(
    over("-1").replies,
    "CLIENT_ERROR bad command line format\r\nERROR\r\nVERSION 1.6.18\r\n",
  );
  // Too large: refused at once, its data swallowed without being held.
  fc.assert(
    fc.property(
      fc.integer({ min: MAX_ITEM, max: 50_000 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (n, cuts) => {
        const input = bytes(
          `set k 0 0 ${n}\r\n${"v".repeat(n)}\r\nversion\r\n`,
        );
        const run = play(input, cuts.map((c) => c % input.length));
        assert.equal(
          run.replies,
          "SERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n",
        );
      },
    ),
    params(60),
  );
});

Deno.test("parser: a multiget larger than the output bound is answered in pieces, all of it", () => {
  const v = "v".repeat(1000);
  const keys = Array.from(
    { length: 60 },
    (_, i) => (i % 3 === 0 ? "miss" : "big"),
  );
  const script = `set big 3 0 ${v.length}\r\n${v}\r\ngets ${
    keys.join(" ")
  }\r\ngat 0 big big\r\n`;
  const whole = play(bytes(script), []);
  assert.equal(whole.replies.split(`VALUE big 3 ${v.length}`).length - 1, 42);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), cutsArb, (maxOut, cuts) => {
      assert.deepEqual(
        play(bytes(script), cuts.map((c) => c % script.length), 2, maxOut),
        whole,
      );
    }),
    params(200),
  );
  // A too-long key after the pause point still fails the whole command.
  const bad = `set big 3 0 ${v.length}\r\n${v}\r\nget big big big ${
    "k".repeat(251)
  }\r\nversion\r\n`;
  assert.equal(
    play(bytes(bad), [], 0, 100).replies,
    "STORED\r\nCLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n",
  );
});
