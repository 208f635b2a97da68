import assert from "node:assert/strict";
import { formatDuration } from "../../lib/util/format_duration.ts";

Deno.test("formatDuration, compact form of the client's tables", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(45_000), "45s");
  assert.equal(formatDuration(12 * 60_000 + 5_000), "12m 5s");
  assert.equal(formatDuration(3 * 3600_000 + 20 * 60_000), "3h 20m");
  assert.equal(formatDuration(2 * 86400_000 + 4 * 3600_000), "2d 4h");
  assert.equal(formatDuration(-5_000), "0s");
  assert.equal(formatDuration(NaN), "—");
});

Deno.test("formatDuration, precise form of the logs", () => {
  const precise = { precise: true };
  assert.equal(formatDuration(850, precise), "850 ms");
  assert.equal(formatDuration(4_200, precise), "4.2 s");
  assert.equal(formatDuration(300_000, precise), "5 min");
  assert.equal(formatDuration(150_000, precise), "2 min 30 s");
});
