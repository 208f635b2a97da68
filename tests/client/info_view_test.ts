import assert from "node:assert/strict";
import { formatInfo } from "../../lib/client/info_view.ts";
import { infoReport } from "./_info_report.ts";
import type { ClusterReport } from "../../lib/wire/info_report.ts";

const NOW = new Date("2022-10-04T20:19:30Z");

Deno.test("formatInfo shows every field, with durations, sizes and times", () => {
  const text = formatInfo(infoReport({ extra_field_ms: 5 }), { color: false, now: NOW });
  const lines = text.split("\n");
  assert.deepEqual(lines.slice(0, 7), [
    "Version      0.2.0",
    "Uptime       2h 3m",
    "Connections  open 2, served 1,500",
    "Requests     MARKET 1,200, HISTORY 3",
    "Errors       none",
    "Ingestion",
    "  Last attempt at       2022-10-04 20:17 UTC (2m ago)",
  ]);
  assert.ok(lines.includes("  Next refresh at       2022-10-04 20:20 UTC (in 30s)"), text);
  assert.ok(lines.includes("  Size    5.2 MiB"), text);
  assert.ok(lines.includes("Extra field  5 ms"), text);
});

Deno.test("formatInfo says the cluster role in words, never as a nested table", () => {
  const cluster = (c: ClusterReport) =>
    formatInfo(infoReport({ cluster: c }), { color: false, now: NOW }).split("\n")
      .find((line) => line.startsWith("Cluster"));
  assert.equal(
    cluster({
      role: "follower",
      database: { host: "db.example", port: 5432, name: "crypto" },
      following_since: "2022-10-04T20:17:30.000Z",
      last_snapshot_notice_at: "2022-10-04T20:19:25.000Z",
    }),
    "Cluster      follower since 2022-10-04 20:17 UTC (2m ago), database " +
      "db.example:5432/crypto, last snapshot notice 2022-10-04 20:19 UTC (5s ago)",
  );
  assert.match(
    cluster({
      role: "leader",
      database: { host: "db.example", port: 5432, name: "crypto" },
      leader_since: "2022-10-04T20:17:30.000Z",
      last_snapshot_notice_at: null,
    })!,
    /^Cluster {6}leader \(ingests\) since .*, last snapshot notice —$/,
  );
  // Not connected yet to a URL that names no database: host and port only.
  assert.match(
    cluster({
      role: "follower",
      database: { host: "db.example", port: 5432, name: null },
      following_since: "2022-10-04T20:17:30.000Z",
      last_snapshot_notice_at: null,
    })!,
    /, database db\.example:5432, last snapshot notice —$/,
  );
  assert.equal(cluster({ role: "single" }), "Cluster      single server");
});
