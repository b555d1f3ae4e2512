/**
 * Real memcached client libraries from npm, both text protocol, driving an
 * in-process denocached: `memcached@2.2.2` (callbacks) and
 * `memcache-client@1.0.5` (promises) — set/get/multi-get/gets/cas,
 * add/replace/append/prepend, incr/decr, delete, touch, flush and stats.
 * @module
 */
// deno-lint-ignore-file no-import-prefix

import assert from "node:assert/strict";
import type MemcachedType from "npm:memcached@2.2.2";
import { MemcacheClient } from "npm:memcache-client@1.0.5";
import { manualClock } from "../mod.ts";
import { settle, withServer } from "./_helpers.ts";

type Memcached = MemcachedType;

/**
 * memcached@2.2.2's dependencies set prototypes by assigning `__proto__`
 * at load time, an accessor Deno removes from Object.prototype. Restore the
 * standard accessor only while the package loads, then remove it again.
 */
async function loadMemcached(): Promise<typeof MemcachedType> {
  Object.defineProperty(Object.prototype, "__proto__", {
    get(this: object) {
      return Object.getPrototypeOf(this);
    },
    set(this: object, p: object | null) {
      Object.setPrototypeOf(this, p);
    },
    configurable: true,
  });
  try {
    return (await import("npm:memcached@2.2.2")).default;
  } finally {
    delete (Object.prototype as Record<string, unknown>).__proto__;
  }
}
const Memcached = await loadMemcached();

type Cb<T> = (err: unknown, res?: T) => void;

/** Promisifies one callback-style client call. */
function call<T>(fn: (cb: Cb<T>) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    fn((err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Runs `fn` with a client connected to a fresh server; always ends the client. */
async function withClient(
  fn: (mc: Memcached, clock: ReturnType<typeof manualClock>) => Promise<void>,
) {
  const clock = manualClock();
  await withServer({ clock }, async (srv) => {
    // No retries/reconnect timers: a failure should fail the test at once.
    const mc = new Memcached(`127.0.0.1:${srv.port}`, {
      retries: 0,
      timeout: 5000,
      idle: 1000,
      poolSize: 1,
    });
    try {
      await fn(mc, clock);
    } finally {
      mc.end();
      // end() destroys sockets; let their close events run before the server
      // stops so the resource sanitizer sees them finished.
      await settle(50);
    }
  });
}

Deno.test("npm memcached client: set/get/multi-get/delete", async () => {
  await withClient(async (mc) => {
    assert.equal(
      await call<boolean>((cb) => mc.set("a", "alpha", 0, cb)),
      true,
    );
    assert.equal(
      await call<boolean>((cb) => mc.set("b", "b\r\nravo\0", 0, cb)),
      true,
    );
    assert.equal(await call<string>((cb) => mc.get("a", cb)), "alpha");
    assert.equal(await call<string>((cb) => mc.get("b", cb)), "b\r\nravo\0");
    assert.equal(await call<unknown>((cb) => mc.get("missing", cb)), undefined);
    const multi = await call<Record<string, string>>((cb) =>
      mc.getMulti(["a", "b", "missing"], cb)
    );
    assert.deepEqual(multi, { a: "alpha", b: "b\r\nravo\0" });
    // JSON values round-trip through the client's flags.
    await call((cb) => mc.set("j", { n: 1, s: "x" }, 0, cb));
    assert.deepEqual(await call((cb) => mc.get("j", cb)), { n: 1, s: "x" });
    assert.equal(await call<boolean>((cb) => mc.del("a", cb)), true);
    assert.equal(await call<unknown>((cb) => mc.get("a", cb)), undefined);
    assert.equal(await call<boolean>((cb) => mc.del("a", cb)), false);
  });
});

Deno.test("npm memcached client: gets/cas, add/replace/append/prepend", async () => {
  await withClient(async (mc) => {
    await call((cb) => mc.set("k", "v1", 0, cb));
    const g = await call<{ [key: string]: unknown; cas: string }>((cb) =>
      mc.gets("k", cb)
    );
    assert.ok(g);
    assert.equal(g.k, "v1");
    assert.match(g.cas, /^\d+$/);
    assert.equal(
      await call<boolean>((cb) => mc.cas("k", "v2", g.cas, 0, cb)),
      true,
    );
    // The old token is stale now.
    assert.equal(
      await call<boolean>((cb) => mc.cas("k", "v3", g.cas, 0, cb)),
      false,
    );
    assert.equal(await call<string>((cb) => mc.get("k", cb)), "v2");
    assert.equal(
      await call<boolean>((cb) => mc.add("k", "x", 0, cb)).catch(() => false),
      false,
    );
    assert.equal(await call<boolean>((cb) => mc.add("n", "x", 0, cb)), true);
    assert.equal(
      await call<boolean>((cb) => mc.replace("n", "y", 0, cb)),
      true,
    );
    assert.equal(await call<boolean>((cb) => mc.append("n", "z", cb)), true);
    assert.equal(await call<boolean>((cb) => mc.prepend("n", "w", cb)), true);
    assert.equal(await call<string>((cb) => mc.get("n", cb)), "wyz");
  });
});

Deno.test("npm memcached client: incr/decr, touch with a manual clock", async () => {
  await withClient(async (mc, clock) => {
    await call((cb) => mc.set("c", "10", 0, cb));
    assert.equal(await call<number | boolean>((cb) => mc.incr("c", 5, cb)), 15);
    assert.equal(await call<number | boolean>((cb) => mc.decr("c", 20, cb)), 0); // floors at 0
    assert.equal(
      await call<boolean | number>((cb) => mc.incr("nope", 1, cb)),
      false,
    );
    await call((cb) => mc.set("t", "x", 10, cb));
    await call<void>((cb) => mc.touch("t", 100, cb));
    clock.advance(50);
    assert.equal(await call<string>((cb) => mc.get("t", cb)), "x");
    clock.advance(51);
    assert.equal(await call<unknown>((cb) => mc.get("t", cb)), undefined);
  });
});

Deno.test("npm memcached client: stats, flush, version", async () => {
  await withClient(async (mc) => {
    await call((cb) => mc.set("a", "1", 0, cb));
    const stats = await call<Array<Record<string, unknown>>>((cb) =>
      mc.stats(cb)
    );
    assert.ok(stats);
    assert.equal(stats.length, 1);
    assert.equal(stats[0].curr_items, 1);
    assert.equal(stats[0].version, "1.6.18");
    const ver = await call<Array<Record<string, unknown>>>((cb) =>
      mc.version(cb)
    );
    assert.equal(ver?.[0].version, "1.6.18");
    await call((cb) => mc.flush(cb));
    assert.equal(await call<unknown>((cb) => mc.get("a", cb)), undefined);
  });
});

/** Runs `fn` with a memcache-client connected to a fresh server. */
async function withPromiseClient(
  fn: (
    mc: MemcacheClient,
    clock: ReturnType<typeof manualClock>,
  ) => Promise<void>,
) {
  const clock = manualClock();
  await withServer({ clock }, async (srv) => {
    const mc = new MemcacheClient({ server: `127.0.0.1:${srv.port}` });
    try {
      await fn(mc, clock);
    } finally {
      mc.shutdown();
      // shutdown() leaves the client's command-timeout check timer (a
      // 250 ms one-shot, re-armed while commands are queued) to run out.
      await settle(300);
    }
  });
}

Deno.test("npm memcache-client: get/set/multi-get/gets/cas/incr/delete/touch", async () => {
  await withPromiseClient(async (mc, clock) => {
    assert.deepEqual(await mc.set("a", "hello"), ["STORED"]);
    assert.equal((await mc.get<string>("a"))?.value, "hello");
    // A multi-get resolves to an object keyed by the keys found.
    const multi = (await mc.get<string>(["a", "b"])) as unknown as Record<
      string,
      { value: string }
    >;
    assert.deepEqual(Object.keys(multi), ["a"]);
    assert.equal(multi.a.value, "hello");
    const g = await mc.gets<string>("a");
    assert.match(g?.casUniq as string, /^\d+$/);
    assert.deepEqual(
      await mc.cas("a", "bye", { casUniq: g?.casUniq as string }),
      ["STORED"],
    );
    await assert.rejects(
      mc.cas("a", "no", { casUniq: g?.casUniq as string }),
      /EXISTS/,
    );
    assert.equal((await mc.get<string>("a"))?.value, "bye");
    await assert.rejects(mc.add("a", "x"), /NOT_STORED/);
    await mc.set("n", "41");
    assert.equal(await mc.incr("n", 1), "42");
    assert.equal(await mc.decr("n", 100), "0");
    await assert.rejects(mc.incr("a", 1), /non-numeric/);
    assert.deepEqual(await mc.delete("a"), ["DELETED"]);
    await assert.rejects(mc.delete("a"), /NOT_FOUND/);
    const big = "v".repeat(500_000);
    await mc.set("big", big, { compress: false });
    assert.equal((await mc.get<string>("big"))?.value, big);
    // version() resolves to the reply's tokens.
    assert.deepEqual(await mc.version(), ["VERSION", "1.6.18"]);
    // Last, as it moves time past this client's default 60 s lifetime.
    await mc.set("t", "x", { lifetime: 10 });
    assert.deepEqual(await mc.touch("t", 100), ["TOUCHED"]);
    clock.advance(99);
    assert.equal((await mc.get<string>("t"))?.value, "x");
    clock.advance(2);
    assert.equal(await mc.get("t"), undefined);
  });
});
