/**
 * Raw-socket tests of text-protocol framing (pipelining, commands split
 * down to single bytes, overlong lines, errors, quit, HTTP), the admin
 * commands (flush_all, version, verbosity) and the `stats` family with
 * memcached's field names and counter semantics.
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../mod.ts";
import {
  ioTest,
  raw,
  roundTrip,
  settle,
  THREADS,
  withServer,
} from "./_helpers.ts";

/** Parses a `STAT <name> <value>`… `END` block, asserting its shape. */
function parseStats(out: string): Map<string, string> {
  assert.match(out, /^(STAT \S+ [^\r\n ]+\r\n)*END\r\n$/, out);
  return new Map(
    [...out.matchAll(/^STAT (\S+) (\S+)\r$/gm)].map((m) => [m[1], m[2]]),
  );
}

ioTest(
  "framing: unknown commands, blank lines, bare \\n, case, NUL",
  async (io) => {
    await withServer({ io }, async (srv) => {
      const rt = (s: string) => roundTrip(srv.port, s);
      assert.equal(
        await rt("bogus\r\nGET a\r\nx\r\n\r\n   \r\n"),
        "ERROR\r\n".repeat(5),
      );
      assert.equal(
        await rt("set a 0 0 1\na\r\nget a\n"),
        "STORED\r\nVALUE a 0 1\r\na\r\nEND\r\n",
      );
      // A NUL ends the line as in C: "get a\0junk" is "get a".
      assert.equal(await rt("get a\0 junk\r\n"), "VALUE a 0 1\r\na\r\nEND\r\n");
      // More than 24 tokens: only get/gets take any number.
      assert.equal(
        await rt(`set ${"t ".repeat(30)}\r\ndelete ${"t ".repeat(30)}\r\n`),
        "ERROR\r\nERROR\r\n",
      );
    });
  },
);

ioTest(
  "pipelining: many commands in one packet, replies in order",
  async (io) => {
    await withServer({ io }, async (srv) => {
      let script = "";
      let want = "";
      for (let i = 0; i < 300; i++) {
        script += `set k${i} ${i} 0 ${
          String(i).length
        }\r\n${i}\r\nget k${i}\r\nincr k${i} 1\r\n`;
        want += `STORED\r\nVALUE k${i} ${i} ${
          String(i).length
        }\r\n${i}\r\nEND\r\n${i + 1}\r\n`;
      }
      assert.equal(
        await roundTrip(srv.port, script + "delete k0\r\nbogus\r\n"),
        want + "DELETED\r\nERROR\r\n",
      );
    });
  },
);

ioTest("a command split across packets, down to one byte each", async (io) => {
  await withServer({ io }, async (srv) => {
    const c = await raw(srv.port);
    try {
      (c.conn as Deno.TcpConn).setNoDelay(true);
      const script = "set s 7 0 6\r\na\r\nb\0c\r\nget s\r\ngets  s\r\n";
      for (let i = 0; i < script.length; i++) {
        await c.send(script[i]);
        // Let the server read most bytes on their own; no reply may come early.
        if (i % 4 === 0) await settle(2);
      }
      const out = await c.until("END\r\n", 5000) +
        await c.until("END\r\n", 5000);
      assert.match(
        out,
        /^STORED\r\nVALUE s 7 6\r\na\r\nb\0c\r\nEND\r\nVALUE s 7 6 \d+\r\na\r\nb\0c\r\nEND\r\n$/,
      );
      // A data block arriving in pieces, then the rest with the next command.
      await c.send("set t 0 0 10\r\n01234");
      await settle(10);
      await c.send("56789\r");
      await settle(10);
      await c.send("\nget t\r\n");
      assert.equal(
        await c.until("END\r\n"),
        "STORED\r\nVALUE t 0 10\r\n0123456789\r\nEND\r\n",
      );
    } finally {
      c.close();
      await settle();
    }
  });
});

ioTest(
  "a line over 2048 bytes with no newline closes the connection, except get/gets",
  async (io) => {
    await withServer({ io }, async (srv) => {
      const c = await raw(srv.port);
      try {
        await c.send("x".repeat(2100));
        assert.equal(
          await c.closed(3000),
          true,
          "server kept a junk line open",
        );
        assert.equal(await c.drain(0), "");
      } finally {
        c.close();
      }
      for (const cmd of ["get", "gets"]) {
        const g = await raw(srv.port);
        try {
          const keys = Array.from({ length: 600 }, (_, i) => `key${i}`).join(
            " ",
          );
          await g.send(
            `set key599 0 0 1\r\nz\r\n${cmd} ${keys.slice(0, 3000)}`,
          );
          assert.equal(await g.until("STORED\r\n"), "STORED\r\n");
          await settle(50);
          await g.send(keys.slice(3000) + "\r\n");
          assert.match(
            await g.until("END\r\n"),
            /^VALUE key599 0 1( \d+)?\r\nz\r\nEND\r\n$/,
          );
        } finally {
          g.close();
        }
      }
      await settle();
    });
  },
);

ioTest(
  "quit closes after earlier replies; HTTP request lines close silently",
  async (io) => {
    await withServer({ io }, async (srv) => {
      for (
        const [script, want] of [
          ["set a 0 0 1\r\n1\r\nquit\r\nget a\r\n", "STORED\r\n"],
          ["quit extra args\r\n", ""],
          ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""],
        ]
      ) {
        const c = await raw(srv.port);
        try {
          await c.send(script);
          assert.equal(await c.closed(3000), true, script);
          assert.equal(await c.drain(0), want, script);
        } finally {
          c.close();
          await settle();
        }
      }
    });
  },
);

ioTest("version, verbosity, flush_all [delay] [noreply]", async (io) => {
  const clock = manualClock();
  await withServer({ io, clock }, async (srv) => {
    const rt = (s: string) => roundTrip(srv.port, s);
    const c = await raw(srv.port);
    try {
      await c.send("version\r\nversion with args\r\n");
      assert.equal(await c.readBytes(32), "VERSION 1.6.18\r\n".repeat(2));
    } finally {
      c.close();
      await settle();
    }
    assert.equal(
      await rt(
        "verbosity 0\r\nverbosity 0 noreply\r\nverbosity\r\nverbosity x\r\n",
      ),
      "OK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n",
    );
    assert.equal(
      await rt(
        "set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nset a 0 0 1\r\n2\r\nget a\r\n",
      ),
      "STORED\r\nOK\r\nEND\r\nSTORED\r\nVALUE a 0 1\r\n2\r\nEND\r\n",
    );
    assert.equal(
      await rt("flush_all noreply\r\nget a\r\nflush_all 0\r\nflush_all -5\r\n"),
      "END\r\nOK\r\nOK\r\n",
    );
    assert.equal(
      await rt("flush_all x\r\nflush_all 1 2 3\r\n"),
      "CLIENT_ERROR invalid exptime argument\r\nERROR\r\n",
    );
    // Delayed: items stored before the moment it takes effect go then.
    assert.equal(
      await rt("set b 0 0 1\r\n1\r\nflush_all 10 noreply\r\nget b\r\n"),
      "STORED\r\nVALUE b 0 1\r\n1\r\nEND\r\n",
    );
    clock.advance(9);
    assert.equal(await rt("get b\r\n"), "VALUE b 0 1\r\n1\r\nEND\r\n");
    clock.advance(1);
    assert.equal(await rt("get b\r\n"), "END\r\n");
    clock.advance(1);
    assert.equal(
      await rt("set c 0 0 1\r\n1\r\nget c\r\n"),
      "STORED\r\nVALUE c 0 1\r\n1\r\nEND\r\n",
    );
    // Every flush_all with a valid token count counts, even a bad delay.
    assert.equal(srv.ctx.counters.cmd_flush, 6);
  });
});

ioTest("stats: memcached's fields and counter semantics", async (io) => {
  const clock = manualClock();
  await withServer({ io, clock, memoryLimitMb: 32 }, async (srv) => {
    const rt = (s: string) => roundTrip(srv.port, s);
    await rt(
      "set a 0 0 1\r\n1\r\nset b 0 0 2\r\n22\r\nadd a 0 0 1\r\n1\r\n" +
        "get a b nope\r\ngets a\r\ntouch a 10\r\ntouch nope 10\r\ngat 0 b nope\r\n" +
        "cas a 0 0 1 999999\r\n1\r\ncas nope 0 0 1 1\r\n1\r\ndelete b\r\ndelete b\r\n" +
        "set n 0 0 1\r\n1\r\nincr n 1\r\ndecr n 1\r\nincr nope 1\r\ndecr nope 1\r\n",
    );
    clock.advance(42);
    const c = await raw(srv.port);
    let s: Map<string, string>;
    try {
      await c.send("stats\r\n");
      s = parseStats(await c.until("END\r\n"));
    } finally {
      c.close();
      await settle();
    }
    const want: Record<string, string | number> = {
      pid: Deno.pid,
      uptime: 42,
      time: clock.now(),
      version: "1.6.18",
      cmd_get: 4, // get a b nope + gets a: one per key
      get_hits: 3,
      get_misses: 1,
      cmd_set: 6, // set, set, add, cas, cas, set (every storage attempt)
      cmd_touch: 4, // touch x2 + gat over two keys
      touch_hits: 2,
      touch_misses: 2,
      cas_badval: 1,
      cas_misses: 1,
      cas_hits: 0,
      delete_hits: 1,
      delete_misses: 1,
      incr_hits: 1,
      incr_misses: 1,
      decr_hits: 1,
      decr_misses: 1,
      curr_items: 2,
      total_items: 3,
      limit_maxbytes: 32 * 1024 * 1024,
      evictions: 0,
      curr_connections: 1,
      threads: io === "threads" ? THREADS : 1,
    };
    for (const [k, val] of Object.entries(want)) {
      assert.equal(s.get(k), String(val), k);
    }
    assert.ok(Number(s.get("total_connections")) >= 2);
    assert.ok(Number(s.get("bytes")) > 0);
    assert.match(s.get("rusage_user")!, /^\d+\.\d{6}$/);
    // stats reset zeroes the counters, not the items.
    assert.equal(await rt("stats reset\r\n"), "RESET\r\n");
    const after = parseStats(await rt("stats\r\n"));
    assert.equal(after.get("cmd_get"), "0");
    assert.equal(after.get("curr_items"), "2");
  });
});

ioTest(
  "stats settings/items/slabs/sizes/detail parse as exporters expect",
  async (io) => {
    await withServer({ io, maxItemSize: 512 * 1024 }, async (srv) => {
      const rt = (s: string) => roundTrip(srv.port, s);
      const settings = parseStats(await rt("stats settings\r\n"));
      assert.equal(settings.get("item_size_max"), String(512 * 1024));
      assert.equal(settings.get("maxconns"), "1024");
      // tcpport: with port 0 (pick one) this reports 0, not the bound port.
      assert.equal(settings.get("evictions"), "on");
      await rt(
        "set a 0 0 1\r\n1\r\nset b 0 0 100\r\n" + "x".repeat(100) +
          "\r\nget a\r\n",
      );
      const items = parseStats(await rt("stats items\r\n"));
      const numbers = [...items].filter(([k]) => /^items:\d+:number$/.test(k));
      assert.equal(numbers.reduce((t, [, n]) => t + Number(n), 0), 2);
      const slabs = parseStats(await rt("stats slabs\r\n"));
      assert.ok(Number(slabs.get("active_slabs")) >= 1);
      const hits = [...slabs].filter(([k]) => /^\d+:get_hits$/.test(k));
      assert.equal(hits.reduce((t, [, n]) => t + Number(n), 0), 1);
      for (const [k, val] of [...settings, ...items, ...slabs]) {
        assert.match(k, /^[a-z0-9_:]+$/, k);
        assert.ok(val.length > 0, k);
      }
      assert.equal(
        await rt("stats sizes\r\n"),
        "STAT sizes_status disabled\r\nEND\r\n",
      );
      assert.equal(
        await rt(
          "stats detail dump\r\nstats detail on\r\nstats detail\r\nstats nope\r\n",
        ),
        "END\r\nOK\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nERROR\r\n",
      );
    });
  },
);
