import assert from "node:assert/strict";
import { LineClient, startTestService } from "../helpers.ts";
import { movedBtc } from "../moved_snapshot.ts";
import { HAS_PROMTOOL, promtoolCheck, seriesValue } from "./_promtool.ts";

Deno.test("a running server's metrics count what happened, and promtool accepts them", async () => {
  await using env = await startTestService(["--refresh", "3600"]);
  await using client = await LineClient.connect(env.port);
  await using watcher = await LineClient.connect(env.port);
  for (let i = 0; i < 7; i++) {
    assert.equal((await client.request({ v: 2, data: "MARKET BTC" })).status, "OK");
  }
  assert.equal((await client.request({ data: "MARKET NOPE" })).code, "UNKNOWN_COIN");
  assert.equal((await watcher.request({ v: 2, data: "WATCH BTC" })).status, "OK");
  env.service.market.update(movedBtc(env.service.market.snapshot!, 100));
  assert.equal((await watcher.readJson()).event, "update");

  const text = env.service.metrics();
  const expect: [string, number][] = [
    ['crypto_connections_open{transport="tcp"}', 2],
    ['crypto_connections_served_total{transport="tcp"}', 2],
    ['crypto_requests_total{command="MARKET",transport="tcp"}', 8],
    ['crypto_requests_total{command="WATCH",transport="tcp"}', 1],
    ['crypto_errors_total{code="UNKNOWN_COIN",transport="tcp"}', 1],
    ["crypto_watchers", 1],
    ['crypto_update_events_sent_total{transport="tcp"}', 1],
    ['crypto_ingestion_attempts_total{provider="coingecko"}', 1],
    ['crypto_ingestion_failures_total{provider="coingecko"}', 0],
    ['crypto_upstream_requests_total{provider="coingecko",status="ok"}', 1],
    ["crypto_snapshot_coins", env.service.market.snapshot!.coins.length],
    ['crypto_cluster_role{role="single"}', 1],
  ];
  for (const [series, want] of expect) assert.equal(seriesValue(text, series), want, series);
  const bytes = seriesValue(text, 'crypto_sent_bytes_total{transport="tcp"}')!;
  assert.ok(bytes > 7 * 100, `bytes out ${bytes}`);
  const age = seriesValue(text, "crypto_data_age_seconds")!;
  // The moved snapshot is dated a second after the ingestion: its age may be just below 0.
  assert.ok(age > -5 && age < 3600, `age ${age}`);
  const success = seriesValue(text, "crypto_last_ingestion_success_timestamp_seconds")!;
  assert.ok(Math.abs(success - Date.now() / 1000) < 600, `last success ${success}`);
  assert.ok(seriesValue(text, 'crypto_process_memory_bytes{kind="rss"}')! > 1e6);

  if (HAS_PROMTOOL) {
    const { code, output } = await promtoolCheck(text);
    assert.equal(output, "", text);
    assert.equal(code, 0);
  }
});
