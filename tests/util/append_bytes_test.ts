import assert from "node:assert/strict";
import { appendBytes } from "../../lib/util/append_bytes.ts";

Deno.test("appendBytes fills the buffer in place while it has room, then doubles it", () => {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  let buffer: Uint8Array = new Uint8Array(0);
  let length = 0;
  buffer = appendBytes(buffer, length, bytes, 0, 100);
  length += 100;
  assert.equal(buffer.length, 256);
  const same = appendBytes(buffer, length, bytes, 100, 200);
  assert.equal(same, buffer, "room left: the same buffer");
  length += 100;
  buffer = appendBytes(same, length, bytes, 200, 300);
  length += 100;
  assert.equal(buffer.length, 512);
  assert.deepEqual(buffer.subarray(0, length), bytes);
});
