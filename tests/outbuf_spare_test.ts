/**
 * The reply buffer's spare (lib/protocol/outbuf.ts): a reply that outgrows
 * a connection's own buffer borrows the one large buffer kept between
 * batches instead of growing a new one, and gives it back once sent.
 * @module
 */

import assert from "node:assert/strict";
import {
  createOutBuf,
  idleOut,
  OUT_BASE,
  putRange,
  reserve,
  shrink,
} from "../lib/protocol/outbuf.ts";

const big = new Uint8Array(300 * 1024).map((_, i) => i & 0xff);

Deno.test("a big reply borrows the spare and the connection keeps its own buffer", () => {
  const a = createOutBuf();
  const own = a.buf;
  putRange(a, big, 0, big.length);
  assert.ok(a.buf.length >= big.length);
  assert.deepEqual(a.buf.subarray(0, a.len), big);
  // Not yet sent: shrink leaves it alone.
  shrink(a);
  assert.equal(a.len, big.length);
  const grown = a.buf;
  a.len = 0; // sent
  shrink(a);
  assert.equal(a.buf, own, "back to its own 16 KiB buffer");
  assert.equal(a.home, null);

  // The next big reply, on another connection, gets that buffer: no growth.
  const b = createOutBuf();
  putRange(b, big, 0, 100);
  reserve(b, 200 * 1024);
  assert.equal(b.buf, grown);
  assert.deepEqual(b.buf.subarray(0, 100), big.subarray(0, 100));
  // While b holds it, a third connection grows a buffer of its own.
  const c = createOutBuf();
  reserve(c, 200 * 1024);
  assert.notEqual(c.buf, grown);
  b.len = 0;
  shrink(b);
  c.len = 0;
  shrink(c);
});

Deno.test("a buffer outgrown mid-batch is never handed to another reply", () => {
  const a = createOutBuf();
  reserve(a, 100 * 1024);
  const first = a.buf; // may be in a write in flight
  putRange(a, big, 0, big.length);
  putRange(a, big, 0, big.length);
  assert.notEqual(a.buf, first);
  const b = createOutBuf();
  reserve(b, 100 * 1024);
  assert.notEqual(b.buf, first);
  a.len = 0;
  shrink(a);
  b.len = 0;
  shrink(b);
  // The small buffers stay at most 64 KiB.
  const c = createOutBuf();
  reserve(c, 40 * 1024);
  c.len = 0;
  shrink(c);
  assert.ok(c.buf.length <= 64 * 1024);
});

Deno.test("an idle connection's reply buffer goes to the pool and comes back", () => {
  const a = createOutBuf(0);
  assert.equal(a.buf.length, 0, "no buffer until the first reply");
  putRange(a, big, 0, 10);
  const own = a.buf;
  assert.equal(own.length, OUT_BASE);
  a.len = 0; // sent
  idleOut(a);
  assert.equal(a.buf.length, 0, "idle: holds none");
  const b = createOutBuf(0);
  putRange(b, big, 0, 10);
  assert.equal(b.buf, own, "the next reply reuses it");
  assert.deepEqual(b.buf.subarray(0, 10), big.subarray(0, 10));
  // A buffer with bytes still pending stays where it is.
  idleOut(b);
  assert.equal(b.buf, own);
});
