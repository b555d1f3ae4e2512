/**
 * Worker for tests/loop_stall_test.ts: the admin client and the victim
 * client run here, on their own thread, so reading a 2 MB reply or timing
 * pings costs the server's event loop nothing and the loop-gap probe in the
 * test's thread sees only the server's own work.
 *
 * Messages in: `{ op: "open", port }`, `{ op: "cmd", cmd, until, settle }`
 * (send an admin command, read up to `until`, wait `settle` ms),
 * `{ op: "begin" }` / `{ op: "end" }` (time the victim around work the test
 * runs itself), `{ op: "close" }`. Each is answered by one message.
 * @module
 */

/// <reference lib="deno.worker" />

const enc = new TextEncoder();
const PING = enc.encode("get victim\r\n");
const HIT = "VALUE victim 7 6\r\nintact\r\nEND\r\n";
const MISS = "END\r\n";

let admin: Deno.Conn;
let vic: Deno.Conn;
let rtts: number[] = [];
let bad = "";
let misses = 0;
let running = false;
let pinging: Promise<void> = Promise.resolve();

async function writeAll(c: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let off = 0; off < b.length;) off += await c.write(b.subarray(off));
}

/** Reads from `c` until the bytes read end with `suffix`; all of them. */
async function readUntil(c: Deno.Conn, suffix: string): Promise<Uint8Array> {
  const sfx = enc.encode(suffix);
  let buf = new Uint8Array(64 * 1024);
  let len = 0;
  for (;;) {
    if (len === buf.length) {
      const b = new Uint8Array(buf.length * 2);
      b.set(buf);
      buf = b;
    }
    const n = await c.read(buf.subarray(len));
    if (n === null) throw new Error(`eof after ${len} bytes`);
    len += n;
    if (len >= sfx.length) {
      let ok = true;
      for (let i = 0; i < sfx.length && ok; i++) {
        ok = buf[len - sfx.length + i] === sfx[i];
      }
      if (ok) return buf.subarray(0, len);
    }
  }
}

async function pingLoop(): Promise<void> {
  const dec = new TextDecoder();
  while (running) {
    const t = performance.now();
    await writeAll(vic, PING);
    const got = dec.decode(await readUntil(vic, "END\r\n"));
    rtts.push(performance.now() - t);
    if (got === MISS) misses++;
    else if (got !== HIT) bad = got;
    await new Promise((r) => setTimeout(r, 1));
  }
}

function begin(): void {
  rtts = [];
  misses = 0;
  running = true;
  pinging = pingLoop();
}

async function end(): Promise<
  { worst: number; p99: number; n: number; misses: number }
> {
  running = false;
  await pinging;
  if (bad !== "") throw new Error(`victim read ${JSON.stringify(bad)}`);
  const s = rtts.slice().sort((a, b) => a - b);
  return {
    worst: s[s.length - 1] ?? 0,
    p99: s[Math.floor(s.length * 0.99)] ?? 0,
    n: s.length,
    misses,
  };
}

self.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.op === "open") {
      admin = await Deno.connect({ hostname: "127.0.0.1", port: m.port });
      vic = await Deno.connect({ hostname: "127.0.0.1", port: m.port });
      self.postMessage({ ok: true });
    } else if (m.op === "cmd") {
      begin();
      await new Promise((r) => setTimeout(r, 20));
      const t = performance.now();
      await writeAll(admin, enc.encode(m.cmd));
      const got = await readUntil(admin, m.until);
      const took = performance.now() - t;
      await new Promise((r) => setTimeout(r, m.settle));
      const v = await end();
      const text = got.length < 4096 ? new TextDecoder().decode(got) : "";
      self.postMessage({ ok: true, took, bytes: got.length, text, ...v });
    } else if (m.op === "begin") {
      begin();
      self.postMessage({ ok: true });
    } else if (m.op === "end") {
      self.postMessage({ ok: true, ...(await end()) });
    } else if (m.op === "close") {
      admin.close();
      vic.close();
      self.postMessage({ ok: true });
    }
  } catch (err) {
    self.postMessage({ ok: false, error: String(err) });
  }
};
