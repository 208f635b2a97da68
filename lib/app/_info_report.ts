/**
 * The `INFO` report of a running service: version, uptime, connections, ingestion, providers,
 * database and cluster role.
 *
 * @module
 */

import type { ServiceReport } from "../wire/info_report.ts";
import type { ClusterMember } from "../cluster/cluster.ts";
import type { Repository } from "../storage/repository.ts";
import type { PriceServer } from "../server/price_server.ts";
import { VERSION } from "../util/version.ts";
import { formatDuration } from "../util/format_duration.ts";
import type { Ingestion } from "./_ingestion.ts";
import type { LongTailParts } from "./_long_tail.ts";

/** What the report reads, once every part of the service exists. */
export interface ReportedParts {
  readonly startedAt: number;
  /** The host of `--api-url`. */
  readonly upstream: string;
  readonly server: PriceServer;
  readonly ingestion: Ingestion;
  readonly repository: Repository;
  readonly member: ClusterMember | null;
  /** The replica's name (`--name`, by default its address in cluster mode), "" for none. */
  readonly name: () => string;
  readonly longTail: LongTailParts | null;
}

/** The `INFO` report of the service now. */
export function infoReport(parts: ReportedParts): ServiceReport {
  const { server, repository } = parts;
  const status = parts.ingestion.ingestor.status;
  return {
    version: VERSION,
    uptime_seconds: Math.round((Date.now() - parts.startedAt) / 1000),
    connections: { open: server.stats.connectionsOpen, served: server.stats.connectionsServed },
    requests: server.stats.requests,
    errors: server.stats.errors,
    ingestion: {
      last_attempt_at: status.lastAttemptAt,
      duration_ms: status.lastDurationMs,
      coins: status.lastCoins,
      result: status.lastOk === null ? null : status.lastOk ? "ok" : "failed",
      error: status.lastError,
      last_success_at: status.lastSuccessAt,
      next_refresh_at: status.nextRunAt,
      consecutive_failures: status.consecutiveFailures,
      upstream: parts.upstream,
    },
    providers: parts.ingestion.chain.statuses,
    upstream_budget: parts.ingestion.budget.statuses(),
    long_tail: parts.longTail === null ? null : longTailReport(parts.longTail),
    database: {
      engine: repository.engine,
      path: repository.description,
      size_bytes: parts.ingestion.sizer.bytes,
    },
    cluster: clusterReport(parts),
  };
}

/** The cluster section: the role and, so that a client behind a balancer can tell, the name. */
function clusterReport(parts: ReportedParts): ServiceReport["cluster"] {
  const name = parts.name();
  const status = parts.member?.status ?? { role: "single" as const };
  return name === "" ? status : { ...status, name };
}

/**
 * The text of `NO_DATA` before the first snapshot: when the next attempt is, so a client offline
 * or behind open breakers knows how long "shortly" is.
 */
export function noPricesYet(parts: ReportedParts | undefined, now = Date.now()): string {
  const first = "No prices yet: the first ingestion has not succeeded";
  if (parts?.member?.status.role === "follower") {
    return "No prices yet: the cluster's leader has stored none, try again shortly";
  }
  const next = parts?.ingestion.ingestor.status.nextRunAt ?? null;
  if (next === null) return `${first}, try again shortly`;
  const inMs = Math.max(0, Date.parse(next) - now);
  return `${first}; next attempt in ${formatDuration(inMs)} (${next.slice(11, 19)} UTC)`;
}

/** The long tail's part of `INFO`: the directory, the coins tracked, on-demand requests. */
function longTailReport(parts: LongTailParts): Record<string, unknown> {
  return {
    directory_coins: parts.keeper.size,
    directory_fetched_at: parts.keeper.fetchedAt,
    tracked: parts.longTail.trackedCount,
    on_demand_requests: parts.longTail.batches,
  };
}
