import assert from "node:assert/strict";
import { equalsAt } from "../../lib/util/equals_at.ts";

const enc = new TextEncoder();

Deno.test("equalsAt compares in place, and never past either end", () => {
  const bytes = enc.encode('x{"a":1}\n');
  assert.equal(equalsAt(bytes, 1, enc.encode('{"a":1}')), true);
  assert.equal(equalsAt(bytes, 1, enc.encode('{"a":2}')), false);
  assert.equal(equalsAt(bytes, 3, enc.encode('a":1}\n!')), false, "runs past the end");
  assert.equal(equalsAt(bytes, -1, enc.encode("x")), false);
  assert.equal(equalsAt(bytes, 9, new Uint8Array(0)), true);
});
