/**
 * Client-side scale-out with a real ketama client, `npm:memcached`. Run as
 * its own process (the library assigns `__proto__`, which Deno allows only
 * with `--unsafe-proto`):
 *
 *   deno run --allow-net --unsafe-proto tests/_ketama_client.ts N host:port…
 *
 * It stores keys `user:0`…`user:N-1` through the client, reads them back
 * one by one and with one getMulti, and prints a {@link KetamaReport} as
 * JSON on stdout. `tests/scaleout_test.ts` then asks each server directly.
 * @module
 */

// Test-only npm packages, pinned inline (not in deno.json, so they stay out
// of the published package's dependencies).
// deno-lint-ignore-file no-import-prefix
// @ts-types="npm:@types/memcached@2.2.10"
import Memcached from "npm:memcached@2.2.2";
import HashRingImpl from "npm:hashring@3.2.0";

/** What the client did, for the test to check against the servers. */
export interface KetamaReport {
  /** key → "host:port" the client's ring chose. */
  placement: Record<string, string>;
  /** Keys that came back with the value that was stored. */
  found: number;
  /** Keys that a fourth server would take over. */
  moved: number;
  /** Keys that a fourth server would move between the old ones (should be 0). */
  movedElsewhere: number;
}

interface Ring {
  get(key: string): string;
}

/**
 * The key → server function of `npm:memcached` (hashring with md5 and
 * ketama compatibility, as the client builds it), without connecting.
 */
export function ketamaRing(servers: string[]): (key: string) => string {
  const Ctor = HashRingImpl as unknown as new (
    servers: string[],
    algorithm: string,
    opts: Record<string, unknown>,
  ) => Ring;
  const ring = new Ctor(servers, "md5", {
    compatibility: "ketama",
    "default port": 11211,
  });
  return (key) => ring.get(key);
}

function call<T>(f: (cb: (err: unknown, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    f((err, v) => (err ? reject(err) : resolve(v)))
  );
}

async function main(n: number, servers: string[]): Promise<KetamaReport> {
  const key = (i: number) => `user:${i}`;
  const value = (i: number) => `v${i}-${"x".repeat(i % 50)}`;
  const mc = new Memcached(servers, { retries: 0, timeout: 5000, poolSize: 2 });
  try {
    for (let i = 0; i < n; i++) {
      const ok = await call<boolean>((cb) => mc.set(key(i), value(i), 0, cb));
      if (!ok) throw new Error(`set ${key(i)} failed`);
    }
    if ((await call<unknown>((cb) => mc.get(key(3), cb))) !== value(3)) {
      throw new Error("get user:3 returned the wrong value");
    }
    const keys = Array.from({ length: n }, (_, i) => key(i));
    const got = await call<Record<string, unknown>>((cb) =>
      mc.getMulti(keys, cb)
    );
    const ring = (mc as unknown as { HashRing: Ring }).HashRing;
    const grown = ketamaRing([...servers, "127.0.0.1:1"]);
    const report: KetamaReport = {
      placement: {},
      found: 0,
      moved: 0,
      movedElsewhere: 0,
    };
    for (let i = 0; i < n; i++) {
      if (got[key(i)] === value(i)) report.found++;
      const at = ring.get(key(i));
      report.placement[key(i)] = at;
      const after = grown(key(i));
      if (after === "127.0.0.1:1") report.moved++;
      else if (after !== at) report.movedElsewhere++;
    }
    return report;
  } finally {
    mc.end();
  }
}

if (import.meta.main) {
  const [n, ...servers] = Deno.args;
  const report = await main(Number(n), servers);
  console.log(JSON.stringify(report));
  // The client keeps idle timers; we are done.
  Deno.exit(0);
}
