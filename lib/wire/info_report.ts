/**
 * The server's `INFO` report: the shape the server assembles and the client reads. Newer servers
 * may add fields; a reader shows the ones it does not know as they are.
 *
 * @module
 */

import { isRecord } from "../util/is_record.ts";

/** The `ingestion` section: the last ingestion round and the next. */
export interface IngestionReport {
  /** When the last round started (ISO-8601), or null before the first. */
  last_attempt_at: string | null;
  duration_ms: number | null;
  /** Coins the last successful round stored. */
  coins: number | null;
  /** `ok` or `failed`, or null before the first round. */
  result: "ok" | "failed" | null;
  /** Why the last round failed, or null. */
  error: string | null;
  last_success_at: string | null;
  next_refresh_at: string | null;
  consecutive_failures: number;
  /** The upstream's host, e.g. `api.coingecko.com`. */
  upstream: string;
}

/** One provider of the ingestion chain and its circuit breaker. */
export interface ProviderReport {
  /** e.g. `coingecko`. */
  name: string;
  /** The breaker: `closed` (asked as usual), `open` (skipped until `retry_at`), `half-open`. */
  state: string;
  consecutive_failures: number;
  last_error: string | null;
  /** When an open breaker is tried again (ISO-8601); null when closed. */
  retry_at: string | null;
  /** Until when the provider asked not to be called (`Retry-After`), or null. */
  wait_until: string | null;
}

/** The `database` section. */
export interface DatabaseReport {
  /** e.g. `sqlite` or `postgres`. */
  engine: string;
  /** Where it is, without a password. */
  path: string;
  size_bytes: number | null;
}

/** The `cluster` section: `single` without a cluster, else this replica's role. */
export interface ClusterReport {
  role: "single" | "leader" | "follower";
  /** The replica's name, when it has one. */
  name?: string;
  database?: { host: string; port: number; name: string | null };
  leader_since?: string;
  following_since?: string;
  last_snapshot_notice_at?: string | null;
}

/** The `data` section: the snapshot being served. */
export interface DataReport {
  coins: number;
  fetched_at: string | null;
  age_seconds: number | null;
  stale: boolean;
  source: string | null;
  rates_fetched_at: string | null;
  currencies: number;
}

/** What the service reports of itself in `INFO`; the market adds {@linkcode DataReport}. */
export interface ServiceReport {
  version: string;
  uptime_seconds: number;
  connections: { open: number; served: number };
  /** Requests by command. */
  requests: Record<string, number>;
  /** Error replies by code. */
  errors: Record<string, number>;
  ingestion: IngestionReport;
  providers: ProviderReport[];
  /** Upstream calls made and left a minute, per provider (lib/app/_info_report.ts). */
  upstream_budget?: unknown;
  /** The coins beyond the top N (directory, tracked coins), null with the long tail off. */
  long_tail?: unknown;
  database: DatabaseReport;
  cluster: ClusterReport;
}

/** The whole `INFO` report. */
export interface InfoReport extends ServiceReport {
  data: DataReport;
  /** Fields added by newer servers. */
  [key: string]: unknown;
}

/** Whether `v` has every section of an {@linkcode InfoReport}, each of its shape. */
export function isInfoReport(v: unknown): v is InfoReport {
  return isRecord(v) && typeof v.version === "string" && typeof v.uptime_seconds === "number" &&
    isRecord(v.connections) && typeof v.connections.open === "number" &&
    typeof v.connections.served === "number" && isCounters(v.requests) &&
    isCounters(v.errors) && isIngestion(v.ingestion) && Array.isArray(v.providers) &&
    v.providers.every(isProvider) && isDatabase(v.database) && isCluster(v.cluster) &&
    isData(v.data);
}

function isCounters(v: unknown): v is Record<string, number> {
  return isRecord(v) && Object.values(v).every((n) => typeof n === "number");
}

function isIngestion(v: unknown): v is IngestionReport {
  return isRecord(v) && timeOrNull(v.last_attempt_at) && numberOrNull(v.duration_ms) &&
    numberOrNull(v.coins) && (v.result === "ok" || v.result === "failed" || v.result === null) &&
    stringOrNull(v.error) && timeOrNull(v.last_success_at) && timeOrNull(v.next_refresh_at) &&
    typeof v.consecutive_failures === "number" && typeof v.upstream === "string";
}

function isProvider(v: unknown): v is ProviderReport {
  return isRecord(v) && typeof v.name === "string" && typeof v.state === "string" &&
    typeof v.consecutive_failures === "number" && stringOrNull(v.last_error) &&
    timeOrNull(v.retry_at) && timeOrNull(v.wait_until);
}

function isDatabase(v: unknown): v is DatabaseReport {
  return isRecord(v) && typeof v.engine === "string" && typeof v.path === "string" &&
    numberOrNull(v.size_bytes);
}

function isCluster(v: unknown): v is ClusterReport {
  if (!isRecord(v)) return false;
  if (v.role === "single") return true;
  return (v.role === "leader" || v.role === "follower") &&
    (v.name === undefined || typeof v.name === "string") && isRecord(v.database) &&
    typeof v.database.host === "string" && typeof v.database.port === "number" &&
    stringOrNull(v.database.name) && timeOrNull(v.last_snapshot_notice_at) &&
    typeof (v.role === "leader" ? v.leader_since : v.following_since) === "string";
}

function isData(v: unknown): v is DataReport {
  return isRecord(v) && typeof v.coins === "number" && timeOrNull(v.fetched_at) &&
    numberOrNull(v.age_seconds) && typeof v.stale === "boolean" && stringOrNull(v.source) &&
    timeOrNull(v.rates_fetched_at) && typeof v.currencies === "number";
}

function numberOrNull(v: unknown): boolean {
  return v === null || typeof v === "number";
}

function stringOrNull(v: unknown): boolean {
  return v === null || typeof v === "string";
}

function timeOrNull(v: unknown): boolean {
  return v === null || (typeof v === "string" && !Number.isNaN(Date.parse(v)));
}
