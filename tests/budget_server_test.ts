/**
 * The connection memory budget through real sockets, on both transports: a
 * set larger than what is left is answered `SERVER_ERROR out of memory
 * storing object` (text), `SERVER_ERROR out of memory storing object`
 * (meta) or Enomem (binary) and its bytes swallowed, the connection then
 * goes on; `stats` reports the budget in memcached's rows; large values
 * sent by reference arrive byte for byte (text, meta, binary), and a value
 * rewritten while a slow client reads it is delivered whole, as queued.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, type Raw, raw, settle, skip } from "./_helpers.ts";
import { rng, spawnServer, stats } from "./_robust_helpers.ts";

const enc = new TextEncoder();

/** A seeded printable value of `n` bytes (latin1 string). */
function value(seed: number, n: number): string {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 97 + r.int(26);
  return new TextDecoder().decode(b);
}

ioTest("budget: a set past the budget is refused and swallowed", async (io) => {
  const srv = await spawnServer(["-m", "64", "-I", "8m", "--conn-memory=2"], {
    io,
  });
  if (!srv) return void skip("cannot start server");
  let c: Raw | null = null;
  try {
    c = await raw(srv.port);
    await c.send("set k 0 0 5\r\nhello\r\n");
    assert.equal(await c.until("\r\n"), "STORED\r\n");
    // 3 MB does not fit a 2 MB budget: refused at once, old value dropped.
    const big = "x".repeat(3_000_000);
    await c.send(`set k 0 0 ${big.length}\r\n`);
    assert.equal(
      await c.until("\r\n"),
      "SERVER_ERROR out of memory storing object\r\n",
    );
    await c.send(big + "\r\nget k\r\n");
    assert.equal(await c.until("END\r\n", 10_000), "END\r\n");
    await c.send(`ms m ${big.length} T0\r\n`);
    assert.equal(
      await c.until("\r\n"),
      "SERVER_ERROR out of memory storing object\r\n",
    );
    await c.send(big + "\r\nmn\r\n");
    assert.equal(await c.until("MN\r\n", 10_000), "MN\r\n");
    // 1 MB fits: stored, and read back.
    const mid = value(1, 1_000_000);
    await c.send(`set m 1 0 ${mid.length}\r\n${mid}\r\nget m\r\n`);
    assert.equal(
      await c.until("END\r\n", 10_000),
      `STORED\r\nVALUE m 1 ${mid.length}\r\n${mid}\r\nEND\r\n`,
    );
    const st = await stats(srv.port);
    assert.equal(st.get("store_no_memory"), "2");
    assert.ok(Number(st.get("read_buf_oom")) >= 2);
    assert.ok(Number(st.get("read_buf_bytes_free")) <= 2 * 1024 * 1024);
    assert.equal(
      (await stats(srv.port, "settings")).get("read_buf_mem_limit"),
      "2",
    );
  } finally {
    c?.close();
    await settle();
    await srv.stop();
  }
});

ioTest("budget: binary set past the budget gets Enomem", async (io) => {
  const srv = await spawnServer(
    ["-m", "64", "-I", "8m", "-o", "conn_memory=2"],
    {
      io,
    },
  );
  if (!srv) return void skip("cannot start server");
  const conn = await Deno.connect({ port: srv.port, hostname: "127.0.0.1" });
  try {
    const vlen = 3_000_000;
    const h = new Uint8Array(24 + 8 + 1);
    const v = new DataView(h.buffer);
    h[0] = 0x80;
    h[1] = 0x01; // Set
    v.setUint16(2, 1); // key length
    h[4] = 8; // extras
    v.setUint32(8, 8 + 1 + vlen);
    h[32] = 107; // "k"
    await conn.write(h);
    const r = new Uint8Array(24 + 13);
    let got = 0;
    while (got < 24) got += (await conn.read(r.subarray(got))) ?? 24;
    assert.equal(r[0], 0x81);
    assert.equal(new DataView(r.buffer).getUint16(6), 0x82);
    // The value's bytes are swallowed: a noop after it is answered.
    const body = new Uint8Array(vlen);
    let off = 0;
    while (off < vlen) off += await conn.write(body.subarray(off));
    const noop = new Uint8Array(24);
    noop[0] = 0x80;
    noop[1] = 0x0a;
    await conn.write(noop);
    const tail = new Uint8Array(4096);
    let seen = new Uint8Array(0);
    while (!seen.some((b, i) => b === 0x81 && seen[i + 1] === 0x0a)) {
      const n = await conn.read(tail);
      if (n === null) throw new Error("closed");
      seen = new Uint8Array([...seen, ...tail.subarray(0, n)]);
    }
  } finally {
    conn.close();
    await settle();
    await srv.stop();
  }
});

ioTest("budget: large values by reference arrive intact", async (io) => {
  const srv = await spawnServer(["-m", "256", "-I", "16m"], { io });
  if (!srv) return void skip("cannot start server");
  let c: Raw | null = null;
  try {
    c = await raw(srv.port);
    const v = value(7, 5_000_000);
    await c.send(`set big 3 0 ${v.length}\r\n${v}\r\n`);
    assert.equal(await c.until("\r\n", 10_000), "STORED\r\n");
    await c.send("set small 0 0 2\r\nhi\r\n");
    assert.equal(await c.until("\r\n"), "STORED\r\n");
    await c.send("get big small big\r\n");
    assert.equal(
      await c.until("END\r\n", 20_000),
      `VALUE big 3 ${v.length}\r\n${v}\r\nVALUE small 0 2\r\nhi\r\n` +
        `VALUE big 3 ${v.length}\r\n${v}\r\nEND\r\n`,
    );
    await c.send("mg big v f\r\n");
    assert.equal(
      await c.until(`${v.slice(-10)}\r\n`, 20_000),
      `VA ${v.length} f3\r\n${v}\r\n`,
    );
  } finally {
    c?.close();
    await settle();
    await srv.stop();
  }
});

ioTest(
  "budget: a value rewritten mid-send is delivered whole, as it was queued",
  async (io) => {
    const srv = await spawnServer(["-m", "256", "-I", "16m"], { io });
    if (!srv) return void skip("cannot start server");
    const reader = await Deno.connect({
      port: srv.port,
      hostname: "127.0.0.1",
    });
    let w: Raw | null = null;
    try {
      w = await raw(srv.port);
      const n = 8_000_000;
      const a = "a".repeat(n);
      const b = "b".repeat(n);
      await w.send(`set v 0 0 ${n}\r\n${a}\r\n`);
      assert.equal(await w.until("\r\n", 10_000), "STORED\r\n");
      await reader.write(enc.encode("get v\r\n"));
      await settle(200); // the reply is queued; the reader reads nothing yet
      await w.send(`set v 0 0 ${n}\r\n${b}\r\n`); // same class: in place
      assert.equal(await w.until("\r\n", 10_000), "STORED\r\n");
      const buf = new Uint8Array(1 << 20);
      const parts: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const k = await reader.read(buf).catch(() => null);
        if (k === null) break;
        parts.push(buf.slice(0, k));
        total += k;
        if (total >= `VALUE v 0 ${n}\r\n`.length + n + 7) break; // + END
      }
      const all = new Uint8Array(total);
      let off = 0;
      for (const p of parts) {
        all.set(p, off);
        off += p.length;
      }
      const text = new TextDecoder().decode(all);
      const head = `VALUE v 0 ${n}\r\n`;
      const body = text.slice(head.length, head.length + n);
      // The reply holds the value it was queued with (memcached's item
      // reference): delivered whole, all of the old value.
      assert.ok(text.endsWith("\r\nEND\r\n"), `cut after ${total} bytes`);
      assert.ok(body === a, "the reply is not the value it was queued with");
      await w.send("mg v s\r\n");
      assert.equal(await w.until("\r\n"), `HD s${n}\r\n`);
    } finally {
      reader.close();
      w?.close();
      await settle();
      await srv.stop();
    }
  },
);

ioTest(
  "budget: a line past the budget stops reads until memory frees",
  async (io) => {
    const srv = await spawnServer(
      ["-m", "64", "-I", "4m", "--conn-memory=1"],
      { io },
    );
    if (!srv) return void skip("cannot start server");
    let a: Raw | null = null;
    let b: Raw | null = null;
    try {
      // a: a 900 KB value, half sent, is granted its room and holds it.
      a = await raw(srv.port);
      const v = value(3, 900_000);
      await a.send(`set a 0 0 ${v.length}\r\n${v.slice(0, 450_000)}`);
      await settle(200);
      // b: a 300 KB get line needs more than is left: b's reads stop.
      b = await raw(srv.port);
      const keys = Array.from({ length: 40_000 }, (_, i) => `k${i}`).join(" ");
      const line = `get ${keys} a\r\n`;
      assert.ok(line.length > 200_000);
      const sending = b.send(line);
      assert.equal(await b.drain(500), "", "b is not answered while a holds");
      // a completes: its buffer returns, b resumes and is answered.
      await a.send(`${v.slice(450_000)}\r\n`);
      assert.equal(await a.until("\r\n", 10_000), "STORED\r\n");
      await sending;
      const got = await b.until("END\r\n", 10_000);
      assert.equal(got, `VALUE a 0 ${v.length}\r\n${v}\r\nEND\r\n`);
    } finally {
      a?.close();
      b?.close();
      await settle();
      await srv.stop();
    }
  },
);

ioTest(
  "budget: a half-sent set holding the budget is closed when it stays spent",
  async (io) => {
    const srv = await spawnServer(
      ["-m", "64", "-I", "4m", "--conn-memory=2"],
      { io },
    );
    if (!srv) return void skip("cannot start server");
    let a: Raw | null = null;
    let b: Raw | null = null;
    try {
      a = await raw(srv.port);
      const n = 2_030_000;
      await a.send(`set a 0 0 ${n}\r\n${"x".repeat(1000)}`);
      await settle(300);
      b = await raw(srv.port);
      await b.send(`set b 0 0 ${n}\r\n`);
      assert.equal(
        await b.until("\r\n"),
        "SERVER_ERROR out of memory storing object\r\n",
      );
      await b.send("x".repeat(n) + "\r\n");
      // Spent for 5 s with a sending nothing: a is closed.
      assert.ok(await a.closed(10_000), "the offender is closed");
      await b.send(`set b 0 0 ${n}\r\n${"y".repeat(n)}\r\n`);
      assert.equal(await b.until("\r\n", 10_000), "STORED\r\n");
      const st = await stats(srv.port);
      assert.equal(st.get("response_obj_oom"), "1");
    } finally {
      a?.close();
      b?.close();
      await settle();
      await srv.stop();
    }
  },
);
