import assert from "node:assert/strict";
import { median, ratiosByRound, splitByBound } from "./_stats.ts";

Deno.test("median takes the lower middle and leaves its input alone", () => {
  const xs = [3, 1, 2];
  assert.equal(median(xs), 2);
  assert.deepStrictEqual(xs, [3, 1, 2]);
  assert.equal(median([4, 1, 3, 2]), 2);
});

Deno.test("ratios are taken round by round, not from two medians", () => {
  // The machine's slow spell fell on the floor in round 2 and on the server in rounds 2 and 3:
  // the median of the rounds' ratios is 0.9, the quotient of the two medians 0.45.
  const floor = [{ rps: 100 }, { rps: 50 }, { rps: 100 }];
  const server = [{ rps: 90 }, { rps: 45 }, { rps: 45 }];
  assert.deepStrictEqual(ratiosByRound(server, floor, (r) => r.rps), [0.9, 0.9, 0.45]);
  assert.equal(median(ratiosByRound(server, floor, (r) => r.rps)), 0.9);
  assert.equal(median(server.map((r) => r.rps)) / median(floor.map((r) => r.rps)), 0.45);
});

Deno.test("a bound some rounds meet and some do not is not settled by the run", () => {
  const atLeast = (r: number) => r >= 0.9;
  assert.equal(splitByBound([0.85, 0.95, 1.0], atLeast), true);
  assert.equal(splitByBound([0.91, 0.95], atLeast), false);
  assert.equal(splitByBound([0.5, 0.6], atLeast), false);
});
