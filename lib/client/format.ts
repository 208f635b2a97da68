/**
 * Plain-text rendering for the client's terminal beyond what `lib/text/` shares with the server:
 * price history charts, the currency list, the `INFO` report, update lines and whether to colour.
 *
 * Everything here is pure except {@linkcode useColor}, which looks at a stream and the
 * environment.
 *
 * @module
 */

import type { CoinView } from "../wire/coin_view.ts";
import type { CurrencyInfo, History } from "./price_client.ts";
import { sparkline } from "./sparkline.ts";
import { lineChart } from "./chart.ts";
import { HISTORY_RANGE_MS, isHistoryRange } from "../wire/history_range.ts";
import { ANSI, changeColor, paint } from "../text/ansi.ts";
import { DASH } from "../text/dash.ts";
import { displayWidth } from "../text/display_width.ts";
import { fieldLines, titleLines } from "../text/field_lines.ts";
import { formatChange } from "../text/format_change.ts";
import { formatMoney } from "../text/format_money.ts";
import type { FormatOptions } from "../text/format_options.ts";
import { formatAge, formatTime } from "../text/format_time.ts";
import { safeText as clean } from "../text/safe_text.ts";
import { formatDuration } from "../util/format_duration.ts";
import { isRecord } from "../util/is_record.ts";
import { readEnv } from "../util/read_env.ts";

/** Narrower terminals get a sparkline instead of the chart. */
const CHART_MIN_WIDTH = 60;
const CHART_ROWS = 8;

/** Options for {@linkcode formatHistory}. */
export interface HistoryOptions extends FormatOptions {
  /** Terminal columns; the chart or sparkline takes all of them but an indent. */
  width: number;
  /** A line saying how the prices were obtained, e.g. converted by the client. */
  note?: string;
}

/**
 * Renders a price history as a summary and, from 60 columns, a line chart with a price axis and
 * a time axis (UTC) over the whole range, gaps shown as gaps; narrower, a sparkline. No trailing
 * newline.
 */
export function formatHistory(history: History, options: HistoryOptions): string {
  const { color } = options;
  const symbol = clean(history.symbol);
  const range = clean(history.range);
  const currency = clean(history.currency);
  const { points } = history;
  if (points.length === 0) {
    return `No prices stored for ${symbol} in the last ${range}`;
  }
  const money = (v: number | null) => v === null ? DASH : formatMoney(v, currency, options);
  const count = history.count.toLocaleString("en-US");
  const shown = points.length < history.count ? `, ${points.length} shown` : "";
  const fields: [string, string][] = [
    ["Last", money(history.last)],
    ["Change", paint(formatChange(history.change_pct), changeColor(history.change_pct), color)],
    ["First", money(history.first)],
    ["Low", money(history.min)],
    ["High", money(history.max)],
    [
      "Prices",
      `${count} stored${shown}, ${formatTime(points[0][0])} to ${formatTime(points.at(-1)![0])}`,
    ],
  ];
  const lines = [
    ...titleLines(`${symbol} over the last ${range} (${currency})`, options),
    ...fieldLines(fields, options),
  ];
  if (options.width >= CHART_MIN_WIDTH) {
    // The whole window, so prices that only started recently start mid-chart.
    const last = Date.parse(points.at(-1)![0]);
    const span = isHistoryRange(history.range) ? HISTORY_RANGE_MS[history.range] : undefined;
    // Enough of the time to tell the ends apart: 16:35 for an hour, 10-03 16:35 for a day.
    const [from, to] = span === undefined || span < 86_400_000
      ? [11, 16]
      : span === 86_400_000
      ? [5, 16]
      : [5, 10];
    const chart = lineChart(points, {
      width: options.width - 1,
      height: CHART_ROWS,
      from: span === undefined ? undefined : last - span,
      to: last,
      label: (price) => formatMoney(price, currency, options),
      time: (ms) => new Date(ms).toISOString().slice(from, to).replace("T", " "),
    });
    lines.push(...chart.map((line) => paint(line, changeColor(history.change_pct), color)));
  } else {
    lines.push(
      "  " + paint(
        sparkline(points.map(([, price]) => price), Math.max(1, options.width - 2)),
        changeColor(history.change_pct),
        color,
      ),
    );
  }
  if (options.note) lines.push(paint(options.note, ANSI.dim, color));
  return lines.join("\n");
}

/** Renders the currencies as a table of code, unit, name and type, without a trailing newline. */
export function formatCurrencies(
  currencies: readonly CurrencyInfo[],
  options: FormatOptions,
): string {
  if (currencies.length === 0) return "No currencies available";
  const header = ["Code", "Unit", "Name", "Type"];
  const rows = currencies.map((c) => [c.code, c.unit, c.name, c.type].map(clean));
  const widths = header.map((h, i) =>
    Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i])))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      i === cells.length - 1 ? cell : cell + " ".repeat(widths[i] - displayWidth(cell))
    ).join("  ");
  return [
    paint(line(header), ANSI.dim, options.color),
    ...rows.map(line),
  ].join("\n");
}

/**
 * Renders the server's `INFO` report as indented `label  value` lines, without a trailing
 * newline. Every field is shown, also ones this client does not know: keys ending in
 * `_seconds`, `_ms`, `_bytes` and `_at` are written as durations, sizes and times.
 */
export function formatInfo(info: Record<string, unknown>, options: FormatOptions): string {
  const now = options.now ?? new Date();
  const lines: string[] = [];
  const walk = (object: Record<string, unknown>, indent: string) => {
    const entries = Object.entries(object);
    const labelWidth = Math.max(...entries.map(([key]) => displayWidth(label(key))));
    for (const [key, value] of entries) {
      const name = paint(label(key).padEnd(labelWidth), ANSI.dim, options.color);
      const heading = paint(label(key), ANSI.dim, options.color);
      if (key === "cluster" && isRecord(value)) {
        lines.push(`${indent}${name}  ${clusterWords(value, now)}`);
      } else if (isRecord(value) && Object.keys(value).length > 0 && !isCounters(value)) {
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
function clusterWords(cluster: Record<string, unknown>, now: Date): string {
  const { role, database, leader_since, following_since, last_snapshot_notice_at } = cluster;
  if (role !== "leader" && role !== "follower") return "single server";
  const since = role === "leader" ? leader_since : following_since;
  const words = [
    `${role === "leader" ? "leader (ingests)" : "follower"} since ${
      infoValue("since_at", since, now)
    }`,
  ];
  if (isRecord(database)) {
    const name = typeof database.name === "string" ? `/${database.name}` : "";
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

/**
 * One line for a coin update when output is not a terminal:
 * `2022-10-04T20:17:00Z BTC $20,220.00 +3.51%`, timed by when the server fetched the price.
 */
export function formatUpdateLine(coin: CoinView, options: { unit?: string } = {}): string {
  const time = new Date(coin.fetched_at);
  const stamp = Number.isNaN(time.getTime()) ? DASH : time.toISOString().replace(/\.\d{3}Z$/, "Z");
  return `${stamp} ${clean(coin.symbol)} ${formatMoney(coin.price, coin.currency, options)} ${
    formatChange(coin.change_24h)
  }`;
}

/**
 * Whether to colour output written to `stream`: only on a terminal, and only when `NO_COLOR` is
 * unset or empty (https://no-color.org).
 */
export function useColor(
  stream: { isTerminal(): boolean },
  env: (name: string) => string | undefined = readEnv,
): boolean {
  return stream.isTerminal() && !env("NO_COLOR");
}
