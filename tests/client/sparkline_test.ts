import assert from "node:assert/strict";
import { BARS, sparkline } from "../../lib/client/sparkline.ts";

Deno.test("sparkline draws a rising series from the lowest to the highest bar", () => {
  assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 80), "▁▂▃▄▅▆▇█");
  assert.equal(sparkline([8, 7, 6, 5, 4, 3, 2, 1], 80), "█▇▆▅▄▃▂▁");
  assert.equal(sparkline([10, 20], 80), "▁█");
  assert.equal(sparkline([0.00001, 0.00003, 0.00002], 80), "▁█▅");
});

Deno.test("sparkline draws a flat series and a single point at mid height", () => {
  assert.equal(sparkline([20220, 20220, 20220], 80), "▄▄▄");
  assert.equal(sparkline([20220], 80), "▄");
  assert.equal(sparkline([], 80), "");
});

Deno.test("sparkline fits a long series into the width, keeping its shape", () => {
  const rising = Array.from({ length: 200 }, (_, i) => i);
  const line = sparkline(rising, 50);
  assert.equal([...line].length, 50);
  assert.equal(line[0], "▁");
  assert.equal(line.at(-1), "█");
  for (let i = 1; i < line.length; i++) {
    assert.ok(BARS.indexOf(line[i]) >= BARS.indexOf(line[i - 1]), line);
  }
  // A peak in the middle stays in the middle.
  const peak = Array.from({ length: 101 }, (_, i) => 50 - Math.abs(i - 50));
  const drawn = [...sparkline(peak, 11)];
  assert.equal(drawn.length, 11);
  assert.deepEqual([drawn[0], drawn[5], drawn[10]], ["▁", "█", "▁"]);
});

Deno.test("sparkline shows gaps for values that are not numbers and checks its width", () => {
  assert.equal(sparkline([1, NaN, 2], 80), "▁ █");
  assert.equal(sparkline([NaN], 80), " ");
  assert.throws(() => sparkline([1], 0), RangeError);
  assert.throws(() => sparkline([1], 2.5), RangeError);
});
