/**
 * `stats` rows checked side by side with a real memcached 1.6.18 running
 * the same script: `idle_kicks` in memcached's position (only with
 * `-o idle_timeout`), `stats items` with `mem_requested` per class, and
 * `stats conns` listing the listening sockets first, as memcached does.
 * @module
 */

import assert from "node:assert/strict";
import { defaultConfig } from "../lib/config.ts";
import { startServer } from "../lib/server/server.ts";
import { roundTrip, startMemcached } from "./_helpers.ts";

const SCRIPT = "set a 0 0 3\r\nabc\r\nset bb 5 0 10\r\n0123456789\r\n" +
  `set c 0 0 500\r\n${"x".repeat(500)}\r\nset d 0 0 3000\r\n${
    "y".repeat(3000)
  }\r\n` +
  "set a 0 0 4\r\nabcd\r\ndelete c\r\n" +
  `set e 0 0 500\r\n${"z".repeat(500)}\r\n`;

/** `name value` rows of a stats reply (values of `keep` names only). */
function rows(text: string, keep: RegExp): string[] {
  return [...text.matchAll(/^STAT (\S+) (.*)\r$/gm)].map(([, k, v]) =>
    keep.test(k) ? `${k} ${v}` : k
  );
}

async function both(
  extra: string[],
  fn: (port: number, mine: boolean) => Promise<string[]>,
): Promise<[string[], string[]] | null> {
  const mc = await startMemcached(extra);
  if (mc === null) return null;
  const config = defaultConfig();
  config.port = 0;
  config.io = "portable";
  if (extra.includes("idle_timeout=100")) config.idleTimeout = 100;
  const server = startServer(config);
  try {
    return [await fn(server.port, true), await fn(mc.port, false)];
  } finally {
    await server.close();
    await mc.stop();
  }
}

Deno.test("stats: idle_kicks where memcached prints it, only with idle_timeout", async () => {
  for (const extra of [["-o", "idle_timeout=100"], []]) {
    const r = await both(
      extra,
      async (port) =>
        rows(await roundTrip(port, "stats\r\n"), /^$/).filter((k) =>
          // Ours has no extstore/proxy rows either way; compare the core rows.
          /^(auth_errors|idle_kicks|bytes_read|bytes_written|limit_maxbytes)$/
            .test(k)
        ),
    );
    if (r === null) return;
    assert.deepEqual(r[0], r[1], extra.join(" "));
  }
});

Deno.test("stats items: mem_requested per class equals memcached's", async () => {
  const r = await both([], async (port) => {
    await roundTrip(port, SCRIPT);
    return rows(
      await roundTrip(port, "stats items\r\n"),
      /:(number|mem_requested)$/,
    ).filter((k) => /:(number|mem_requested|age)\b/.test(k))
      // Class ids may differ (slab layouts differ): compare in class order.
      .map((k) => k.replace(/^items:\d+:/, "items:N:"));
  });
  if (r === null) return;
  assert.deepEqual(r[0], r[1]);
  assert.ok(r[0].some((k) => /mem_requested [1-9]/.test(k)), r[0].join("\n"));
});

Deno.test("stats conns: the listening row first, then the client, as memcached", async () => {
  const r = await both([], async (port) => {
    const text = await roundTrip(port, "stats conns\r\n");
    // Ids are fds in memcached, counters here: number them by order.
    const ids = new Map<string, number>();
    return [...text.matchAll(/^STAT (\d+):(\w+) (.*)\r$/gm)].map(
      ([, id, k, v]) => {
        if (!ids.has(id)) ids.set(id, ids.size);
        const val = k === "state" ? v : k === "secs_since_last_cmd" ? "" : v
          .replace(/:\d+$/, ":PORT");
        return `${ids.get(id)}:${k} ${val}`;
      },
    );
  });
  if (r === null) return;
  assert.deepEqual(r[0], r[1]);
  assert.equal(r[0][1], "0:state conn_listening");
});
