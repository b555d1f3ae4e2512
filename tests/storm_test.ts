/**
 * Handshake and slowloris storms must not take the loop from others: a
 * plain victim client pings its own keys while (1) bursts of concurrent TLS
 * handshakes and (2) hundreds of connections trickling one byte of a
 * command at a time hit the server, on each transport, with memcached -Z
 * beside it in the same run. Its keys must stay intact; its p99 and worst
 * latency and the server's RSS before and after are printed, and only a
 * stall of seconds fails the test.
 *
 * `DENOCACHED_STORM_TLS` (default 200), `DENOCACHED_STORM_SLOW` (500),
 * `DENOCACHED_STORM_MS` (slowloris duration, 3000) change the load;
 * `DENOCACHED_STORM_MC_THREADS` memcached's `-t` (1).
 * @module
 */

import assert from "node:assert/strict";
import {
  freePort,
  ioFlags,
  ioTest,
  skip,
  spawnListening,
  which,
} from "./_helpers.ts";
import { DENO, MAIN, spawnServer } from "./_proc.ts";
import { makePki } from "./_pki.ts";
import { cpuMs, rssMb } from "./_robust_helpers.ts";
import { defaultConfig } from "../lib/config.ts";
import { createContext } from "../lib/server/context.ts";
import { createCore, type Transport } from "../lib/server/core.ts";

const TLS_N = Number(Deno.env.get("DENOCACHED_STORM_TLS") ?? 200);
const SLOW_N = Number(Deno.env.get("DENOCACHED_STORM_SLOW") ?? 500);
const SLOW_MS = Number(Deno.env.get("DENOCACHED_STORM_MS") ?? 3000);
const TLS_ROUNDS = 3;
/** memcached's worker threads (`-t`); 1 matches our one event loop. */
const MC_THREADS = Deno.env.get("DENOCACHED_STORM_MC_THREADS") ?? "1";
/** A stall of seconds, never noise. */
const STALL_MS = 3000;
const KEYS = 32;

/** Seeded values (xorshift), so a failure is reproducible. */
function values(seed: number): string[] {
  let x = seed;
  return Array.from({ length: KEYS }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return `v${(x >>> 0).toString(36)}`;
  });
}

/** The victim: a plain connection that sets its keys, then gets them in turn. */
async function victim(port: number, vals: string[]) {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const buf = new Uint8Array(4096);
  const ask = async (cmd: string, end: string): Promise<string> => {
    await c.write(enc.encode(cmd));
    let got = "";
    while (!got.endsWith(end)) {
      const n = await c.read(buf);
      if (n === null) throw new Error("victim: server closed");
      got += dec.decode(buf.subarray(0, n));
    }
    return got;
  };
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    assert.equal(
      await ask(`set vk${i} ${i} 0 ${v.length}\r\n${v}\r\n`, "\r\n"),
      "STORED\r\n",
    );
  }
  /** Pings until `until` settles; latencies in ms, keys checked. */
  const during = async (until: Promise<unknown>) => {
    let done = false;
    until.finally(() => (done = true));
    const rtt: number[] = [];
    for (let i = 0; !done; i++) {
      const k = i % vals.length;
      const t = performance.now();
      const got = await ask(`get vk${k}\r\n`, "END\r\n");
      rtt.push(performance.now() - t);
      const v = vals[k];
      assert.equal(got, `VALUE vk${k} ${k} ${v.length}\r\n${v}\r\nEND\r\n`);
      await new Promise((r) => setTimeout(r, 5));
    }
    rtt.sort((a, b) => a - b);
    return {
      p99: rtt[Math.floor(rtt.length * 0.99)] ?? 0,
      max: rtt[rtt.length - 1] ?? 0,
      n: rtt.length,
    };
  };
  return { during, close: () => c.close() };
}

/** Runs the storm in a worker; resolves when it is over. */
function storm(msg: Record<string, unknown>): Promise<{ ok: number }> {
  const w = new Worker(new URL("./_storm_worker.ts", import.meta.url).href, {
    type: "module",
  });
  return new Promise<{ ok: number }>((resolve) => {
    w.onmessage = (e) => resolve(e.data);
    w.postMessage(msg);
  }).finally(() => w.terminate());
}

/** Both storms against one server; one report line. */
async function measure(
  label: string,
  pid: number,
  port: number,
  tlsPort: number,
  ca: string,
): Promise<string> {
  const vals = values(label.length * 7919 + 17);
  const v = await victim(port, vals);
  try {
    const rss0 = rssMb(pid);
    const cpu0 = cpuMs(pid);
    const t = await v.during(
      storm({ kind: "tls", port: tlsPort, ca, n: TLS_N, rounds: TLS_ROUNDS }),
    );
    const rss1 = rssMb(pid);
    const cpu1 = cpuMs(pid);
    const s = await v.during(
      storm({ kind: "slowloris", port, n: SLOW_N, ms: SLOW_MS, dripMs: 100 }),
    );
    const rss2 = rssMb(pid);
    const cpu2 = cpuMs(pid);
    const line = `${label}: ${TLS_ROUNDS}x${TLS_N} TLS handshakes: victim ` +
      `p99 ${t.p99.toFixed(1)} ms, max ${t.max.toFixed(1)} ms (${t.n}), ` +
      `server CPU ${cpu1 - cpu0} ms; ` +
      `${SLOW_N} slowloris: p99 ${s.p99.toFixed(1)} ms, max ${
        s.max.toFixed(1)
      } ms (${s.n}), server CPU ${cpu2 - cpu1} ms; ` +
      `RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} -> ${rss2.toFixed(0)} MB`;
    assert.ok(t.max < STALL_MS && s.max < STALL_MS, line);
    assert.ok(t.n > 0 && s.n > 0, line);
    return line;
  } finally {
    v.close();
  }
}

ioTest("storms: TLS handshakes and slowloris beside memcached", async (io) => {
  const made = await makePki();
  if (made === null) return;
  const pki = {
    ...made,
    opt: `ssl_chain_cert=${made.certFile},ssl_key=${made.keyFile}`,
  };
  const lines: string[] = [];
  try {
    const port = freePort();
    const tport = freePort();
    const ours = await spawnServer(DENO, [
      "run",
      "-A",
      MAIN,
      "-p",
      String(port),
      ...ioFlags(io),
      "-c",
      "4096",
      "-Z",
      "-o",
      `${pki.opt},ssl_port=${tport}`,
    ], port); // deno-fmt-ignore
    try {
      lines.push(
        await measure(`ours ${ioFlags(io).join(" ")}`, ours.child.pid, port, tport, pki.ca),
      );
    } finally {
      await ours.stop();
    }
    const bin = which("memcached");
    if (bin) {
      const mp = freePort();
      const mt = freePort();
      const mc = await spawnListening(bin, [
        "-p",
        String(mt),
        "-U",
        "0",
        "-t",
        "1",
        "-u",
        "root",
        "-c",
        "4096",
        "-l",
        `127.0.0.1:${mt}`,
        "-l",
        `notls:127.0.0.1:${mp}`,
        "-Z",
        "-o",
        pki.opt,
      ], mp); // deno-fmt-ignore
      try {
        lines.push(
          await measure(`memcached -t ${MC_THREADS}`, mc.child.pid, mp, mt, pki.ca),
        );
      } finally {
        await mc.stop();
      }
    } else skip("memcached not installed");
  } finally {
    console.log(lines.join("\n"));
    await Deno.remove(pki.dir, { recursive: true });
  }
});

/** Replies (and whether it closed) for `input` fed to a fresh core in pieces of `step` bytes. */
function playCore(input: Uint8Array, step: number): [string, boolean] {
  const ctx = createContext(defaultConfig(), () => {});
  const core = createCore(ctx, { stopAccepting() {}, requestStop() {} });
  let out = "";
  let closed = false;
  const dec = new TextDecoder();
  const t: Transport = {
    send(buf, len) {
      out += dec.decode(buf.subarray(0, len));
      return true;
    },
    hold() {},
    close() {
      closed = true;
    },
  };
  const c = core.open(t, "tcp:test");
  for (let at = 0; at < input.length && !closed; at += step) {
    const piece = input.subarray(at, Math.min(input.length, at + step));
    const room = core.room(c);
    room.set(piece);
    core.received(c, piece.length);
  }
  return [out, closed];
}

Deno.test("slowloris fast path: a line trickled byte by byte gets the replies it gets whole", () => {
  const enc = new TextEncoder();
  const long = "x".repeat(3000);
  const cases = [
    "get a\r\nset k 0 0 5\r\nhello\r\nget k\r\nversion\r\n",
    "set j 0 0 2\r\nabXY\r\nget j\r\n", // a bad data chunk
    "set n 0 0 3 noreply\r\n\n\r\n\r\nget n\r\n", // newlines inside data
    `get ${long}\r\nversion\r\n`, // a get line past 2048 bytes
    "\x80", // binary, incomplete
  ];
  for (const text of cases) {
    const input = enc.encode(text);
    const whole = playCore(input, input.length);
    assert.deepEqual(playCore(input, 1), whole, JSON.stringify(text));
    assert.deepEqual(playCore(input, 7), whole, JSON.stringify(text));
  }
  // A junk line past 2048 bytes trickled in closes the connection (as
  // memcached does once its read buffer fills without a newline).
  assert.deepEqual(playCore(enc.encode(`${long}\r\nversion\r\n`), 1), [
    "",
    true,
  ]);
});
