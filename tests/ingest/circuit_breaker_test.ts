import assert from "node:assert/strict";
import { CircuitBreaker } from "../../lib/ingest/circuit_breaker.ts";

class Clock {
  ms = Date.parse("2024-01-01T00:00:00.000Z");
  readonly now = () => this.ms;
}

Deno.test("CircuitBreaker: closed, open, half-open, closed again or open again", () => {
  const clock = new Clock();
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 60_000, now: clock.now });
  assert.equal(breaker.state, "closed");
  assert.equal(breaker.recordFailure("one"), "closed");
  assert.equal(breaker.recordFailure("two"), "closed");
  assert.equal(breaker.retryAt, null);
  assert.equal(breaker.recordFailure("three"), "open");
  assert.equal(breaker.consecutiveFailures, 3);
  assert.equal(breaker.lastError, "three");
  assert.equal(breaker.retryAt, clock.ms + 60_000);

  clock.ms += 59_999;
  assert.equal(breaker.state, "open");
  clock.ms += 1;
  assert.equal(breaker.state, "half-open");
  // A failed probe opens it again for a whole new cool-down.
  assert.equal(breaker.recordFailure("four"), "open");
  assert.equal(breaker.retryAt, clock.ms + 60_000);
  clock.ms += 60_000;
  assert.equal(breaker.state, "half-open");
  assert.equal(breaker.recordSuccess(), "half-open");
  assert.equal(breaker.state, "closed");
  assert.equal(breaker.consecutiveFailures, 0);
  assert.equal(breaker.lastError, "four", "the last error stays visible for INFO");

  // A success in between resets the count.
  breaker.recordFailure("a");
  breaker.recordFailure("b");
  breaker.recordSuccess();
  assert.equal(breaker.recordFailure("c"), "closed");

  assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), RangeError);
});
