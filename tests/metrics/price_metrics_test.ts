import assert from "node:assert/strict";
import { type MetricSources, renderMetrics } from "../../lib/metrics/price_metrics.ts";
import { HAS_PROMTOOL, promtoolCheck } from "./_promtool.ts";

function sources(): MetricSources {
  return {
    transports: () => [
      ["tcp", {
        connectionsOpen: 2,
        connectionsServed: 7,
        requests: { MARKET: 5, WATCH: 1 },
        errors: { BAD_JSON: 1 },
        eventsSent: 3,
        bytesOut: 1200,
      }],
      ["ws", { connectionsOpen: 1, connectionsServed: 1, requests: {}, errors: {} }],
    ],
    watchers: () => 2,
    market: { ageMs: 1500, snapshot: { coins: [1, 2, 3] } },
    lastSuccessAt: () => "2026-12-06T02:00:00.000Z",
    providers: () => [{
      name: "coingecko",
      attempts: 4,
      failures: 1,
      calls: new Map([["ok", 3], ["429", 1]]),
    }],
    cluster: () => ({ role: "leader", leaderChanges: 1 }),
    memory: () => ({ rss: 100, heapTotal: 80, heapUsed: 60, external: 5 }),
  };
}

/** The value of one series in a scrape, by its full name with labels as rendered. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((line) => line.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("every source is read into its series", () => {
  const text = renderMetrics(sources());
  const expected: [string, number][] = [
    ['crypto_connections_open{transport="tcp"}', 2],
    ['crypto_connections_open{transport="ws"}', 1],
    ['crypto_connections_served_total{transport="tcp"}', 7],
    ['crypto_requests_total{command="MARKET",transport="tcp"}', 5],
    ['crypto_errors_total{code="BAD_JSON",transport="tcp"}', 1],
    ["crypto_watchers", 2],
    ['crypto_update_events_sent_total{transport="tcp"}', 3],
    ['crypto_sent_bytes_total{transport="tcp"}', 1200],
    ['crypto_ingestion_attempts_total{provider="coingecko"}', 4],
    ['crypto_ingestion_failures_total{provider="coingecko"}', 1],
    ['crypto_upstream_requests_total{provider="coingecko",status="429"}', 1],
    ["crypto_last_ingestion_success_timestamp_seconds", Date.parse("2026-12-06T02:00:00Z") / 1000],
    ["crypto_data_age_seconds", 1.5],
    ["crypto_snapshot_coins", 3],
    ['crypto_cluster_role{role="leader"}', 1],
    ['crypto_cluster_role{role="follower"}', 0],
    ["crypto_cluster_leader_changes_total", 1],
    ['crypto_process_memory_bytes{kind="rss"}', 100],
  ];
  for (const [series, want] of expected) assert.equal(value(text, series), want, series);
  // A transport without the optional counters has no series for them.
  assert.equal(value(text, 'crypto_sent_bytes_total{transport="ws"}'), undefined);
});

Deno.test("before any data: no age or success time, role single", () => {
  const text = renderMetrics({
    ...sources(),
    market: { ageMs: null, snapshot: null },
    lastSuccessAt: () => null,
    cluster: () => null,
  });
  assert.equal(value(text, "crypto_data_age_seconds"), undefined);
  assert.equal(value(text, "crypto_last_ingestion_success_timestamp_seconds"), undefined);
  assert.equal(value(text, "crypto_snapshot_coins"), 0);
  assert.equal(value(text, 'crypto_cluster_role{role="single"}'), 1);
});

Deno.test({
  name: "promtool finds nothing to say about the output",
  ignore: !HAS_PROMTOOL,
  fn: async () => {
    const { code, output } = await promtoolCheck(renderMetrics(sources()));
    assert.equal(output, "");
    assert.equal(code, 0);
  },
});
