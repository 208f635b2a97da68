import assert from "node:assert/strict";
import { backoffDelay } from "../../lib/util/backoff.ts";

/** The documented cap of the delay: 5 minutes. */
const DEFAULT_MAX_MS = 5 * 60 * 1000;

const low = () => 0;
const high = () => 0.999;

Deno.test("backoffDelay doubles from 1 s with equal jitter", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, { random: low })), [
    500,
    1000,
    2000,
    4000,
    8000,
  ]);
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, { random: high })), [
    1000,
    1999,
    3998,
    7996,
    15992,
  ]);
});

Deno.test("backoffDelay stays within [d/2, d] for any random value", () => {
  for (let attempt = 1; attempt <= 30; attempt++) {
    const d = Math.min(DEFAULT_MAX_MS, 1000 * 2 ** (attempt - 1));
    for (const r of [0, 0.25, 0.5, 0.999, Math.random()]) {
      const delay = backoffDelay(attempt, { random: () => r });
      assert.ok(delay >= d / 2 && delay <= d, `attempt ${attempt}, random ${r}: ${delay}`);
      assert.ok(Number.isInteger(delay));
    }
  }
});

Deno.test("backoffDelay is capped", () => {
  assert.equal(backoffDelay(9, { random: low }), 128_000);
  assert.equal(backoffDelay(10, { random: low }), DEFAULT_MAX_MS / 2);
  assert.equal(backoffDelay(10_000, { random: high }), Math.round(DEFAULT_MAX_MS * 0.9995));
  assert.equal(backoffDelay(3, { baseMs: 100, maxMs: 250, random: low }), 125);
  assert.equal(backoffDelay(2, { baseMs: 100, maxMs: 250, random: low }), 100);
});

Deno.test("backoffDelay rejects invalid attempts and options", () => {
  for (const attempt of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => backoffDelay(attempt), RangeError);
  }
  assert.throws(() => backoffDelay(1, { baseMs: 0 }), RangeError);
  assert.throws(() => backoffDelay(1, { baseMs: 1000, maxMs: 10 }), RangeError);
});
