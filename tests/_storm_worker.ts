/**
 * Worker for tests/storm_test.ts: the hostile clients run here, on their
 * own thread, so their TLS work and timers do not delay the victim client
 * that measures the server's latency in the test's thread.
 *
 * `{ kind: "tls", port, ca, n, rounds }`: `rounds` bursts of `n` concurrent
 * TLS handshakes (each connection closed once its handshake is done).
 * `{ kind: "slowloris", port, n, ms, dripMs }`: `n` connections, each
 * sending one byte of a `get` every `dripMs` for `ms` milliseconds.
 * Answers `{ done: true, ok, failed }`.
 * @module
 */

/// <reference lib="deno.worker" />

const CMD = new TextEncoder().encode(`get ${"s".repeat(200)}`);

async function tlsStorm(
  port: number,
  ca: string,
  n: number,
  rounds: number,
): Promise<[number, number]> {
  let ok = 0;
  let failed = 0;
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from({ length: n }, async () => {
        try {
          const c = await Deno.connectTls({
            hostname: "127.0.0.1",
            port,
            caCerts: [ca],
          });
          await c.handshake();
          ok++;
          c.close();
        } catch {
          failed++;
        }
      }),
    );
  }
  return [ok, failed];
}

async function slowloris(
  port: number,
  n: number,
  ms: number,
  dripMs: number,
): Promise<[number, number]> {
  const conns: Deno.Conn[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      failed++;
    }
  }
  const end = performance.now() + ms;
  let at = 0;
  while (performance.now() < end) {
    const b = CMD.subarray(at % CMD.length, at % CMD.length + 1);
    at++;
    await Promise.all(conns.map((c) => c.write(b).catch(() => failed++)));
    await new Promise((r) => setTimeout(r, dripMs));
  }
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed by the server */ }
  }
  return [conns.length, failed];
}

self.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  const [ok, failed] = m.kind === "tls"
    ? await tlsStorm(m.port, m.ca, m.n, m.rounds)
    : await slowloris(m.port, m.n, m.ms, m.dripMs);
  self.postMessage({ done: true, ok, failed });
};
