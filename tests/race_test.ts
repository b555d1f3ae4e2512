/**
 * Races through real sockets: many clients at once on one key (incr, cas
 * loops, add, append), large values read while they are overwritten, and a
 * key space churned under a small `-m` with expiring items. Run on every
 * transport, `-t N` included, so clients land on different event loops:
 * every command must stay atomic per key there as in memcached.
 * @module
 */

import assert from "node:assert/strict";
import { ioTest, type Raw, raw, withServer } from "./_helpers.ts";

const CLIENTS = 8;

async function clients(port: number, n = CLIENTS): Promise<Raw[]> {
  return await Promise.all(Array.from({ length: n }, () => raw(port)));
}

function closeAll(cs: Raw[]): void {
  for (const c of cs) c.close();
}

/** Sends a pipelined script ended by `mn` and returns every reply before MN. */
async function script(
  c: Raw,
  text: string,
  timeoutMs = 20_000,
): Promise<string> {
  await c.send(text + "mn\r\n");
  const got = await c.until("MN\r\n", timeoutMs);
  assert.ok(got.endsWith("MN\r\n"), `no MN after: ${got.slice(-200)}`);
  return got.slice(0, -4);
}

async function value(port: number, key: string): Promise<string | null> {
  const c = await raw(port);
  try {
    const r = await script(c, `mg ${key} v\r\n`);
    if (r === "EN\r\n") return null;
    const m = /^VA (\d+)\r\n/.exec(r);
    assert.ok(m, r);
    return r.slice(m[0].length, m[0].length + Number(m[1]));
  } finally {
    c.close();
  }
}

ioTest(
  "race: incr from many clients on one key is exact, each value once",
  async (io) => {
    await withServer({ io }, async (s) => {
      const cs = await clients(s.port);
      try {
        await script(cs[0], "set n 0 0 1\r\n0\r\n");
        const N = 400;
        const replies = await Promise.all(
          cs.map((c) => script(c, "incr n 1\r\n".repeat(N))),
        );
        // Every increment returned a distinct value: together exactly 1..total.
        const seen = new Set<number>();
        for (const r of replies) {
          for (const line of r.split("\r\n").filter((l) => l !== "")) {
            const v = Number(line);
            assert.ok(
              v >= 1 && v <= CLIENTS * N && !seen.has(v),
              `incr gave ${line}`,
            );
            seen.add(v);
          }
        }
        assert.equal(seen.size, CLIENTS * N);
        assert.equal(await value(s.port, "n"), String(CLIENTS * N));
      } finally {
        closeAll(cs);
      }
    });
  },
);

ioTest(
  "race: add of one key from every client stores once per round",
  async (io) => {
    await withServer({ io }, async (s) => {
      const cs = await clients(s.port);
      try {
        const R = 200;
        const replies = await Promise.all(cs.map((c, i) => {
          let t = "";
          for (let r = 0; r < R; r++) t += `add a:${r} 0 0 1\r\n${i % 10}\r\n`;
          return script(c, t);
        }));
        const stored = new Array(R).fill(0);
        for (const r of replies) {
          const lines = r.split("\r\n").filter((l) => l !== "");
          assert.equal(lines.length, R);
          lines.forEach((l, k) => {
            assert.ok(l === "STORED" || l === "NOT_STORED", l);
            if (l === "STORED") stored[k]++;
          });
        }
        assert.deepEqual(stored, new Array(R).fill(1));
      } finally {
        closeAll(cs);
      }
    });
  },
);

ioTest(
  "race: gets + cas loops lose no update and one cas wins per version",
  async (io) => {
    await withServer({ io }, async (s) => {
      const cs = await clients(s.port, 4);
      try {
        await script(cs[0], "set c 0 0 1\r\n0\r\n");
        const PER = 150;
        const winsByVersion = new Map<string, number>();
        await Promise.all(cs.map(async (c) => {
          for (let done = 0; done < PER;) {
            const g = await script(c, "gets c\r\n");
            const m = /^VALUE c 0 \d+ (\d+)\r\n(\d+)\r\nEND\r\n$/.exec(g);
            assert.ok(m, g);
            const next = String(Number(m[2]) + 1);
            const r = await script(
              c,
              `cas c 0 0 ${next.length} ${m[1]}\r\n${next}\r\n`,
            );
            if (r === "STORED\r\n") {
              done++;
              winsByVersion.set(m[1], (winsByVersion.get(m[1]) ?? 0) + 1);
            } else assert.equal(r, "EXISTS\r\n");
          }
        }));
        for (const [, n] of winsByVersion) assert.equal(n, 1);
        assert.equal(await value(s.port, "c"), String(4 * PER));
      } finally {
        closeAll(cs);
      }
    });
  },
);

ioTest("race: append storms from every client lose no bytes", async (io) => {
  await withServer({ io }, async (s) => {
    const cs = await clients(s.port);
    try {
      await script(cs[0], "set log 0 0 0\r\n\r\n");
      const N = 300;
      const replies = await Promise.all(cs.map((c, i) => {
        const tok = String.fromCharCode(65 + i) + "...";
        return script(c, `append log 0 0 4\r\n${tok}\r\n`.repeat(N));
      }));
      for (const r of replies) assert.equal(r, "STORED\r\n".repeat(N));
      const v = (await value(s.port, "log"))!;
      assert.equal(v.length, CLIENTS * N * 4);
      for (let i = 0; i < CLIENTS; i++) {
        assert.equal(v.split(String.fromCharCode(65 + i)).length - 1, N);
      }
    } finally {
      closeAll(cs);
    }
  });
});

ioTest(
  "race: a large value read while it is overwritten is never mixed",
  async (io) => {
    await withServer({ io }, async (s) => {
      const writers = await clients(s.port, 2);
      const readers = await clients(s.port, 4);
      try {
        const SIZE = 200_000; // past REF_MIN: sent from the pages, held
        let stop = false;
        const write = writers.map(async (c, i) => {
          for (let k = 0; !stop && k < 60; k++) {
            const ch = String.fromCharCode(97 + ((k * 2 + i) % 26));
            const n = SIZE - (k % 3) * 50_000;
            assert.equal(
              await script(c, `set big 0 0 ${n}\r\n${ch.repeat(n)}\r\n`),
              "STORED\r\n",
            );
          }
        });
        let reads = 0;
        const read = readers.map(async (c) => {
          for (let k = 0; k < 40; k++) {
            const r = await script(c, "mg big v\r\n");
            if (r === "EN\r\n") continue;
            const m = /^VA (\d+)\r\n/.exec(r);
            assert.ok(m, r.slice(0, 80));
            const body = r.slice(m[0].length, m[0].length + Number(m[1]));
            assert.equal(body.length, Number(m[1]));
            assert.equal(body, body[0].repeat(body.length), "a mixed value");
            reads++;
          }
        });
        await Promise.all(read);
        stop = true;
        await Promise.all(write);
        assert.ok(reads > 0);
      } finally {
        closeAll(writers);
        closeAll(readers);
      }
    });
  },
);

ioTest(
  "race: churn under a small -m with expiring keys keeps every value its key's",
  async (io) => {
    await withServer({ io, memoryLimitMb: 4 }, async (s) => {
      const cs = await clients(s.port);
      try {
        const KEYS = 6000;
        const ROUNDS = 3;
        await Promise.all(cs.map(async (c, i) => {
          for (let r = 0; r < ROUNDS; r++) {
            let t = "";
            for (let k = i; k < KEYS; k += 3) {
              const id = (k * 7 + r) % KEYS;
              const v = `${id}:`.padEnd(100 + (id % 5) * 400, "x");
              const ttl = id % 4 === 0 ? 1 : 0;
              t += `set k${id} 0 ${ttl} ${v.length} noreply\r\n${v}\r\nmg k${
                (id * 13) % KEYS
              } v k\r\n`;
            }
            const got = await script(c, t);
            for (const m of got.matchAll(/VA (\d+) k(k\d+)\r\n/g)) {
              const start = m.index! + m[0].length;
              const body = got.slice(start, start + Number(m[1]));
              assert.ok(
                body.startsWith(`${m[2].slice(1)}:`),
                `${m[2]} held ${body.slice(0, 20)}`,
              );
            }
          }
        }));
        const st = await script(cs[0], "stats\r\n");
        assert.match(st, /STAT evictions [1-9]/);
      } finally {
        closeAll(cs);
      }
    });
  },
);
