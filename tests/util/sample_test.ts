import assert from "node:assert/strict";
import { sample, sampleBytes } from "../../lib/util/sample.ts";

Deno.test("samples of untrusted input are short and escaped", () => {
  assert.equal(sample('a"b\n\u0000é'), '"a\\"b\\n\\u0000\\u00e9"');
  assert.equal(sample("x".repeat(100), 5), '"xxxxx…"');
  assert.equal(sampleBytes(new Uint8Array([0x41, 0xff, 0x1b])), '"A\\ufffd\\u001b"');
  assert.equal(sampleBytes(new Uint8Array(1000).fill(0x41), 10), `"${"A".repeat(10)}…"`);
});
