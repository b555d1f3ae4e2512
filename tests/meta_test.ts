/**
 * Raw-socket tests of the meta protocol against denocached alone: time
 * dependent behaviour on a manual clock (TTL, `t`, `l`, `R` recache, `N`
 * vivify, `me`), the stale-while-revalidate flow, quiet pipelines, data
 * blocks split across writes, stats counters, and every error line with its
 * literal text (checked against memcached 1.6.18 by meta_diff_test.ts).
 * @module
 */

import assert from "node:assert/strict";
import { manualClock } from "../mod.ts";
import {
  type Io,
  ioTest,
  type Raw,
  raw,
  settle,
  withServer,
} from "./_helpers.ts";

/** Sends `text` plus an `mn` marker and returns the replies before `MN`. */
async function talk(c: Raw, text: string): Promise<string> {
  await c.send(text + "mn\r\n");
  const out = await c.until("MN\r\n");
  assert.ok(out.endsWith("MN\r\n"), `no MN after ${JSON.stringify(out)}`);
  return out.slice(0, -4);
}

/** Runs `fn` with a server on a manual clock and one raw connection. */
async function session(
  io: Io,
  fn: (
    c: Raw,
    clock: ReturnType<typeof manualClock>,
    srv: { ctx: import("../lib/protocol/context.ts").Context },
  ) => Promise<void>,
) {
  const clock = manualClock();
  await withServer({ clock, io }, async (srv) => {
    const c = await raw(srv.port);
    try {
      await fn(c, clock, srv);
    } finally {
      c.close();
      await settle();
    }
  });
}

ioTest("meta: TTLs on a manual clock (T, t, ms T, expiry)", async (io) => {
  await session(io, async (c, clock) => {
    assert.equal(
      await talk(c, "ms k 2 T100\r\nhi\r\nmg k t v\r\n"),
      "HD\r\nVA 2 t100\r\nhi\r\n",
    );
    clock.advance(30);
    assert.equal(await talk(c, "mg k t\r\n"), "HD t70\r\n");
    // T applies where it stands: before t shows the new TTL, after it the old.
    assert.equal(
      await talk(c, "mg k t T500\r\nmg k T200 t\r\n"),
      "HD t70\r\nHD t200\r\n",
    );
    assert.equal(
      await talk(c, "mg k T0 t\r\nmg k t\r\n"),
      "HD t-1\r\nHD t-1\r\n",
    );
    assert.equal(await talk(c, "mg k T10\r\n"), "HD\r\n");
    clock.advance(10);
    assert.equal(await talk(c, "mg k v\r\n"), "EN\r\n");
    // An expiry in the past wraps like memcached's unsigned relative time
    // (2^32 + 1 - seconds since its start, which it backdates by 62 s).
    assert.equal(
      await talk(c, "ms k 1\r\na\r\nmg k T-1 t\r\nmg k\r\n"),
      "HD\r\nHD t4294967195\r\nEN\r\n",
    );
  });
});

ioTest("meta: last access and hit flags (l, h, u) and me", async (io) => {
  await session(io, async (c, clock) => {
    assert.equal(
      await talk(c, "ms k 3 T100\r\nabc\r\nms u 1\r\nx\r\n"),
      "HD\r\nHD\r\n",
    );
    clock.advance(5);
    // h and l report the state from before this fetch; the fetch marks it.
    assert.equal(await talk(c, "mg k l h\r\n"), "HD l5 h0\r\n");
    assert.equal(await talk(c, "mg k h\r\n"), "HD h1\r\n");
    // u fetches without marking the item fetched or bumping it.
    assert.equal(
      await talk(c, "mg u u v\r\nmg u h l u\r\n"),
      "VA 1\r\nx\r\nHD h0 l5\r\n",
    );
    assert.match(
      await talk(c, "me u\r\n"),
      /^ME u exp=-1 la=5 cas=2 fetch=no cls=\d+ size=61\r\n$/,
    );
    clock.advance(7);
    const me = await talk(c, "me k\r\n");
    assert.match(
      me,
      /^ME k exp=-88 la=\d+ cas=1 fetch=yes cls=\d+ size=63\r\n$/,
    );
    assert.equal(await talk(c, "me nope\r\n"), "EN\r\n");
  });
});

ioTest("meta: R recache hands out one win below the TTL", async (io) => {
  await session(io, async (c, clock) => {
    assert.equal(
      await talk(c, "ms k 2 T100\r\nhi\r\nmg k R30 v\r\n"),
      "HD\r\nVA 2\r\nhi\r\n",
    );
    clock.advance(75);
    assert.equal(
      await talk(c, "mg k R30 t\r\nmg k R30 t\r\n"),
      "HD t25 W\r\nHD t25 Z\r\n",
    );
    // A fresh value clears the token.
    assert.equal(
      await talk(c, "ms k 2 T100\r\nyo\r\nmg k R30\r\n"),
      "HD\r\nHD\r\n",
    );
  });
});

ioTest("meta: N vivify on miss, with its own TTL", async (io) => {
  await session(io, async (c, clock) => {
    assert.equal(await talk(c, "mg k N30 v t\r\n"), "VA 0 t30 W\r\n\r\n");
    assert.equal(await talk(c, "mg k N30 v t\r\n"), "VA 0 t30 Z\r\n\r\n");
    clock.advance(31);
    assert.equal(
      await talk(c, "mg k v\r\nmg k N30 c\r\n"),
      "EN\r\nHD c2 W\r\n",
    );
    assert.equal(
      await talk(c, "ms k 3\r\nnew\r\nmg k v N30\r\n"),
      "HD\r\nVA 3\r\nnew\r\n",
    );
    // ma N creates the number J with the N TTL.
    assert.equal(await talk(c, "ma n N50 J7 v t\r\n"), "VA 1 t50\r\n7\r\n");
    clock.advance(51);
    assert.equal(await talk(c, "ma n\r\n"), "NF\r\n");
  });
});

ioTest(
  "meta: stale-while-revalidate (md I, mg X W then Z X, ms clears)",
  async (io) => {
    await session(io, async (c, clock) => {
      assert.equal(await talk(c, "ms k 3 T100 c\r\nold\r\n"), "HD c1\r\n");
      assert.equal(await talk(c, "md k I T30 q\r\n"), "");
      assert.equal(
        await talk(c, "mg k v c t\r\n"),
        "VA 3 c2 t30 X W\r\nold\r\n",
      );
      assert.equal(
        await talk(c, "mg k v\r\nmg k\r\n"),
        "VA 3 Z X\r\nold\r\nHD Z X\r\n",
      );
      // A writer with the pre-invalidation cas stores, but the item stays stale.
      assert.equal(
        await talk(c, "ms k 3 I C1\r\nmid\r\nmg k v t\r\n"),
        "HD\r\nVA 3 t30 Z X\r\nmid\r\n",
      );
      clock.advance(5);
      assert.equal(
        await talk(c, "ms k 3 T100\r\nnew\r\nmg k v c\r\n"),
        "HD\r\nVA 3 c4\r\nnew\r\n",
      );
      // Invalidating again re-opens the race for one winner.
      assert.equal(
        await talk(c, "md k I\r\nmg k\r\nmg k\r\n"),
        "HD\r\nHD X W\r\nHD Z X\r\n",
      );
      assert.equal(
        await talk(c, "md k C1\r\nmd k\r\nmg k\r\n"),
        "EX\r\nHD\r\nEN\r\n",
      );
    });
  },
);

ioTest("meta: quiet pipeline of 100 mg q + mn in one write", async (io) => {
  await session(io, async (c, _clock, srv) => {
    assert.equal(await talk(c, "ms hit 1\r\nx\r\n"), "HD\r\n");
    const lines = Array.from({ length: 100 }, (_, i) => `mg miss${i} q v k\r\n`)
      .join("");
    assert.equal(await talk(c, lines), "");
    const mixed = Array.from(
      { length: 100 },
      (_, i) => i === 50 ? "mg hit q v\r\n" : `mg m${i} q\r\n`,
    );
    assert.equal(await talk(c, mixed.join("")), "VA 1\r\nx\r\n");
    assert.equal(
      await talk(c, "ms q1 1 q\r\na\r\nmd q1 q\r\nmd q1 q\r\nma q2 q\r\n"),
      "NF\r\nNF\r\n",
    );
    assert.equal(srv.ctx.counters.get_misses, 199);
  });
});

ioTest(
  "meta: ms data block split across writes, base64 key decoded once",
  async (io) => {
    await session(io, async (c) => {
      await c.send("ms Zm9v 5 b c k");
      await settle(30);
      await c.send("\r\nhel");
      await settle(30);
      assert.equal(
        await talk(c, "lo\r\nmg foo v k\r\nget foo\r\n"),
        "HD c1 kZm9v b\r\nVA 5 kZm9v b\r\nhello\r\nVALUE foo 0 5\r\nhello\r\nEND\r\n",
      );
      // An error swallows the data block even when it arrives later.
      await c.send("ms k 4 x\r\nda");
      await settle(30);
      assert.equal(
        await talk(c, "ta\r\nmg k\r\n"),
        "CLIENT_ERROR invalid flag\r\nEN\r\n",
      );
    });
  },
);

ioTest("meta: stats counters move as memcached's do", async (io) => {
  await session(io, async (c, _clock, srv) => {
    await talk(
      c,
      "ms a 1\r\n1\r\nmg a\r\nmg b\r\nmg a T10\r\nmd a I\r\nmd a\r\nmd a\r\n",
    );
    await talk(
      c,
      "ma x\r\nma x MD\r\nma x N0\r\nma x\r\nma x MD\r\nme x\r\nme y\r\n",
    );
    await talk(c, "ms c 1 C5\r\nz\r\nms x 1 C1\r\nz\r\n");
    await talk(c, `ms a 1048577 q\r\n${"x".repeat(1048577)}\r\n`);
    // Read after the commands: with -t N it is the sum over the loops then.
    const n = srv.ctx.counters;
    assert.deepEqual(
      {
        get: [n.cmd_get, n.get_hits, n.get_misses],
        touch: [n.cmd_touch, n.touch_hits, n.touch_misses],
        del: [n.delete_hits, n.delete_misses],
        incr: [n.incr_hits, n.incr_misses, n.decr_hits, n.decr_misses],
        set: [n.cmd_set, n.cas_misses, n.cas_badval, n.store_too_large],
        meta: n.cmd_meta,
      },
      {
        get: [2, 1, 1],
        touch: [1, 1, 0],
        del: [1, 1],
        incr: [1, 1, 1, 1],
        set: [3, 1, 1, 1],
        meta: 2,
      },
    );
  });
});

/** Error lines with their literal text, as memcached 1.6.18 sends them. */
const ERRORS: [string, string][] = [
  ["mg\r\n", "ERROR"],
  ["mz k\r\n", "ERROR"],
  ["mg k v v\r\n", "CLIENT_ERROR duplicate flag"],
  ["mg k \xff\r\n", "CLIENT_ERROR duplicate flag"],
  ["mg k x\r\n", "CLIENT_ERROR invalid flag"],
  ["md k x\r\n", "CLIENT_ERROR invalid or duplicate flag"],
  ["ma k v v\r\n", "CLIENT_ERROR invalid or duplicate flag"],
  ["mg k Tx\r\n", "CLIENT_ERROR bad token in command line format"],
  ["mg k N\r\n", "CLIENT_ERROR bad token in command line format"],
  ["mg k C-1\r\n", "CLIENT_ERROR bad token in command line format"],
  ["mg k Fx\r\n", "CLIENT_ERROR bad command line format"],
  [`mg k O${"o".repeat(32)}\r\n`, "CLIENT_ERROR opaque token too long"],
  [`mg k ${"v ".repeat(18)}\r\n`, "CLIENT_ERROR options flags are too long"],
  [`ms k 1 ${"v ".repeat(17)}\r\n`, "CLIENT_ERROR options flags too long"],
  [`md k ${"v ".repeat(18)}\r\n`, "CLIENT_ERROR options flags too long"],
  ["mg !!!! b\r\n", "CLIENT_ERROR error decoding key"],
  ["mg k Mxy\r\n", "CLIENT_ERROR incorrect length for M token"],
  ["ms k 1 MX\r\nz\r\n", "CLIENT_ERROR invalid mode for ms M token"],
  ["ma k MX\r\n", "CLIENT_ERROR invalid mode for ma M token"],
  ["mg k J-1\r\n", "CLIENT_ERROR invalid numeric initial value"],
  ["mg k Dx\r\n", "CLIENT_ERROR invalid numeric delta value"],
  [`mg ${"k".repeat(251)}\r\n`, "CLIENT_ERROR bad command line format"],
  ["ms k\r\n", "CLIENT_ERROR bad command line format"],
  ["ms k 1 q\r\nxyz", "CLIENT_ERROR bad data chunk"],
  [
    "ms k 1048576\r\n" + "x".repeat(1048576) + "\r\n",
    "SERVER_ERROR object too large for cache",
  ],
  ["me\r\n", "CLIENT_ERROR bad command line format"],
  [
    "ms n 1\r\nx\r\nma n q\r\n",
    "CLIENT_ERROR cannot increment or decrement non-numeric value",
  ],
];

ioTest("meta: every error line, and q never hides an error", async (io) => {
  await session(io, async (c) => {
    for (const [script, err] of ERRORS) {
      const out = await talk(c, script);
      assert.ok(
        out.endsWith(err + "\r\n"),
        `${JSON.stringify(script.slice(0, 60))} → ${JSON.stringify(out)}`,
      );
      // The same line with q still gets the error.
      const first = script.slice(0, script.indexOf("\r\n"));
      if (
        first.split(" ").length < 2 || first.includes(" q") ||
        first.startsWith("me")
      ) continue;
      const quiet = script.replace("\r\n", " q\r\n");
      const q = await talk(c, quiet);
      assert.ok(
        q.endsWith(err + "\r\n"),
        `${JSON.stringify(quiet.slice(0, 60))} → ${JSON.stringify(q)}`,
      );
    }
  });
});

ioTest("meta: classic and meta commands share one store", async (io) => {
  await session(io, async (c) => {
    assert.equal(
      await talk(
        c,
        "ms k 3 F9 T0\r\nabc\r\nget k\r\nset s 4 0 2\r\nhi\r\nmg s f v s\r\nincr n 1\r\nma n N0 J41\r\nincr n 1\r\ndelete k\r\nmg k\r\n",
      ),
      "HD\r\nVALUE k 9 3\r\nabc\r\nEND\r\nSTORED\r\nVA 2 f4 s2\r\nhi\r\nNOT_FOUND\r\nHD\r\n42\r\nDELETED\r\nEN\r\n",
    );
  });
});
