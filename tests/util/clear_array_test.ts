import assert from "node:assert/strict";
import { clearArray } from "../../lib/util/clear_array.ts";

Deno.test("clearArray empties arrays of any length in place, and they fill again", () => {
  for (const length of [0, 1, 2, 64, 65, 1000]) {
    const array: number[] = Array.from({ length }, (_, i) => i);
    clearArray(array);
    assert.equal(array.length, 0, `length ${length}`);
    array.push(7, 8);
    assert.deepStrictEqual(array, [7, 8]);
  }
});
