/**
 * Socket-level fuzz: many real connections send random and hostile input
 * (garbage with NUL and high bytes, lone CR/LF, huge/negative/overflowing
 * lengths, non-numeric fields, a 10 MB line without newline, abrupt closes)
 * to a denocached subprocess while a separate client holds 1,000 keys.
 * Afterwards the server answers, its RSS has not run away, and every guarded
 * key is intact. Seeded (FUZZ_SEED) and bounded.
 * @module
 */

import assert from "node:assert/strict";
import { bytes, ioTest, raw, settle, skip } from "./_helpers.ts";
import {
  answers,
  checkGuarded,
  haveProc,
  politeRound,
  type Rng,
  rng,
  rssMb,
  rssSampler,
  spawnServer,
  within,
  writeGuarded,
} from "./_robust_helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20240607);
const CONNECTIONS = 600;
const PARALLEL = 24;
const GUARDED = 1000;
const LIMIT_MB = 64;
/** Room for the runtime itself (V8 heap, code, buffers) above `-m`. */
const ALLOWANCE_MB = 150;

const NUMS = [
  "99999999999999999999",
  "-1",
  "-99999999999999999999",
  "4294967296",
  "18446744073709551616",
  "2147483647",
  "2147483648",
  "1e9",
  "0x20",
  "abc",
  "",
  "\x00",
  "12\x0034",
];
const VERBS = [
  "set",
  "add",
  "replace",
  "append",
  "prepend",
  "cas",
  "get",
  "gets",
  "gat",
  "incr",
  "decr",
  "touch",
  "delete",
  "mg",
  "ms",
  "md",
  "ma",
  "me",
  "mn",
  "stats",
  "verbosity",
  "lru_crawler",
  "slabs",
];

/** One hostile payload; keys never start with `guard:` and nothing flushes. */
function payload(r: Rng, i: number): Uint8Array {
  const key = () => `h${r.int(50)}`;
  // Every kind gets its share; the details are random.
  switch (i % 9) {
    case 0: // raw garbage, NUL and high bytes included
      return r.bytes(1 + r.int(64 * 1024));
    case 1: { // lone CR / LF storms
      const n = 1 + r.int(20_000);
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = r.pick([10, 13, 13, 32, 0]);
      return b;
    }
    case 2: { // huge, negative and overflowing lengths, with some data after
      let s = "";
      for (let j = 0; j < 1 + r.int(20); j++) {
        s +=
          `${r.pick(["set", "add", "cas", "ms", "append"])} ${key()} 0 0 ${
            r.pick(NUMS)
          }` +
          `${r.int(2) ? " 1" : ""}\r\n${"d".repeat(r.int(3000))}\r\n`;
      }
      return bytes(s);
    }
    case 3: { // non-numeric flags / exptime / deltas
      let s = "";
      for (let j = 0; j < 1 + r.int(30); j++) {
        const v = r.pick(["set", "incr", "touch", "gat", "decr"]);
        s += `${v} ${r.pick(NUMS)} ${key()} ${r.pick(NUMS)} ${
          r.pick(NUMS)
        } 3\r\nabc\r\n`;
      }
      return bytes(s);
    }
    case 4: { // a long line without newline (10 MB for a few, else up to 300 KB)
      const n = i % 100 === 4 ? 10 * 1024 * 1024 : 3000 + r.int(300_000);
      const head = bytes(
        r.pick(["set k 0 0 5 ", "get ", "zzz", "mg k ", "gets h1 "]),
      );
      const b = new Uint8Array(n).fill(97);
      b.set(head);
      return b;
    }
    case 5: { // too-large declared items, partly sent
      return bytes(
        `set ${key()} 0 0 ${2_000_000 + r.int(5_000_000)}\r\n${
          "x".repeat(r.int(100_000))
        }`,
      );
    }
    case 6: { // plausible commands with bytes flipped
      let s = "";
      for (let j = 0; j < 1 + r.int(40); j++) {
        s += `${r.pick(VERBS)} ${key()} ${r.int(3)} 0 ${r.int(8)}\r\n${
          "v".repeat(r.int(8))
        }\r\n`;
      }
      const b = bytes(s);
      for (let j = 0; j < r.int(10); j++) b[r.int(b.length)] = r.int(256);
      return b;
    }
    case 7: { // a truncated data block, then close mid-command
      const n = 1000 + r.int(100_000);
      return bytes(`set ${key()} 0 0 ${n}\r\n${"p".repeat(r.int(n))}`);
    }
    default: { // legit traffic on hostile keys, pipelined
      let s = "";
      for (let j = 0; j < 1 + r.int(100); j++) {
        const v = "w".repeat(r.int(5000));
        s +=
          `set ${key()} 1 0 ${v.length}\r\n${v}\r\nget ${key()} ${key()}\r\nincr ${key()} 5\r\n`;
      }
      return bytes(s);
    }
  }
}

let sent = 0;

/** Sends `p` in random slices, maybe reads a little, then leaves abruptly. */
async function hostile(port: number, r: Rng, i: number): Promise<void> {
  let c;
  try {
    c = await raw(port);
  } catch {
    return; // refused is fine
  }
  try {
    const p = payload(r, i);
    let off = 0;
    while (off < p.length) {
      const n = 1 + r.int(r.int(4) === 0 ? 64 : 256 * 1024);
      await c.send(p.subarray(off, off + n));
      off += n;
      sent += Math.min(n, p.length - off + n);
      if (r.int(8) === 0) await settle(1);
    }
    if (r.int(2)) await c.drain(r.int(30));
  } catch {
    // The server may drop us mid-send; that is the point.
  } finally {
    c.close();
  }
}

ioTest(
  "fuzz: hostile connections leave the server up, RSS bounded, 1,000 keys intact",
  async (io) => {
    if (!haveProc()) return void skip("no /proc to read RSS from");
    const srv = await spawnServer(["-m", String(LIMIT_MB), "-c", "1024"], {
      io,
    });
    if (!srv) return void skip("cannot start server");
    try {
      await writeGuarded(srv.port, GUARDED);
      await settle(300);
      const settled = rssMb(srv.pid);
      const peak = rssSampler(srv.pid);
      const r = rng(SEED);
      let next = 0;
      const worker = async () => {
        while (next < CONNECTIONS) {
          const i = next++;
          await hostile(srv.port, rng(r.int(2 ** 31) ^ i), i);
        }
      };
      let rounds = 0;
      const polite = (async () => {
        do {
          await within(
            politeRound(srv.port, `f${rounds}`, 20),
            10_000,
            `polite round ${rounds}`,
          );
          rounds++;
        } while (next < CONNECTIONS);
      })();
      await Promise.all([...Array.from({ length: PARALLEL }, worker), polite]);
      await settle(500);
      const peakMb = peak.stop();
      const after = rssMb(srv.pid);
      console.log(
        `fuzz seed=${SEED}: RSS settled ${settled.toFixed(1)} MB, peak ${
          peakMb.toFixed(1)
        } MB, ` +
          `after ${after.toFixed(1)} MB (bound ${
            LIMIT_MB + ALLOWANCE_MB
          } MB); ` +
          `${CONNECTIONS} connections sent ${
            (sent / 1048576).toFixed(1)
          } MB; ${rounds} polite rounds`,
      );
      assert.ok(await answers(srv.port), "server stopped answering");
      assert.ok(
        peakMb < LIMIT_MB + ALLOWANCE_MB,
        `RSS peaked at ${peakMb.toFixed(1)} MB`,
      );
      assert.deepEqual(
        await checkGuarded(srv.port, GUARDED),
        [],
        "guarded keys damaged",
      );
    } finally {
      await srv.stop();
    }
  },
);
