/**
 * Differential tests of the classic text protocol: the same byte scripts go
 * to a real memcached 1.6.18 (started here when installed) and to an
 * in-process denocached, and the replies must be byte-identical (cas values
 * compared by identity via `normalizeCas`). Each script runs on a fresh
 * connection after a `flush_all`, so scripts are independent.
 * @module
 */

import assert from "node:assert/strict";
import {
  diffTest,
  type Io,
  normalizeCas,
  raw,
  settle,
  startMemcached,
  withServer,
} from "./_helpers.ts";

/** A named byte script; `closes` scripts end with the server hanging up. */
type Script = [name: string, script: string, closes?: "closes"];

const SENTINEL = "VERSION 1.6.18\r\n";

/**
 * Marks a point in a script where the sender waits for every reply so far
 * (it sends `version` and waits for `VERSION`) before sending the rest.
 */
const SYNC = "\u{1}SYNC\u{1}";

/** Sends `script` (+ a `version` sentinel unless it closes) and collects the replies. */
async function exchange(port: number, script: string, closes: boolean) {
  const c = await raw(port);
  try {
    const parts = script.split(SYNC);
    let synced = "";
    for (const part of parts.slice(0, -1)) {
      await c.send(part + "version\r\n");
      synced += await c.until(SENTINEL);
    }
    script = parts[parts.length - 1];
    await c.send(closes ? script : script + "version\r\n");
    if (closes) {
      const eof = await c.closed(3000);
      return synced + (await c.drain(0)) + (eof ? "<closed>" : "<open>");
    }
    const out = await c.until(SENTINEL);
    return synced +
      (out.endsWith(SENTINEL)
        ? out.slice(0, -SENTINEL.length)
        : out + "<no sentinel>");
  } finally {
    c.close();
    await settle(5);
  }
}

/** Runs every script on both servers; fails listing each difference. */
async function compare(io: Io | undefined, scripts: Script[]) {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const diffs: string[] = [];
      for (const [name, script, closes] of scripts) {
        for (const port of [mc.port, srv.port]) {
          await exchange(port, "flush_all\r\nverbosity 0\r\n", false);
        }
        const want = normalizeCas(
          await exchange(mc.port, script, closes !== undefined),
        );
        const got = normalizeCas(
          await exchange(srv.port, script, closes !== undefined),
        );
        if (want !== got) {
          diffs.push(
            `${name}: ${JSON.stringify(script.slice(0, 200))}\n` +
              `  memcached:  ${JSON.stringify(want.slice(0, 400))}\n` +
              `  denocached: ${JSON.stringify(got.slice(0, 400))}`,
          );
        }
      }
      assert.equal(
        diffs.join("\n"),
        "",
        `${diffs.length} of ${scripts.length} scripts differ`,
      );
    });
  } finally {
    await mc.stop();
  }
}

const big = (n: number, ch = "x") => ch.repeat(n);
const keys = (n: number, p = "k") =>
  Array.from({ length: n }, (_, i) => `${p}${i}`).join(" ");

diffTest("diff: storage commands", async (io) => {
  await compare(io, [
    ["set/get", "set k 0 0 1\r\na\r\nget k\r\n"],
    ["set flags max", "set k 4294967295 0 1\r\na\r\nget k\r\n"],
    ["set flags 2^32 truncates", "set k 4294967296 0 1\r\na\r\nget k\r\n"],
    ["set flags 2^32+5", "set k 4294967301 0 1\r\na\r\nget k\r\n"],
    ["set flags 2^63", "set k 9223372036854775808 0 1\r\na\r\nget k\r\n"],
    ["set flags 2^64", "set k 18446744073709551616 0 1\r\na\r\nget k\r\n"],
    ["set flags -1", "set k -1 0 1\r\na\r\nget k\r\n"],
    ["set flags -0", "set k -0 0 1\r\na\r\nget k\r\n"],
    ["set flags +7", "set k +7 0 1\r\na\r\nget k\r\n"],
    ["set flags leading zeros", "set k 0007 0 1\r\na\r\nget k\r\n"],
    ["set flags hex", "set k 0x10 0 1\r\na\r\nget k\r\n"],
    ["set flags junk", "set k 1a 0 1\r\na\r\nget k\r\n"],
    ["set flags tab", "set k 5\t 0 1\r\na\r\nget k\r\n"],
    ["set flags leading tab", "set k \t5 0 1\r\na\r\nget k\r\n"],
    ["set bytes huge", "set k 0 0 99999999999999999999\r\na\r\nget k\r\n"],
    ["set bytes -1", "set k 0 0 -1\r\na\r\nget k\r\n"],
    ["set bytes 2^32 truncates to 0", "set k 0 0 4294967296\r\n\r\nget k\r\n"],
    ["set bytes 2^31-1", "set k 0 0 2147483647\r\na\r\n"],
    // `set k 0 0 2147483645` gets "object too large" from both, but memcached
    // only sends it after swallowing the 2 GB data block: not scriptable.
    ["set bytes junk", "set k 0 0 1x\r\na\r\n"],
    ["set bytes empty value", "set k 0 0 0\r\n\r\nget k\r\n"],
    ["set exptime junk", "set k 0 abc 1\r\na\r\nget k\r\n"],
    ["set exptime negative", "set k 0 -1 1\r\na\r\nget k\r\n"],
    ["set exptime 2^31 wraps", "set k 0 2147483648 1\r\na\r\nget k\r\n"],
    [
      "set exptime 2^32 truncates to 0",
      "set k 0 4294967296 1\r\na\r\nget k\r\n",
    ],
    [
      "set exptime 2^63 overflows",
      "set k 0 9223372036854775808 1\r\na\r\nget k\r\n",
    ],
    ["set exptime relative", "set k 0 100 1\r\na\r\nget k\r\n"],
    ["set exptime 30 days", "set k 0 2592000 1\r\na\r\nget k\r\n"],
    ["set exptime absolute past", "set k 0 2592001 1\r\na\r\nget k\r\n"],
    ["set exptime absolute future", "set k 0 4000000000 1\r\na\r\nget k\r\n"],
    ["set too few tokens", "set k 0 0\r\nget k\r\n"],
    ["set no key", "set\r\n"],
    ["set too many tokens", "set k 0 0 1 noreply x\r\na\r\n"],
    ["set extra 6th token", "set k 0 0 1 junk\r\na\r\nget k\r\n"],
    ["set noreply", "set k 0 0 1 noreply\r\na\r\nget k\r\n"],
    ["set NOREPLY is not noreply", "set k 0 0 1 NOREPLY\r\na\r\n"],
    ["set noreply bad chunk", "set k 0 0 1 noreply\r\nabc\r\nget k\r\n"],
    ["set noreply bad format", "set k x 0 1 noreply\r\na\r\n"],
    ["set bad chunk", "set k 0 0 1\r\nabc\r\nget k\r\n"],
    ["set bad chunk lf only", "set k 0 0 1\r\na\nget k\r\n"],
    [
      "set bad chunk keeps old",
      "set k 0 0 1\r\na\r\nset k 0 0 1\r\nbb\r\nget k\r\n",
    ],
    ["set lf line ending", "set k 0 0 1\na\r\nget k\n"],
    ["set value with crlf and nul", "set k 0 0 6\r\na\r\n\0b\r\r\nget k\r\n"],
    ["set key 250", `set ${big(250)} 0 0 1\r\na\r\nget ${big(250)}\r\n`],
    ["set key 251 no swallow", `set ${big(251)} 0 0 1\r\na\r\n`],
    ["set key with tab", "set a\tb 0 0 1\r\nx\r\nget a\tb\r\nget a\r\n"],
    [
      "set key utf8 ctrl",
      "set \x01\x7f\xc3\xa9 0 0 1\r\nx\r\nget \x01\x7f\xc3\xa9\r\n",
    ],
    ["set multiple spaces", "set   k   0   0   1  \r\na\r\nget k\r\n"],
    ["SET uppercase", "SET k 0 0 1\r\na\r\n"],
    ["add", "add k 0 0 1\r\na\r\nadd k 0 0 1\r\nb\r\nget k\r\n"],
    [
      "add noreply",
      "add k 0 0 1 noreply\r\na\r\nadd k 0 0 1 noreply\r\nb\r\nget k\r\n",
    ],
    ["add over expired", "set k 0 -1 1\r\na\r\nadd k 0 0 1\r\nb\r\nget k\r\n"],
    [
      "replace",
      "replace k 0 0 1\r\na\r\nset k 0 0 1\r\na\r\nreplace k 3 0 1\r\nb\r\nget k\r\n",
    ],
    [
      "append/prepend",
      "set k 5 0 1\r\nb\r\nappend k 9 0 1\r\nc\r\nprepend k 7 0 1\r\na\r\nget k\r\n",
    ],
    [
      "append missing",
      "append k 0 0 1\r\na\r\nprepend k 0 0 1\r\na\r\nget k\r\n",
    ],
    ["append bad flags", "append k x 0 1\r\na\r\n"],
    ["cas", "set k 0 0 1\r\na\r\ngets k\r\n"],
    ["cas missing", "cas k 0 0 1 1\r\na\r\n"],
    ["cas zero exists", "set k 0 0 1\r\na\r\ncas k 0 0 1 0\r\nb\r\nget k\r\n"],
    ["cas bad token", "cas k 0 0 1 x\r\na\r\n"],
    ["cas negative", "cas k 0 0 1 -1\r\na\r\n"],
    [
      "cas huge",
      "set k 0 0 1\r\na\r\ncas k 0 0 1 18446744073709551615\r\nb\r\n",
    ],
    ["cas overflow", "cas k 0 0 1 18446744073709551616\r\na\r\n"],
    ["cas too few", "cas k 0 0 1\r\na\r\n"],
    [
      "cas noreply",
      "cas k 0 0 1 1 noreply\r\na\r\nset k 0 0 1\r\na\r\ncas k 0 0 1 1 noreply\r\nb\r\nget k\r\n",
    ],
  ]);
});

diffTest("diff: item size limit", async (io) => {
  await compare(io, [
    ["largest value", `set abc 0 0 1048514\r\n${big(1048514)}\r\nget abc\r\n`],
    ["one too large", `set abc 0 0 1048515\r\n${big(1048515)}\r\nget abc\r\n`],
    [
      "too large removes old (set)",
      `set k 0 0 1\r\na\r\nset k 0 0 2000000\r\n${big(2000000)}\r\nget k\r\n`,
    ],
    [
      "too large keeps old (add)",
      `set k 0 0 1\r\na\r\nadd k 0 0 2000000\r\n${big(2000000)}\r\nget k\r\n`,
    ],
    [
      "too large noreply",
      `set k 0 0 2000000 noreply\r\n${big(2000000)}\r\nget k\r\n`,
    ],
    [
      "too large swallow is exact",
      `set k 0 0 2000000\r\n${big(1999999)}\r\n\r\nget k\r\n`,
    ],
    [
      "append past limit",
      `set abc 0 0 1048514\r\n${big(1048514)}\r\nappend abc 0 0 1\r\nx\r\n`,
    ],
  ]);
});

diffTest("diff: retrieval", async (io) => {
  const many = keys(100);
  await compare(io, [
    ["get miss", "get nope\r\n"],
    ["get no key", "get\r\n"],
    ["get trailing space", "get \r\n"],
    ["gets no key", "gets\r\n"],
    ["get dup keys", "set a 0 0 1\r\n1\r\nget a a b a\r\n"],
    ["gets", "set a 0 0 1\r\n1\r\nset b 1 0 1\r\n2\r\ngets a b c\r\n"],
    [
      "get 30 keys",
      `set k7 0 0 1\r\n7\r\nset k29 0 0 2\r\n29\r\nget ${keys(30)}\r\n`,
    ],
    [
      "get 100 keys",
      `set k99 0 0 1\r\n9\r\nset k0 0 0 1\r\n0\r\nget ${many}\r\ngets ${many}\r\n`,
    ],
    [
      "get 22/23/24 tokens",
      `set k21 0 0 1\r\nx\r\nset k22 0 0 1\r\ny\r\nget ${keys(22)}\r\nget ${
        keys(23)
      }\r\nget ${keys(24)}\r\n`,
    ],
    ["get key 250", `get ${big(250)}\r\n`],
    ["get key 251", `get ${big(251)}\r\n`],
    // memcached 1.6.18 also drops replies queued before a failing multiget
    // (here: STORED) — a bug we do not copy, so the scripts SYNC first.
    [
      "get long key after hits",
      `set a 0 0 1\r\n1\r\n${SYNC}get a ${big(251)} a\r\n`,
    ],
    [
      "get long key 30th",
      `set k1 0 0 1\r\n1\r\n${SYNC}get ${keys(29)} ${big(251)}\r\n`,
    ],
    ["bget", "set a 0 0 1\r\n1\r\nbget a\r\nbget\r\n"],
    ["gat", "set a 0 0 1\r\n1\r\ngat 100 a b\r\ngats 0 a\r\n"],
    ["gat no key", "gat 10\r\ngat\r\ngats 10\r\n"],
    ["gat bad exptime", "gat x a\r\ngat -1 a\r\nget a\r\n"],
    ["gat expire now", "set a 0 0 1\r\n1\r\ngat -1 a\r\nget a\r\n"],
    ["gat 2^31", "set a 0 0 1\r\n1\r\ngat 2147483648 a\r\nget a\r\n"],
    ["gat many keys", `set k3 0 0 1\r\n3\r\ngat 0 ${keys(40)}\r\n`],
    ["get expired", "set a 0 -1 1\r\n1\r\nget a\r\n"],
    ["GET uppercase", "GET a\r\n"],
    ["get with tabs", "set a 0 0 1\r\n1\r\nget\ta\r\nget a\t\r\n"],
  ]);
});

diffTest("diff: incr/decr/delete/touch", async (io) => {
  const set = (v: string) => `set n 0 0 ${v.length}\r\n${v}\r\n`;
  await compare(io, [
    ["incr", `${set("10")}incr n 5\r\nget n\r\n`],
    ["incr grows", `${set("99")}incr n 1\r\nget n\r\n`],
    [
      "decr pads with spaces",
      `${set("100")}decr n 1\r\nget n\r\nincr n 1\r\nget n\r\n`,
    ],
    ["incr wraps", `${set("18446744073709551615")}incr n 1\r\nget n\r\n`],
    [
      "incr wraps big",
      `${set("18446744073709551610")}incr n 18446744073709551615\r\n`,
    ],
    ["decr floors", `${set("5")}decr n 10\r\nget n\r\n`],
    ["incr missing", "incr n 1\r\ndecr n 1\r\n"],
    ["incr non-numeric", `${set("abc")}incr n 1\r\n`],
    ["incr empty", `${set("")}incr n 1\r\n`],
    ["incr value too big", `${set("18446744073709551616")}incr n 1\r\n`],
    ["incr value negative", `${set("-5")}incr n 1\r\n`],
    ["incr value -0", `${set("-0")}incr n 1\r\n`],
    ["incr value +5", `${set("+5")}incr n 1\r\n`],
    ["incr value inner space", `${set("12 34")}incr n 1\r\nget n\r\n`],
    ["incr value -(2^64-1)", `${set("-18446744073709551615")}incr n 1\r\n`],
    ["incr value leading space", `${set(" 5")}incr n 1\r\nget n\r\n`],
    ["incr value trailing space", `${set("5 ")}incr n 1\r\nget n\r\n`],
    ["incr value trailing tab", `${set("7\t")}incr n 1\r\n`],
    ["incr value trailing junk", `${set("7x")}incr n 1\r\n`],
    ["incr value 1.5", `${set("1.5")}incr n 1\r\n`],
    [
      "incr delta junk",
      `${set("1")}incr n x\r\nincr n -1\r\nincr n 1.5\r\nincr n +5\r\n`,
    ],
    ["incr delta 2^64", `${set("1")}incr n 18446744073709551616\r\n`],
    ["incr delta max", `${set("1")}incr n 18446744073709551615\r\n`],
    [
      "incr noreply",
      `${set("1")}incr n 1 noreply\r\nincr n x noreply\r\nget n\r\n`,
    ],
    ["incr wrong tokens", "incr n\r\nincr n 1 2 3\r\nincr\r\n"],
    ["incr long key", `incr ${big(251)} 1\r\n`],
    ["incr keeps flags", `set n 42 0 1\r\n1\r\nincr n 1\r\ngets n\r\n`],
    ["decr to zero shrink", `${set("10")}decr n 10\r\nget n\r\n`],
    ["delete", `${set("1")}delete n\r\ndelete n\r\n`],
    ["delete 0", `${set("1")}delete n 0\r\nget n\r\n`],
    ["delete 1", `${set("1")}delete n 1\r\nget n\r\n`],
    ["delete junk", `${set("1")}delete n x\r\n`],
    ["delete 0 noreply", `${set("1")}delete n 0 noreply\r\nget n\r\n`],
    ["delete noreply", `${set("1")}delete n noreply\r\ndelete n noreply\r\n`],
    ["delete x noreply", `${set("1")}delete n x noreply\r\nget n\r\n`],
    ["delete too many", "delete n 0 noreply x\r\ndelete\r\n"],
    ["delete long key", `delete ${big(251)}\r\n`],
    ["touch", `${set("1")}touch n 100\r\ntouch m 100\r\nget n\r\n`],
    ["touch expire", `${set("1")}touch n -1\r\nget n\r\n`],
    ["touch bad exptime", `${set("1")}touch n x\r\ntouch n 1.5\r\n`],
    [
      "touch noreply",
      `${set("1")}touch n 10 noreply\r\ntouch m 10 noreply\r\n`,
    ],
    ["touch wrong tokens", "touch n\r\ntouch n 1 2 3\r\n"],
    ["touch long key", `touch ${big(251)} 10\r\n`],
  ]);
});

diffTest("diff: admin and framing", async (io) => {
  await compare(io, [
    ["version args", "version x y\r\n"],
    [
      "verbosity",
      "verbosity 1\r\nverbosity 0\r\nverbosity\r\nverbosity x\r\nverbosity 1 noreply\r\nverbosity 1 2 3\r\nverbosity 0\r\n",
    ],
    ["verbosity 2 tokens", "verbosity 1 x\r\n"],
    [
      "flush_all",
      "set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nset a 0 0 1\r\n2\r\nget a\r\n",
    ],
    ["flush_all noreply", "set a 0 0 1\r\n1\r\nflush_all noreply\r\nget a\r\n"],
    ["flush_all delay", "set a 0 0 1\r\n1\r\nflush_all 100\r\nget a\r\n"],
    ["flush_all delay noreply", "flush_all 100 noreply\r\n"],
    ["flush_all 0", "set a 0 0 1\r\n1\r\nflush_all 0\r\nget a\r\n"],
    ["flush_all negative", "set a 0 0 1\r\n1\r\nflush_all -1\r\nget a\r\n"],
    [
      "flush_all junk",
      "flush_all x\r\nflush_all x noreply\r\nflush_all 1 2 3\r\n",
    ],
    [
      "cache_memlimit",
      "cache_memlimit 64\r\ncache_memlimit 7\r\ncache_memlimit x\r\ncache_memlimit\r\ncache_memlimit 64 noreply\r\n",
    ],
    ["cache_memlimit huge", "cache_memlimit 99999999999\r\n"],
    ["unknown", "bogus\r\nfoo bar baz\r\n"],
    ["empty and blank lines", "\r\n   \r\n\n"],
    ["one char command", "x\r\n"],
    ["nul in line", "get a\0junk\r\nset a 0 0 1\0x\r\n1\r\nget a\r\n"],
    ["nul at start", "\0get a\r\n"],
    ["24+ tokens", `set ${keys(30)}\r\n`],
    [
      "stats bogus",
      "stats bogus\r\nstats reset\r\nstats detail\r\nstats detail on\r\nstats detail off\r\n",
    ],
    ["stats detail dump", "stats detail dump\r\n"],
    [
      "stats cachedump",
      "stats cachedump\r\nstats cachedump x y\r\nstats cachedump 99 0\r\n",
    ],
    [
      "slabs",
      "slabs reassign 1 1\r\nslabs automove 1\r\nslabs automove 9\r\nslabs\r\n",
    ],
    ["lru", "lru mode flat\r\nlru tune 10 90 0.1 2\r\nlru\r\nlru x\r\n"],
    ["lru_crawler", "lru_crawler sleep 2000000\r\nlru_crawler bogus\r\n"],
    ["shutdown disabled", "shutdown\r\nshutdown graceful\r\n"],
    ["quit", "set a 0 0 1\r\n1\r\nquit\r\nget a\r\n", "closes"],
    ["quit args", "quit now\r\n", "closes"],
    ["http get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "closes"],
    // When memcached hangs up on a client (HTTP line, overlong line) it also
    // drops replies to earlier commands of the same read that it had not
    // written yet; we send them. Timing-dependent in memcached, so SYNC.
    ["http after reply", `version\r\n${SYNC}POST /x HTTP/1.0\r\n`, "closes"],
    ["long line", big(3000), "closes"],
    ["long line after command", `version\r\n${SYNC}${big(3000)}`, "closes"],
    [
      "odd spacing",
      "  get   a  \r\n set a 0 0 1\r\n1\r\n  gets  a \r\n  delete   a   noreply  \r\nget a\r\n",
    ],
    [
      "tabs as token chars",
      "set\ta 0 0 1\r\nincr a\t1\r\nincr a 1\t\r\nflush_all\t\r\nversion\t\r\n",
    ],
    [
      "noreply on errors",
      "incr none 1 noreply\r\ntouch none 1 noreply\r\ndelete none noreply\r\nverbosity x noreply\r\nflush_all x noreply\r\ngat x a noreply\r\n",
    ],
    ["noreply alone", "noreply\r\nget noreply\r\n"],
    ["http-like lines", "GET /\r\nHEAD / HTTP\r\nPOST\r\n"],
    [
      "pipelined",
      "set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a b\r\nincr c 1\r\ndelete a\r\nget a b\r\n",
    ],
  ]);
});

diffTest("diff: stats field names", async (io) => {
  const mc = await startMemcached();
  if (!mc) return;
  try {
    await withServer({ io }, async (srv) => {
      const setup = "set a 0 0 1\r\n1\r\nget a\r\n";
      for (const port of [mc.port, srv.port]) {
        await exchange(port, setup, false);
      }
      for (
        const cmd of ["stats", "stats settings", "stats items", "stats slabs"]
      ) {
        const names = async (port: number) => {
          const out = await exchange(port, cmd + "\r\n", false);
          // Every line `STAT <name> <value>`, then END: what exporters parse.
          assert.match(
            out,
            /^(STAT \S+ [^\r\n ]+\r\n)+END\r\n$/,
            `${cmd}: ${out}`,
          );
          // Class ids depend on slab sizing; compare the names per class.
          return new Set(
            [...out.matchAll(/^STAT (\S+) /gm)].map((m) =>
              m[1].replace(/\d+:/, "N:")
            ),
          );
        };
        const want = await names(mc.port);
        const got = await names(srv.port);
        // Not reported: the store does not sum requested bytes per class.
        const absent = new Set(["items:N:mem_requested"]);
        const missing = [...want].filter((n) => !got.has(n) && !absent.has(n));
        const extra = [...got].filter((n) => !want.has(n));
        assert.deepEqual(missing, [], `${cmd}: fields missing`);
        assert.deepEqual(extra, [], `${cmd}: extra fields`);
      }
    });
  } finally {
    await mc.stop();
  }
});

diffTest("diff: stats counters after the same commands", async (io) => {
  const mc = await startMemcached();
  if (!mc) return;
  const script =
    "set a 0 0 1\r\n1\r\nset b 0 0 2\r\n22\r\nadd a 0 0 1\r\n1\r\n" +
    "replace z 0 0 1\r\n1\r\nappend a 0 0 1\r\n2\r\nget a b nope\r\ngets a\r\nbget a\r\n" +
    "touch a 10\r\ntouch nope 10\r\ngat 0 b nope\r\ngats 0 a\r\n" +
    "cas a 0 0 1 999999\r\n1\r\ncas nope 0 0 1 1\r\n1\r\nset e 0 -1 1\r\n1\r\nget e\r\n" +
    `set k 0 0 1100000\r\n${"x".repeat(1100000)}\r\ndelete b\r\ndelete b\r\n` +
    "set n 0 0 1\r\n1\r\nincr n 1\r\ndecr n 1\r\nincr nope 1\r\ndecr nope 1\r\nincr a 1\r\n" +
    "flush_all 0\r\nflush_all x\r\nflush_all 1 2 3\r\nget a n\r\nset k 0 0 1\r\nxx\r\n";
  const counters = [
    "get_expired",
    "get_flushed",
    "cmd_get",
    "cmd_set",
    "cmd_flush",
    "cmd_touch",
    "get_hits",
    "get_misses",
    "delete_misses",
    "delete_hits",
    "incr_misses",
    "incr_hits",
    "decr_misses",
    "decr_hits",
    "cas_misses",
    "cas_hits",
    "cas_badval",
    "touch_hits",
    "touch_misses",
    "store_too_large",
    "store_no_memory",
    "total_items",
  ];
  try {
    await withServer({ io }, async (srv) => {
      const read = async (port: number) => {
        await exchange(port, "stats reset\r\n" + script, false);
        const out = await exchange(port, "stats\r\n", false);
        const m = new Map(
          [...out.matchAll(/^STAT (\S+) (\S+)\r$/gm)].map((x) => [x[1], x[2]]),
        );
        return Object.fromEntries(counters.map((k) => [k, m.get(k)]));
      };
      const ours = await read(srv.port);
      const theirs = await read(mc.port);
      // memcached changes an incr/decr value in place only while no other
      // thread holds the item (refcount 2, memcache.c do_add_delta), else it
      // links a new item and counts it: under load its LRU maintainer can
      // make `incr n` and `decr n` count. Ours is the in-place count.
      const extra = Number(theirs.total_items) - Number(ours.total_items);
      assert.ok(
        extra >= 0 && extra <= 2,
        `total_items ${JSON.stringify([ours.total_items, theirs.total_items])}`,
      );
      delete ours.total_items;
      delete theirs.total_items;
      assert.deepEqual(ours, theirs);
    });
  } finally {
    await mc.stop();
  }
});
