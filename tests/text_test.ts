/**
 * Raw-socket tests of the classic text commands: storage (set, add, replace,
 * append, prepend, cas), retrieval (get, gets, gat, gats, bget), incr/decr,
 * delete, touch and memcached's exptime rules, on an in-process server with
 * a manual clock so nothing sleeps. Framing, admin and stats are in
 * `text_proto_test.ts`.
 * @module
 */

import assert from "node:assert/strict";
import { type ManualClock, manualClock, type RunningServer } from "../mod.ts";
import { roundTrip, withServer } from "./_helpers.ts";

/** A fresh server with a manual clock; `rt` sends a script, returns its replies. */
async function withClock(
  fn: (
    rt: (script: string) => Promise<string>,
    clock: ManualClock,
    srv: RunningServer,
  ) => Promise<void>,
  opts: { maxItemSize?: number } = {},
) {
  const clock = manualClock();
  await withServer(
    { clock, ...opts },
    (srv) => fn((s) => roundTrip(srv.port, s), clock, srv),
  );
}

const v = (key: string, flags: number, data: string) =>
  `VALUE ${key} ${flags} ${data.length}\r\n${data}\r\n`;

Deno.test("set/get: flags are 32-bit unsigned, values are opaque bytes", async () => {
  await withClock(async (rt) => {
    assert.equal(
      await rt("set k 0 0 5\r\nhello\r\nget k\r\n"),
      `STORED\r\n${v("k", 0, "hello")}END\r\n`,
    );
    assert.equal(
      await rt("set k 4294967295 0 1\r\na\r\nget k\r\n"),
      `STORED\r\n${v("k", 4294967295, "a")}END\r\n`,
    );
    // memcached parses flags as 64-bit and truncates to 32: 2^32 + 7 → 7.
    assert.equal(
      await rt("set k 4294967303 0 1\r\na\r\nget k\r\n"),
      `STORED\r\n${v("k", 7, "a")}END\r\n`,
    );
    assert.equal(
      await rt("set k -1 0 1\r\na\r\n"),
      "CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    const bin = "a\r\nb\0c\r\r\n\n\xff";
    assert.equal(
      await rt(`set b 1 0 ${bin.length}\r\n${bin}\r\nget b\r\n`),
      `STORED\r\n${v("b", 1, bin)}END\r\n`,
    );
    assert.equal(
      await rt("set e 0 0 0\r\n\r\nget e\r\n"),
      `STORED\r\n${v("e", 0, "")}END\r\n`,
    );
    // Extra 6th token that is not noreply is ignored; NOREPLY is not noreply.
    assert.equal(
      await rt("set k 0 0 1 junk\r\nz\r\nset k 0 0 1 NOREPLY\r\ny\r\n"),
      "STORED\r\nSTORED\r\n",
    );
  });
});

Deno.test("storage commands: every outcome, with and without noreply", async () => {
  await withClock(async (rt) => {
    assert.equal(
      await rt("add a 0 0 1\r\n1\r\nadd a 0 0 1\r\n2\r\n"),
      "STORED\r\nNOT_STORED\r\n",
    );
    assert.equal(
      await rt(
        "replace r 0 0 1\r\n1\r\nset r 0 0 1\r\n1\r\nreplace r 5 0 1\r\n2\r\nget r\r\n",
      ),
      `NOT_STORED\r\nSTORED\r\nSTORED\r\n${v("r", 5, "2")}END\r\n`,
    );
    // append/prepend ignore their flags and exptime, keep the item's.
    assert.equal(
      await rt("append p 0 0 1\r\nx\r\nprepend p 0 0 1\r\nx\r\n"),
      "NOT_STORED\r\nNOT_STORED\r\n",
    );
    assert.equal(
      await rt(
        "set p 3 0 1\r\nb\r\nappend p 9 -1 2\r\ncd\r\nprepend p 9 -1 1\r\na\r\nget p\r\n",
      ),
      `STORED\r\nSTORED\r\nSTORED\r\n${v("p", 3, "abcd")}END\r\n`,
    );
    const quiet =
      "set q 0 0 1 noreply\r\n1\r\nadd q 0 0 1 noreply\r\n2\r\nreplace q 0 0 1 noreply\r\n3\r\n" +
      "append q 0 0 1 noreply\r\n4\r\nprepend q 0 0 1 noreply\r\n5\r\nappend none 0 0 1 noreply\r\n6\r\nget q\r\n";
    assert.equal(await rt(quiet), `${v("q", 0, "534")}END\r\n`);
  });
});

Deno.test("cas: STORED, EXISTS, NOT_FOUND and the counters", async () => {
  await withClock(async (rt, _c, srv) => {
    const g = await rt("set c 0 0 1\r\n1\r\ngets c\r\n");
    const cas = /^VALUE c 0 1 (\d+)\r$/m.exec(g)![1];
    assert.equal(await rt(`cas c 0 0 1 ${cas}\r\n2\r\n`), "STORED\r\n");
    assert.equal(await rt(`cas c 0 0 1 ${cas}\r\n3\r\n`), "EXISTS\r\n");
    assert.equal(
      await rt("cas c 0 0 1 0\r\n3\r\ncas none 0 0 1 1\r\n3\r\n"),
      "EXISTS\r\nNOT_FOUND\r\n",
    );
    // A stale cas with noreply (EXISTS, silent), then a cas missing its token.
    assert.equal(
      await rt("cas c 0 0 1 1 noreply\r\n4\r\ncas c 0 0 1\r\n4\r\n"),
      "ERROR\r\nERROR\r\n",
    );
    const g2 = await rt("gets c\r\nget c\r\n");
    const cas2 = /^VALUE c 0 1 (\d+)\r$/m.exec(g2)![1];
    assert.notEqual(cas2, cas, "a store changes the cas");
    assert.match(g2, /\r\nVALUE c 0 1\r\n2\r\nEND\r\n$/);
    // get, gets, touch and gat do not change the cas.
    await rt("touch c 100\r\ngat 100 c\r\n");
    assert.match(
      await rt("gets c\r\n"),
      new RegExp(`^VALUE c 0 1 ${cas2}\r\n`),
    );
    const c = srv.ctx.counters;
    assert.deepEqual([c.cas_hits, c.cas_badval, c.cas_misses], [1, 3, 1]);
  });
});

Deno.test("keys: 250 bytes max, tabs and UTF-8 allowed; bad lines do not swallow data", async () => {
  await withClock(async (rt) => {
    const k250 = "k".repeat(250);
    assert.equal(
      await rt(`set ${k250} 0 0 1\r\na\r\nget ${k250}\r\n`),
      `STORED\r\n${v(k250, 0, "a")}END\r\n`,
    );
    const k251 = "k".repeat(251);
    // The rejected line's data block is read as a command: ERROR.
    assert.equal(
      await rt(`set ${k251} 0 0 1\r\na\r\n`),
      "CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    for (
      const cmd of [
        `get ${k251}`,
        `gets a ${k251}`,
        `delete ${k251}`,
        `incr ${k251} 1`,
        `touch ${k251} 1`,
      ]
    ) {
      assert.equal(
        await rt(cmd + "\r\n"),
        "CLIENT_ERROR bad command line format\r\n",
        cmd,
      );
    }
    // 125 two-byte characters = 250 bytes.
    const utf = "\xc3\xa9".repeat(125);
    assert.equal(
      await rt(`set ${utf} 0 0 1\r\na\r\nget ${utf}\r\n`),
      `STORED\r\n${v(utf, 0, "a")}END\r\n`,
    );
    assert.equal(
      await rt("set a\tb 0 0 1\r\nx\r\nget a\tb a\r\n"),
      `STORED\r\n${v("a\tb", 0, "x")}END\r\n`,
    );
    for (
      const bad of [
        "set k 0 0",
        "set k x 0 1",
        "set k 0 x 1",
        "set k 0 0 -1",
        "set k 0 0 99999999999999999999",
      ]
    ) {
      assert.match(
        await rt(bad + "\r\n"),
        /^(ERROR|CLIENT_ERROR bad command line format)\r\n$/,
        bad,
      );
    }
  });
});

Deno.test("-I item size: SERVER_ERROR object too large, data swallowed, stream in sync", async () => {
  await withClock(async (rt, _c, srv) => {
    const big = "x".repeat(5000);
    assert.equal(
      await rt(`set k 0 0 1\r\na\r\nset k 0 0 5000\r\n${big}\r\nget k\r\n`),
      "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n",
      "set drops the old value",
    );
    assert.equal(
      await rt(`set k 0 0 1\r\na\r\nadd k 0 0 5000\r\n${big}\r\nget k\r\n`),
      `STORED\r\nSERVER_ERROR object too large for cache\r\n${
        v("k", 0, "a")
      }END\r\n`,
    );
    // noreply hides the error too; a data block holding command text stays data.
    const sneaky = "get k\r\n".repeat(800).slice(0, 4999);
    assert.equal(
      await rt(`set z 0 0 4999 noreply\r\n${sneaky}\r\nget z\r\n`),
      "END\r\n",
    );
    assert.equal(srv.ctx.counters.store_too_large, 3);
    // Appending past the limit: NOT_STORED, value unchanged.
    const near = "y".repeat(3000);
    assert.equal(
      await rt(
        `set n 0 0 3000\r\n${near}\r\nappend n 0 0 3000\r\n${near}\r\nget n\r\n`,
      ),
      `STORED\r\nNOT_STORED\r\n${v("n", 0, near)}END\r\n`,
    );
  }, { maxItemSize: 4096 });
});

Deno.test("CLIENT_ERROR bad data chunk: nothing stored, the rest parsed as commands", async () => {
  await withClock(async (rt) => {
    assert.equal(
      await rt("set k 0 0 1\r\nabc\r\nget k\r\n"),
      "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    );
    assert.equal(
      await rt("set k 0 0 1 noreply\r\nab\r\nget k\r\n"),
      "ERROR\r\nEND\r\n",
    );
  });
});

Deno.test("get/gets: any number of keys, misses omitted, duplicates repeated", async () => {
  await withClock(async (rt) => {
    assert.equal(
      await rt("get\r\ngets\r\nbget\r\n"),
      "ERROR\r\nERROR\r\nERROR\r\n",
    );
    let setup = "";
    const keys: string[] = [];
    for (let i = 0; i < 600; i++) {
      keys.push(`key${i}`);
      if (i % 3 === 0) {
        setup += `set key${i} ${i} 0 ${String(i).length} noreply\r\n${i}\r\n`;
      }
    }
    let want = "";
    for (let i = 0; i < 600; i += 3) want += v(`key${i}`, i, String(i));
    // 600 keys: far beyond memcached's 24 tokens per pass, a >2048-byte line.
    assert.equal(
      await rt(`${setup}get ${keys.join(" ")}\r\n`),
      want + "END\r\n",
    );
    assert.equal(
      await rt("bget key0 key0 nope key0\r\n"),
      v("key0", 0, "0").repeat(3) + "END\r\n",
    );
    const gs = await rt("gets key3 key6\r\n");
    assert.match(
      gs,
      /^VALUE key3 3 1 \d+\r\n3\r\nVALUE key6 6 1 \d+\r\n6\r\nEND\r\n$/,
    );
  });
});

Deno.test("gat/gats fetch and touch; counted as touches", async () => {
  await withClock(async (rt, clock, srv) => {
    await rt("set a 0 10 1\r\n1\r\nset b 0 10 1\r\n2\r\n");
    assert.equal(
      await rt("gat 100 a b c\r\n"),
      `${v("a", 0, "1")}${v("b", 0, "2")}END\r\n`,
    );
    assert.match(await rt("gats 0 a\r\n"), /^VALUE a 0 1 \d+\r\n1\r\nEND\r\n$/);
    clock.advance(50);
    assert.equal(
      await rt("get a b\r\n"),
      `${v("a", 0, "1")}${v("b", 0, "2")}END\r\n`,
    );
    clock.advance(1000);
    assert.equal(
      await rt("get a b\r\n"),
      `${v("a", 0, "1")}END\r\n`,
      "gat 0 made a immortal",
    );
    assert.equal(
      await rt("gat 10\r\ngat\r\ngat x a\r\n"),
      "END\r\nERROR\r\nCLIENT_ERROR invalid exptime argument\r\n",
    );
    assert.equal(
      await rt("gat -1 a\r\nget a\r\n"),
      `${v("a", 0, "1")}END\r\nEND\r\n`,
    );
    const c = srv.ctx.counters;
    // gat hits: a,b,a,a; misses: c. (gat 10 with no key touches nothing.)
    assert.deepEqual([c.cmd_touch, c.touch_hits, c.touch_misses], [5, 4, 1]);
  });
});

Deno.test("incr/decr: unsigned 64-bit, incr wraps, decr floors at 0", async () => {
  await withClock(async (rt) => {
    assert.equal(
      await rt("set n 5 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\nget n\r\n"),
      `STORED\r\n15\r\n12\r\n${v("n", 5, "12")}END\r\n`,
    );
    assert.equal(
      await rt("set n 0 0 2\r\n99\r\nincr n 1\r\nget n\r\n"),
      `STORED\r\n100\r\n${v("n", 0, "100")}END\r\n`,
    );
    // memcached rewrites a shorter result in place, padded with spaces.
    assert.equal(
      await rt("decr n 91\r\nget n\r\nincr n 1\r\n"),
      `9\r\n${v("n", 0, "9  ")}END\r\n10\r\n`,
    );
    assert.equal(
      await rt("set m 0 0 20\r\n18446744073709551615\r\nincr m 2\r\n"),
      "STORED\r\n1\r\n",
    );
    assert.equal(await rt("incr m 18446744073709551615\r\n"), "0\r\n");
    assert.equal(
      await rt("decr m 1\r\ndecr m 18446744073709551615\r\n"),
      "0\r\n0\r\n",
    );
    assert.equal(
      await rt("incr none 1\r\ndecr none 1\r\n"),
      "NOT_FOUND\r\nNOT_FOUND\r\n",
    );
    const nonNum =
      "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
    for (const val of ["abc", "1a", "", "-1", "18446744073709551616", "1.5"]) {
      assert.equal(
        await rt(`set x 0 0 ${val.length}\r\n${val}\r\nincr x 1\r\n`),
        "STORED\r\n" + nonNum,
        val,
      );
    }
    const badDelta = "CLIENT_ERROR invalid numeric delta argument\r\n";
    for (const d of ["x", "-1", "1.5", "18446744073709551616", "0x1"]) {
      assert.equal(await rt(`incr n ${d}\r\n`), badDelta, d);
    }
    assert.equal(
      await rt("incr n 1 noreply\r\ndecr n x noreply\r\nincr n\r\nget n\r\n"),
      `ERROR\r\n${v("n", 0, "11 ")}END\r\n`,
    );
  });
});

Deno.test("delete and touch", async () => {
  await withClock(async (rt, clock) => {
    assert.equal(
      await rt("set d 0 0 1\r\n1\r\ndelete d\r\ndelete d\r\n"),
      "STORED\r\nDELETED\r\nNOT_FOUND\r\n",
    );
    assert.equal(
      await rt(
        "set d 0 0 1\r\n1\r\ndelete d 0\r\nset d 0 0 1\r\n1\r\ndelete d 0 noreply\r\nget d\r\n",
      ),
      "STORED\r\nDELETED\r\nSTORED\r\nEND\r\n",
    );
    const usage =
      "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
    assert.equal(
      await rt("delete d 1\r\ndelete d x\r\ndelete\r\n"),
      `${usage}${usage}ERROR\r\n`,
    );
    assert.equal(
      await rt("set t 0 10 1\r\n1\r\ntouch t 100\r\ntouch none 100\r\n"),
      "STORED\r\nTOUCHED\r\nNOT_FOUND\r\n",
    );
    clock.advance(99);
    assert.equal(await rt("get t\r\n"), `${v("t", 0, "1")}END\r\n`);
    assert.equal(
      await rt("touch t x\r\ntouch t 1 noreply\r\ntouch t\r\n"),
      "CLIENT_ERROR invalid exptime argument\r\nERROR\r\n",
    );
    clock.advance(1);
    assert.equal(await rt("get t\r\ntouch t 100\r\n"), "END\r\nNOT_FOUND\r\n");
  });
});

Deno.test("exptime: 0 never, ≤30 days relative, larger absolute, negative at once", async () => {
  await withClock(async (rt, clock) => {
    const now = clock.now();
    const put = (k: string, exp: number | string) =>
      rt(`set ${k} 0 ${exp} 1\r\n1\r\n`);
    for (
      const r of await Promise.all([
        put("never", 0),
        put("rel", 100),
        put("month", 2592000),
      ])
    ) {
      assert.equal(r, "STORED\r\n");
    }
    assert.equal(await put("abs", now + 50), "STORED\r\n");
    assert.equal(await put("past", 2592001), "STORED\r\n"); // 1970 + 30 days: long gone
    assert.equal(await put("neg", -1), "STORED\r\n");
    assert.equal(await put("wrap", "2147483648"), "STORED\r\n"); // int32 wraps negative
    assert.equal(await rt("get past neg wrap\r\n"), "END\r\n");
    const alive = async () =>
      (await rt("get never rel month abs\r\n")).match(/VALUE (\S+)/g)?.join(
        ",",
      );
    assert.equal(await alive(), "VALUE never,VALUE rel,VALUE month,VALUE abs");
    clock.advance(49);
    assert.equal(await alive(), "VALUE never,VALUE rel,VALUE month,VALUE abs");
    clock.advance(1);
    assert.equal(await alive(), "VALUE never,VALUE rel,VALUE month");
    clock.advance(50);
    assert.equal(await alive(), "VALUE never,VALUE month");
    clock.advance(2592000);
    assert.equal(await alive(), "VALUE never");
    clock.advance(10 * 365 * 86400);
    assert.equal(await alive(), "VALUE never");
    // Expired items are absent for every command.
    assert.equal(
      await rt(
        "replace rel 0 0 1\r\n1\r\nappend rel 0 0 1\r\n1\r\nincr rel 1\r\ndelete rel\r\nadd rel 0 0 1\r\n2\r\n",
      ),
      "NOT_STORED\r\nNOT_STORED\r\nNOT_FOUND\r\nNOT_FOUND\r\nSTORED\r\n",
    );
  });
});
