/**
 * The server's `INFO` report for a person.
 *
 * @module
 */

import type { ClusterReport, InfoReport } from "../wire/info_report.ts";
import { ANSI, paint } from "../text/ansi.ts";
import { DASH } from "../text/dash.ts";
import { displayWidth } from "../text/display_width.ts";
import type { FormatOptions } from "../text/format_options.ts";
import { formatAge, formatTime } from "../text/format_time.ts";
import { safeText as clean } from "../text/safe_text.ts";
import { formatDuration } from "../util/format_duration.ts";
import { isRecord } from "../util/is_record.ts";

/**
 * Renders the server's `INFO` report as indented `label  value` lines, without a trailing
 * newline. Every field is shown, also ones this client does not know: keys ending in
 * `_seconds`, `_ms`, `_bytes` and `_at` are written as durations, sizes and times.
 */
export function formatInfo(report: InfoReport, options: FormatOptions): string {
  const now = options.now ?? new Date();
  const info: Record<string, unknown> = { ...report, cluster: clusterWords(report.cluster, now) };
  const lines: string[] = [];
  const walk = (object: Record<string, unknown>, indent: string) => {
    const entries = Object.entries(object);
    const labelWidth = Math.max(...entries.map(([key]) => displayWidth(label(key))));
    for (const [key, value] of entries) {
      const name = paint(label(key).padEnd(labelWidth), ANSI.dim, options.color);
      const heading = paint(label(key), ANSI.dim, options.color);
      if (isRecord(value) && Object.keys(value).length > 0 && !isCounters(value)) {
        lines.push(`${indent}${heading}`);
        walk(value, indent + "  ");
      } else if (
        Array.isArray(value) && value.length > 0 && value.every((v) => isRecord(v))
      ) {
        lines.push(`${indent}${heading}`);
        for (const item of value) {
          walk(item as Record<string, unknown>, indent + "  ");
          lines.push("");
        }
        lines.pop();
      } else {
        lines.push(`${indent}${name}  ${infoValue(key, value, now)}`);
      }
    }
  };
  walk(info, "");
  return lines.join("\n");
}

/**
 * The `cluster` section in words: `leader since 20:17 UTC (2m ago) on db.example:5432/crypto,
 * last snapshot notice 20:19 UTC (5s ago)`, or `single server` without a cluster.
 */
function clusterWords(cluster: ClusterReport, now: Date): string {
  const { role, database, leader_since, following_since, last_snapshot_notice_at } = cluster;
  if (role === "single") return "single server";
  const since = role === "leader" ? leader_since : following_since;
  const words = [
    `${role === "leader" ? "leader (ingests)" : "follower"} since ${
      infoValue("since_at", since, now)
    }`,
  ];
  if (database !== undefined) {
    const name = database.name !== null ? `/${database.name}` : "";
    words.push(`database ${clean(`${database.host}:${database.port}${name}`)}`);
  }
  words.push(`last snapshot notice ${infoValue("notice_at", last_snapshot_notice_at, now)}`);
  return words.join(", ");
}

function label(key: string): string {
  const words = key.replace(/_(seconds|ms|bytes)$/, "").replace(/_/g, " ");
  return clean(words.charAt(0).toUpperCase() + words.slice(1));
}

/** An object of counters, e.g. requests by command: shown on one line. */
function isCounters(v: Record<string, unknown>): boolean {
  return Object.values(v).every((n) => typeof n === "number");
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
      const then = new Date(value);
      const delta = then.getTime() - now.getTime();
      return `${formatTime(value)} (${
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
