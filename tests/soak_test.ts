/**
 * Soak: a bounded mixed load (many connections, every classic command,
 * connections that leave mid-command) against a subprocess, then checks that
 * the counters in `stats` add up exactly to what the clients saw, the items
 * left match what a scan finds, and RSS came back near its settled level.
 * Seeded (SOAK_SEED).
 * @module
 */

import assert from "node:assert/strict";
import { raw, settle, skip } from "./_helpers.ts";
import {
  haveProc,
  type Rng,
  rng,
  rssMb,
  spawnServer,
  stats,
  within,
} from "./_robust_helpers.ts";

const SEED = Number(Deno.env.get("SOAK_SEED") ?? 7);
const CLIENTS = 60;
const SESSIONS_PER_CLIENT = 40;
const KEYS = 300;

/** What the clients observed, to compare with `stats`. */
interface Tally {
  cmd_get: number;
  get_hits: number;
  cmd_touch: number;
  touch_hits: number;
  cmd_set: number;
  cas_hits: number;
  cas_badval: number;
  cas_misses: number;
  delete_hits: number;
  delete_misses: number;
  incr_hits: number;
  incr_misses: number;
  decr_hits: number;
  decr_misses: number;
  cmd_flush: number;
  sent: number;
  received: number;
  connections: number;
}

const tally: Tally = {
  cmd_get: 0,
  get_hits: 0,
  cmd_touch: 0,
  touch_hits: 0,
  cmd_set: 0,
  cas_hits: 0,
  cas_badval: 0,
  cas_misses: 0,
  delete_hits: 0,
  delete_misses: 0,
  incr_hits: 0,
  incr_misses: 0,
  decr_hits: 0,
  decr_misses: 0,
  cmd_flush: 0,
  sent: 0,
  received: 0,
  connections: 0,
};

/** One command: its text, and how to read its complete reply into the tally. */
interface Cmd {
  text: string;
  /** Consumes this command's reply from the front of `r`; returns the rest. */
  account(r: string): string;
}

const line = (r: string) => {
  const i = r.indexOf("\r\n");
  if (i < 0) {
    throw new Error(`no reply line in ${JSON.stringify(r.slice(0, 80))}`);
  }
  return [r.slice(0, i), r.slice(i + 2)];
};

/** Consumes VALUE blocks up to END; returns [hits, rest]. */
function values(r: string): [number, string] {
  let hits = 0;
  for (;;) {
    const [l, rest] = line(r);
    if (l === "END") return [hits, rest];
    const m = /^VALUE \S+ \d+ (\d+)/.exec(l);
    if (!m) throw new Error(`bad retrieval reply ${JSON.stringify(l)}`);
    hits++;
    r = rest.slice(Number(m[1]) + 2);
  }
}

function command(r: Rng, casSeen: Map<string, string>): Cmd {
  const key = () => `soak:${r.int(KEYS)}`;
  const val =
    () => (r.int(4) === 0 ? String(r.int(1000)) : "v".repeat(r.int(2000)));
  const exp = () => r.pick(["0", "0", "3600"]);
  const store = (name: string, k: string, v: string, extra = "") => ({
    text: `${name} ${k} ${r.int(100)} ${exp()} ${v.length}${extra}\r\n${v}\r\n`,
    account(x: string) {
      const [l, rest] = line(x);
      tally.cmd_set++;
      if (name === "cas") {
        if (l === "STORED") tally.cas_hits++;
        else if (l === "EXISTS") tally.cas_badval++;
        else if (l === "NOT_FOUND") tally.cas_misses++;
      }
      if (!/^(STORED|NOT_STORED|EXISTS|NOT_FOUND)$/.test(l)) {
        throw new Error(`${name}: ${l}`);
      }
      return rest;
    },
  });
  switch (r.int(14)) {
    case 0:
    case 1:
      return store("set", key(), val());
    case 2:
      return store(
        r.pick(["add", "replace", "append", "prepend"]),
        key(),
        val(),
      );
    case 3: {
      const k = key();
      return store("cas", k, val(), ` ${casSeen.get(k) ?? r.int(5)}`);
    }
    case 4:
    case 5: {
      const ks = Array.from({ length: 1 + r.int(5) }, key);
      const cmd = r.pick(["get", "gets", "bget"]);
      return {
        text: `${cmd === "bget" ? "get" : cmd} ${ks.join(" ")}\r\n`,
        account(x) {
          tally.cmd_get += ks.length;
          if (cmd === "gets") {
            for (const m of x.matchAll(/^VALUE (\S+) \d+ \d+ (\d+)\r$/gm)) {
              casSeen.set(m[1], m[2]);
            }
          }
          const [hits, rest] = values(x);
          tally.get_hits += hits;
          return rest;
        },
      };
    }
    case 6: {
      const ks = Array.from({ length: 1 + r.int(3) }, key);
      return {
        text: `gat ${exp()} ${ks.join(" ")}\r\n`,
        account(x) {
          tally.cmd_touch += ks.length;
          const [hits, rest] = values(x);
          tally.touch_hits += hits;
          return rest;
        },
      };
    }
    case 7:
      return {
        text: `touch ${key()} ${exp()}\r\n`,
        account(x) {
          const [l, rest] = line(x);
          tally.cmd_touch++;
          if (l === "TOUCHED") tally.touch_hits++;
          else if (l !== "NOT_FOUND") throw new Error(`touch: ${l}`);
          return rest;
        },
      };
    case 8:
      return {
        text: `delete ${key()}\r\n`,
        account(x) {
          const [l, rest] = line(x);
          if (l === "DELETED") tally.delete_hits++;
          else if (l === "NOT_FOUND") tally.delete_misses++;
          else throw new Error(`delete: ${l}`);
          return rest;
        },
      };
    case 9:
    case 10: {
      const incr = r.int(2) === 0;
      return {
        text: `${incr ? "incr" : "decr"} ${key()} ${r.int(10)}\r\n`,
        account(x) {
          const [l, rest] = line(x);
          if (/^\d+$/.test(l)) tally[incr ? "incr_hits" : "decr_hits"]++;
          else if (l === "NOT_FOUND") {
            tally[incr ? "incr_misses" : "decr_misses"]++;
          } else if (!l.startsWith("CLIENT_ERROR cannot increment")) {
            throw new Error(`arith: ${l}`);
          }
          return rest;
        },
      };
    }
    case 11:
      return {
        text: r.pick([
          "verbosity 0\r\n",
          "mn\r\n",
          "stats settings\r\n",
          "stats items\r\n",
          "stats slabs\r\n",
        ]),
        account(x) {
          const [l, rest] = line(x);
          if (l !== "STAT" && !l.startsWith("STAT ")) return rest;
          return x.slice(x.indexOf("END\r\n") + 5);
        },
      };
    case 12:
      if (r.int(30) === 0) {
        return {
          text: "flush_all\r\n",
          account(x) {
            tally.cmd_flush++;
            return line(x)[1];
          },
        };
      }
      return store("set", key(), val());
    default:
      return store("set", key(), val());
  }
}

/** Partial commands a client may leave behind when it disconnects. */
const PARTIAL = [
  "set soak:1 0 0 100\r\nhalf a data block",
  "get soak:1 soak:2",
  "incr soak:3",
  "cas soak:4 0 0 5 1\r\nab",
  "delete soak",
  "",
];

/** One connection: batches of pipelined commands, then maybe a partial one. */
async function session(port: number, r: Rng): Promise<void> {
  const c = await raw(port);
  tally.connections++;
  const casSeen = new Map<string, string>();
  try {
    for (let b = 0; b < 1 + r.int(6); b++) {
      const cmds = Array.from(
        { length: 1 + r.int(20) },
        () => command(r, casSeen),
      );
      const text = cmds.map((x) => x.text).join("") + "version\r\n";
      await c.send(text);
      tally.sent += text.length;
      let got = await c.until("VERSION 1.6.18\r\n", 10_000);
      tally.received += got.length;
      for (const cmd of cmds) got = cmd.account(got);
      if (got !== "VERSION 1.6.18\r\n") {
        throw new Error(`left over: ${JSON.stringify(got.slice(0, 200))}`);
      }
    }
    const p = r.pick(PARTIAL);
    await c.send(p);
    tally.sent += p.length;
  } finally {
    c.close(); // mid-command when a partial one was sent
  }
}

Deno.test("soak: mixed load with disconnects mid-command; stats add up, RSS settles", async () => {
  if (!haveProc()) return void skip("no /proc to read RSS from");
  const srv = await spawnServer(["-m", "64"]);
  if (!srv) return void skip("cannot start server");
  try {
    await settle(300);
    const before = await stats(srv.port);
    const r = rng(SEED);
    const t0 = Date.now();
    const load = () =>
      within(
        Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
          const cr = rng(r.int(2 ** 31) ^ i);
          for (let k = 0; k < SESSIONS_PER_CLIENT / 2; k++) {
            await session(srv.port, cr);
          }
        })),
        30_000,
        "soak load",
      );
    // First half warms the store and the runtime up; the second half must
    // not grow the process further.
    await load();
    await settle(1000);
    const settled = rssMb(srv.pid);
    await load();
    const elapsed = Date.now() - t0;
    // Wait for the server to notice every disconnect.
    let after = await stats(srv.port);
    const deadline = Date.now() + 5000;
    while (
      after.get("curr_connections") !== before.get("curr_connections") &&
      Date.now() < deadline
    ) {
      await settle(50);
      after = await stats(srv.port);
    }
    const n = (m: Map<string, string>, k: string) => Number(m.get(k));
    const d = (k: string) => n(after, k) - n(before, k);
    assert.equal(
      after.get("curr_connections"),
      before.get("curr_connections"),
      "connections leaked",
    );
    // One stats connection per poll is part of the total: count them out.
    assert.ok(d("total_connections") >= tally.connections + 1);
    assert.equal(d("cmd_get"), tally.cmd_get, "cmd_get");
    assert.equal(d("get_hits"), tally.get_hits, "get_hits");
    assert.equal(
      n(after, "get_hits") + n(after, "get_misses"),
      n(after, "cmd_get"),
      "hits + misses",
    );
    assert.equal(d("cmd_touch"), tally.cmd_touch, "cmd_touch");
    assert.equal(d("touch_hits"), tally.touch_hits, "touch_hits");
    assert.equal(
      n(after, "touch_hits") + n(after, "touch_misses"),
      n(after, "cmd_touch"),
    );
    for (
      const k of [
        "cmd_set",
        "cas_hits",
        "cas_badval",
        "cas_misses",
        "delete_hits",
        "delete_misses",
        "incr_hits",
        "incr_misses",
        "decr_hits",
        "decr_misses",
        "cmd_flush",
      ] as const
    ) assert.equal(d(k), tally[k], k);
    // Bytes: everything the clients sent (partial commands included) was
    // read, and the server wrote exactly what the clients received, plus
    // the two stats commands and the first stats reply.
    assert.ok(
      d("bytes_read") >= tally.sent,
      `bytes_read ${d("bytes_read")} < sent ${tally.sent}`,
    );
    assert.ok(d("bytes_written") >= tally.received);
    // Items: a full scan finds exactly curr_items once the dead are reclaimed.
    const c = await raw(srv.port);
    let found = 0;
    try {
      await c.send("lru_crawler crawl all\r\n");
      await c.until("OK\r\n");
      for (let i = 0; i < KEYS; i += 50) {
        const ks = Array.from({ length: 50 }, (_, j) => `soak:${i + j}`);
        await c.send(`get ${ks.join(" ")}\r\n`);
        found += values(await c.until("END\r\n", 10_000))[0];
      }
    } finally {
      c.close();
      await settle();
    }
    const items = n(await stats(srv.port), "curr_items");
    await settle(1000);
    const rss = rssMb(srv.pid);
    console.log(
      `soak seed=${SEED}: ${tally.connections} connections, ${
        (tally.sent / 1048576).toFixed(1)
      } MB sent, ` +
        `${
          (tally.received / 1048576).toFixed(1)
        } MB received in ${elapsed} ms; ` +
        `cmd_get ${tally.cmd_get}, cmd_set ${tally.cmd_set}; items ${items} (scan ${found}); ` +
        `RSS after the first half ${settled.toFixed(1)} MB, after both ${
          rss.toFixed(1)
        } MB`,
    );
    assert.equal(found, items, "curr_items differs from a full scan");
    assert.ok(
      rss < settled + 40,
      `RSS ${rss.toFixed(1)} MB did not settle near ${settled.toFixed(1)} MB`,
    );
  } finally {
    await srv.stop();
  }
});
