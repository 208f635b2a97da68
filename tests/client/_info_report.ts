/**
 * A complete `INFO` report for client tests, as a single server sends it.
 *
 * @module
 */

import type { InfoReport } from "../../lib/wire/info_report.ts";

/** A report of a single server that ingested 100 coins at 20:17 and serves them. */
export function infoReport(overrides: Partial<InfoReport> = {}): InfoReport {
  return {
    version: "0.2.0",
    uptime_seconds: 7384,
    connections: { open: 2, served: 1500 },
    requests: { MARKET: 1200, HISTORY: 3 },
    errors: {},
    ingestion: {
      last_attempt_at: "2022-10-04T20:17:00.000Z",
      duration_ms: 532,
      coins: 100,
      result: "ok",
      error: null,
      last_success_at: "2022-10-04T20:17:00.000Z",
      next_refresh_at: "2022-10-04T20:20:00.000Z",
      consecutive_failures: 0,
      upstream: "api.coingecko.com",
    },
    providers: [{
      name: "coingecko",
      state: "closed",
      consecutive_failures: 0,
      last_error: null,
      retry_at: null,
      wait_until: null,
    }],
    database: { engine: "sqlite", path: "data/crypto.sqlite", size_bytes: 5_452_595 },
    cluster: { role: "single" },
    data: {
      coins: 100,
      fetched_at: "2022-10-04T20:17:00.532Z",
      age_seconds: 150,
      stale: false,
      source: "coingecko",
      rates_fetched_at: "2022-10-04T20:17:00.532Z",
      currencies: 61,
    },
    ...overrides,
  };
}
