/**
 * Quiet logs through the real service: a failure that repeats every round is logged when it
 * starts and when it ends, not at every round (with no network, every round used to log two
 * 400-character DNS errors).
 */
import assert from "node:assert/strict";
import { startTestService } from "../helpers.ts";

Deno.test("exchange rates that keep failing are logged once, and their return once", async () => {
  await using env = await startTestService(["--refresh", "0.05"]);
  env.upstream.ratesMode = "http500";
  const since = env.logs.lines.length;
  // Ten more rounds, each with a failing rates request.
  for (let i = 0; i < 10; i++) {
    await env.logs.waitFor(/^ingested \d+ coins/, { sinceIndex: env.logs.lines.length });
  }
  const failing = env.logs.lines.slice(since).filter((line) => line.startsWith("exchange rates"));
  assert.equal(failing.length, 1, failing.join("\n"));
  assert.match(failing[0], /^exchange rates fetch failed: .*HTTP 500.*; keeping rates of /);
  env.upstream.ratesMode = null;
  const back = await env.logs.waitFor(/^exchange rates fetched again/, { sinceIndex: since });
  assert.match(back, /^exchange rates fetched again after \d+ failed attempts$/);
});

Deno.test("ingestion that keeps failing is logged once, with its next attempt", async () => {
  await using env = await startTestService(["--refresh", "0.05"]);
  env.upstream.mode = "http500";
  const since = env.logs.lines.length;
  const first = await env.logs.waitFor(/^ingestion failed/, { sinceIndex: since });
  assert.match(first, /^ingestion failed \(attempt 1\): .*HTTP 500.*; retrying in [\d.]+ m?s$/);
  const { ingestor } = env.service;
  // The loop goes on failing (attempts are events of the service, polled with a deadline).
  const deadline = Date.now() + 15_000;
  while (ingestor.status.consecutiveFailures < 3) {
    assert.ok(Date.now() < deadline, "fewer than 3 attempts within 15 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(env.logs.lines.slice(since).filter((l) => l.startsWith("ingestion")), [first]);
  // INFO states the next attempt the loop has planned.
  assert.ok(ingestor.status.nextRunAt !== null);
});
