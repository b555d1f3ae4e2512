/**
 * The process-wide memory budget's accounting (lib/budget.ts), seeded: the
 * total never exceeds the limit whatever the sequence of takes and gives,
 * per-kind and per-holder balances always add up, refusals are counted, and
 * the heaviest holders come first. (Unit test of the accounting; the
 * attack tests in budget_attack_test.ts cover the core's use of it.)
 * @module
 */

import assert from "node:assert/strict";
import {
  BUDGET_FLOOR,
  createBudget,
  defaultBudgetBytes,
  Kind,
} from "../lib/budget.ts";
import { rng } from "./_robust_helpers.ts";

Deno.test("budget: default is 10% of -m with a floor", () => {
  assert.equal(defaultBudgetBytes(64), BUDGET_FLOOR);
  assert.equal(defaultBudgetBytes(10240), 1024 * 1024 * 1024);
});

Deno.test("budget: never grows past its limit; balances add up (seeded)", () => {
  const r = rng(12);
  const limit = 10_000_000;
  const b = createBudget(limit);
  const model = new Map<number, number[]>();
  let refused = 0;
  for (let step = 0; step < 20_000; step++) {
    const h = r.int(50);
    const k = r.int(4) as Kind;
    const n = r.int(500_000);
    const op = r.int(10);
    const bal = model.get(h) ?? [0, 0, 0, 0];
    if (op < 6) {
      const total = [...model.values()].flat().reduce((x, y) => x + y, 0);
      const ok = b.take(h, k, n);
      assert.equal(ok, total + n <= limit);
      if (ok) bal[k] += n;
      else refused++;
    } else if (op < 9) {
      b.give(h, k, n);
      bal[k] -= Math.min(n, bal[k]);
    } else {
      b.release(h);
      bal.fill(0);
    }
    model.set(h, bal);
    assert.ok(b.used <= limit);
  }
  let total = 0;
  const kinds = [0, 0, 0, 0];
  for (const [h, bal] of model) {
    const sum = bal.reduce((x, y) => x + y, 0);
    assert.equal(b.held(h), sum);
    total += sum;
    bal.forEach((v, i) => (kinds[i] += v));
  }
  assert.equal(b.used, total);
  assert.deepEqual([...b.byKind], kinds);
  assert.equal(b.refusals, refused);
  const top = b.heaviest(3);
  for (let i = 1; i < top.length; i++) {
    assert.ok(b.held(top[i - 1]) >= b.held(top[i]));
  }
  for (const h of model.keys()) assert.ok(b.held(h) <= b.held(top[0]));
  const rows = Object.fromEntries(b.statRows());
  assert.equal(rows.read_buf_bytes, kinds[Kind.ReadBuf] + kinds[Kind.Tls]);
  assert.equal(
    rows.response_obj_bytes,
    kinds[Kind.Response] + kinds[Kind.Admin],
  );
  assert.equal(rows.read_buf_bytes_free, limit - b.used);
  assert.equal(rows.read_buf_oom, refused);
});
