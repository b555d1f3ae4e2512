/**
 * Hostile HTTP clients of a metrics listener, run in a Worker so that
 * their own work does not share the event loop of the server and victim
 * they are tested against. Message `{ port }` starts them and is answered
 * `"started"`; `"stop"` ends them and is answered `{ scrapes }`.
 *
 * - tricklers: one byte of a request every 20 ms;
 * - never readers: ask for `/` and `/metrics`, never read the answers;
 * - a flood: 40 connections at once, again and again, past the limit;
 * - an eager scraper: `/metrics` and `/stats.json` back to back.
 * @module
 */

/// <reference lib="deno.worker" />

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stop = false;
const held: Deno.Conn[] = [];
const tasks: Promise<void>[] = [];
let scrapes = 0;

async function start(port: number): Promise<void> {
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port });
  for (let i = 0; i < 4; i++) {
    tasks.push((async () => {
      const req = enc.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      const h = await connect();
      held.push(h);
      for (let k = 0; !stop && k < req.length; k++) {
        await h.write(req.subarray(k, k + 1)).catch(() => 0);
        await sleep(20);
      }
    })());
  }
  for (let i = 0; i < 8; i++) {
    const h = await connect();
    held.push(h);
    await h.write(
      enc.encode(`GET ${i % 2 ? "/" : "/metrics"} HTTP/1.1\r\n\r\n`),
    );
  }
  tasks.push((async () => {
    while (!stop) {
      const batch = await Promise.all(
        Array.from({ length: 40 }, () => connect().catch(() => null)),
      );
      await sleep(5);
      for (const b of batch) b?.close();
    }
  })());
  tasks.push((async () => {
    while (!stop) {
      const path = scrapes % 2 ? "/stats.json" : "/metrics";
      const r = await fetch(`http://127.0.0.1:${port}${path}`).catch(() =>
        null
      );
      await r?.body?.cancel();
      scrapes++;
    }
  })());
}

self.onmessage = async (e: MessageEvent) => {
  if (e.data === "stop") {
    stop = true;
    await Promise.all(tasks);
    for (const h of held) {
      try {
        h.close();
      } catch { /* closed by the server's deadline */ }
    }
    self.postMessage({ scrapes });
    return;
  }
  await start(e.data.port);
  self.postMessage("started");
};
