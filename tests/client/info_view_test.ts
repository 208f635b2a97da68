import assert from "node:assert/strict";
import { formatInfo } from "../../lib/client/info_view.ts";
import type { ClusterReport, InfoReport } from "../../lib/wire/info_report.ts";
import { infoReport } from "./_info_report.ts";

const NOW = new Date("2022-10-04T20:19:30Z");
const show = (report: InfoReport, width = 80) =>
  formatInfo(report, { color: false, now: NOW, width });

Deno.test("info is one short screen: a single server in 12 lines", () => {
  assert.deepEqual(show(infoReport()).split("\n"), [
    "  Server        version 0.2.0, up 2h 3m",
    "  Cluster       single server",
    "  Connections   2 open, 1,500 served",
    "  Requests      MARKET 1,200, HISTORY 3",
    "  Errors        none",
    "  Data          100 coins from coingecko, fetched 20:17 UTC (2m ago); 61",
    "                currencies",
    "  Ingestion     ok 20:17 UTC (2m ago) in 532 ms, 100 coins from",
    "                api.coingecko.com",
    "  Next refresh  20:20 UTC (in 30s)",
    "  Providers     coingecko ok",
    "  Database      sqlite data/crypto.sqlite, 5.2 MiB",
  ]);
});

Deno.test("info says providers' state in words and wraps long errors to the width", () => {
  const base = infoReport();
  const error = "coingecko: HTTP 429 from https://api.coingecko.com/api/v3/coins/markets?" +
    "vs_currency=usd&order=market_cap_desc&per_page=250&page=1&sparkline=false after 3 " +
    "attempts; coinpaprika: timed out after 10 s";
  const report = infoReport({
    ingestion: { ...base.ingestion, result: "failed", error, consecutive_failures: 3 },
    providers: [
      {
        ...base.providers[0],
        state: "open",
        consecutive_failures: 3,
        last_error: "HTTP 429",
        retry_at: "2022-10-04T20:23:30.000Z",
      },
      { ...base.providers[0], name: "coinpaprika" },
    ],
  });
  for (const width of [80, 40]) {
    const text = show(report, width);
    for (const line of text.split("\n")) {
      assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
    }
    assert.doesNotMatch(text, /\b(closed|half-open|State)\b|(coingecko|coinpaprika) open/);
  }
  const text = show(report);
  assert.match(text, /Providers {5}coingecko failing, retry in 4m 0s: HTTP 429\n/);
  assert.match(text, /\n {16}coinpaprika ok\n/);
  assert.match(text, /Ingestion {5}failed 20:17 UTC \(2m ago\) in 532 ms \(3 in a row\)/);
  assert.match(text, /error: coingecko: HTTP 429/);
});

Deno.test("info says the cluster role and which replica answered", () => {
  const cluster = (c: ClusterReport) =>
    show(infoReport({ cluster: c }), 200).split("\n").find((line) => line.startsWith("  Cluster"));
  assert.equal(
    cluster({
      role: "follower",
      name: "b",
      database: { host: "db.example", port: 5432, name: "crypto" },
      following_since: "2022-10-04T20:17:30.000Z",
      last_snapshot_notice_at: "2022-10-04T20:19:25.000Z",
    }),
    "  Cluster       replica b, follower since 20:17 UTC (2m ago), database " +
      "db.example:5432/crypto, last snapshot notice 20:19 UTC (5s ago)",
  );
  assert.match(
    cluster({
      role: "leader",
      database: { host: "db.example", port: 5432, name: null },
      leader_since: "2022-10-03T20:17:30.000Z",
      last_snapshot_notice_at: null,
    })!,
    /^ {2}Cluster {7}leader \(ingests\) since 2022-10-03 20:17 UTC \(2022-10-03 20:17 UTC\), database db\.example:5432, last snapshot notice —$/,
  );
});

Deno.test("info shows fields this client does not know, by their key's suffix", () => {
  const base = infoReport();
  const text = show(
    infoReport({
      websocket: { open: 3 },
      tls_handshake_ms: 12,
      // A key a newer server adds to a known section.
      database: { ...base.database, ...{ vacuumed_at: "2022-10-04T20:18:30.000Z" } },
    }),
  );
  assert.match(text, /^ {2}Websocket +open 3$/m);
  assert.match(text, /^ {2}Tls handshake +12 ms$/m);
  assert.match(text, /^ {2}Database vacuumed at +20:18 UTC \(1m ago\)$/m);
});
