/** Before the first ingestion succeeds, `NO_DATA` says when the next attempt is. */
import assert from "node:assert/strict";
import { LineClient, startTestService } from "../helpers.ts";

Deno.test("NO_DATA before the first ingestion says when the next attempt is", async () => {
  await using env = await startTestService(["--refresh", "3600"], { waitForIngestion: false });
  env.upstream.mode = "http500";
  await env.logs.waitFor(/^ingestion failed \(attempt 1\)/);
  await using client = await LineClient.connect(env.port);
  const reply = await client.request({ status: "OK", data: "MARKET ALL" });
  assert.equal(reply.code, "NO_DATA");
  const message = String(reply.message ?? reply.error ?? reply.data);
  const match =
    /^No prices yet: the first ingestion has not succeeded; next attempt in (\d+)s \((\d\d:\d\d:\d\d) UTC\)$/
      .exec(message);
  assert.ok(match !== null, message);
  // The retry after a failure is capped at max(refresh, 30 s), and the refresh is an hour.
  assert.ok(Number(match[1]) <= 3600, message);
  const next = env.service.ingestor.status.nextRunAt;
  assert.ok(next !== null);
  assert.equal(match[2], next.slice(11, 19));
});
