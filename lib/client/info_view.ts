/**
 * The server's `INFO` report for a person: one screen of `Label  value` lines (about 15 for a
 * single server), so that it and the menu under it fit a 30-row terminal. Provider circuit
 * breakers are said in words (`ok`, `failing, retry in 4m`); long errors wrap to the width.
 * Fields this client does not know follow, written by their key's suffix.
 *
 * @module
 */

import type {
  ClusterReport,
  DataReport,
  InfoReport,
  IngestionReport,
  ProviderReport,
} from "../wire/info_report.ts";
import { DASH } from "../text/dash.ts";
import { fieldLines } from "../text/field_lines.ts";
import type { FormatOptions } from "../text/format_options.ts";
import { formatAge, formatTime } from "../text/format_time.ts";
import { safeText as clean } from "../text/safe_text.ts";
import { formatDuration } from "../util/format_duration.ts";
import { isRecord } from "../util/is_record.ts";

/** The keys of each section this view writes in words; others are shown as they come. */
const KNOWN: Readonly<Record<string, readonly string[] | true>> = {
  version: true,
  uptime_seconds: true,
  connections: ["open", "served"],
  requests: true,
  errors: true,
  ingestion: [
    "last_attempt_at",
    "duration_ms",
    "coins",
    "result",
    "error",
    "last_success_at",
    "next_refresh_at",
    "consecutive_failures",
    "upstream",
  ],
  providers: true,
  database: ["engine", "path", "size_bytes"],
  cluster: true,
  data: [
    "coins",
    "fetched_at",
    "age_seconds",
    "stale",
    "source",
    "rates_fetched_at",
    "currencies",
  ],
};

/** Renders the report as `Label  value` lines fitted to `options.width`, no trailing newline. */
export function formatInfo(report: InfoReport, options: FormatOptions): string {
  const now = options.now ?? new Date();
  const at = (iso: string | null) => when(iso, now);
  const fields: [string, string][] = [
    [
      "Server",
      `version ${clean(report.version)}, up ${formatDuration(report.uptime_seconds * 1000)}`,
    ],
    ["Cluster", clusterWords(report.cluster, at)],
    [
      "Connections",
      `${count(report.connections.open)} open, ${count(report.connections.served)} served`,
    ],
    ["Requests", counters(report.requests)],
    ["Errors", counters(report.errors)],
    ["Data", dataWords(report.data, at)],
    ...ingestionFields(report.ingestion, at),
    ...report.providers.map((p, i): [string, string] => [
      i === 0 ? "Providers" : "",
      providerWords(p, now),
    ]),
    ["Database", databaseWords(report)],
    ...Object.entries(leftovers(report)).map(([key, value]): [string, string] => [
      label(key),
      infoValue(key, value, now),
    ]),
  ];
  // An error's URL may be longer than a line: cut rather than overflow.
  return fieldLines(fields, { ...options, cutWords: true }).join("\n");
}

/** A time and how far it is from now: `20:17 UTC (2m ago)`, with the date when not today. */
function when(iso: string | null, now: Date): string {
  return iso === null ? DASH : infoValue("_at", iso, now);
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function counters(values: Record<string, number>): string {
  const entries = Object.entries(values);
  return entries.length === 0
    ? "none"
    : entries.map(([k, v]) => `${clean(k)} ${count(v)}`).join(", ");
}

/**
 * The `cluster` section in words: `replica a, leader (ingests) since 20:17 UTC (2m ago),
 * database db.example:5432/crypto, last snapshot notice 20:19 UTC (5s ago)`, or `single server`.
 */
function clusterWords(cluster: ClusterReport, at: (iso: string | null) => string): string {
  const { role, database, leader_since, following_since, last_snapshot_notice_at } = cluster;
  if (role === "single") return "single server";
  const since = role === "leader" ? leader_since : following_since;
  const words = [
    `${role === "leader" ? "leader (ingests)" : "follower"} since ${at(since ?? null)}`,
  ];
  if (cluster.name !== undefined) words.unshift(`replica ${clean(cluster.name)}`);
  if (database !== undefined) {
    const name = database.name !== null ? `/${database.name}` : "";
    words.push(`database ${clean(`${database.host}:${database.port}${name}`)}`);
  }
  words.push(`last snapshot notice ${at(last_snapshot_notice_at ?? null)}`);
  return words.join(", ");
}

function dataWords(data: DataReport, at: (iso: string | null) => string): string {
  if (data.fetched_at === null) return "none yet";
  const source = data.source === null ? "" : ` from ${clean(data.source)}`;
  return `${count(data.coins)} coins${source}, fetched ${at(data.fetched_at)}` +
    `${data.stale ? ", stale" : ""}; ${count(data.currencies)} currencies`;
}

/** The last ingestion round on one line, its error (wrapped) on the next, then the next round. */
function ingestionFields(
  ingestion: IngestionReport,
  at: (iso: string | null) => string,
): [string, string][] {
  const { result, last_attempt_at, duration_ms, coins, error, consecutive_failures } = ingestion;
  const took = duration_ms === null ? "" : ` in ${count(duration_ms)} ms`;
  const from = `from ${clean(ingestion.upstream)}`;
  const last = result === null
    ? `not run yet, ${from}`
    : result === "ok"
    ? `ok ${at(last_attempt_at)}${took}, ${count(coins ?? 0)} coins ${from}`
    : `failed ${at(last_attempt_at)}${took} (${consecutive_failures} in a row), ${from}`;
  return [
    ["Ingestion", last],
    ...(error === null ? [] : [["", `error: ${clean(error)}`] as [string, string]]),
    ...(result === "failed" && ingestion.last_success_at !== null
      ? [["", `last success ${at(ingestion.last_success_at)}`] as [string, string]]
      : []),
    ["Next refresh", at(ingestion.next_refresh_at)],
  ];
}

/**
 * A provider in words rather than breaker states: `coingecko ok`, `coinpaprika failing, retry in
 * 4m: <error>`, with a `Retry-After` the provider asked for.
 */
function providerWords(p: ProviderReport, now: Date): string {
  const inFuture = (iso: string | null) => {
    const ms = iso === null ? NaN : Date.parse(iso) - now.getTime();
    return ms > 0 ? `in ${formatDuration(ms)}` : "now";
  };
  let words = `${clean(p.name)} `;
  if (p.state === "closed") {
    words += p.consecutive_failures === 0
      ? "ok"
      : `ok, ${p.consecutive_failures} failure${p.consecutive_failures === 1 ? "" : "s"} in a row`;
  } else {
    words += `failing, retry ${inFuture(p.retry_at)}`;
  }
  if (p.wait_until !== null) words += `, asked to wait until ${formatTime(p.wait_until)}`;
  if (p.state !== "closed" && p.last_error !== null) words += `: ${clean(p.last_error)}`;
  return words;
}

function databaseWords(report: InfoReport): string {
  const { engine, path, size_bytes } = report.database;
  const size = size_bytes === null ? "" : `, ${formatBytes(size_bytes)}`;
  return `${clean(engine)} ${clean(path)}${size}`;
}

/** What the report holds beyond {@linkcode KNOWN}: new sections, and new keys of known ones. */
function leftovers(report: InfoReport): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(report)) {
    const known = KNOWN[key];
    if (known === undefined) {
      rest[key] = value;
    } else if (Array.isArray(known) && isRecord(value)) {
      for (const [sub, v] of Object.entries(value)) {
        if (!known.includes(sub)) rest[`${key}_${sub}`] = v;
      }
    }
  }
  return rest;
}

function label(key: string): string {
  const words = key.replace(/_(seconds|ms|bytes)$/, "").replace(/_/g, " ");
  return clean(words.charAt(0).toUpperCase() + words.slice(1));
}

function infoValue(key: string, value: unknown, now: Date): string {
  if (value === null || value === undefined) return DASH;
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (key.endsWith("_seconds")) return formatDuration(value * 1000);
    if (key.endsWith("_ms")) return `${value.toLocaleString("en-US")} ms`;
    if (key.endsWith("_bytes")) return formatBytes(value);
    return value.toLocaleString("en-US");
  }
  if (typeof value === "string") {
    if (key.endsWith("_at") && !Number.isNaN(Date.parse(value))) {
      const delta = Date.parse(value) - now.getTime();
      const today = now.toISOString().slice(0, 11).replace("T", " ");
      const time = formatTime(value);
      return `${time.startsWith(today) ? time.slice(today.length) : time} (${
        delta > 1000 ? `in ${formatDuration(delta)}` : formatAge(value, now)
      })`;
    }
    return clean(value);
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? "none" : value.map((v) => infoValue("", v, now)).join(", ");
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    return entries.length === 0
      ? "none"
      : entries.map(([k, v]) => `${clean(k)} ${infoValue(k, v, now)}`).join(", ");
  }
  return clean(String(value));
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i]}`;
}
