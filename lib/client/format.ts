/**
 * Plain-text rendering of prices for a terminal: numbers, tables and single coins.
 *
 * Everything here is pure except {@linkcode useColor}, which looks at a stream and the
 * environment.
 *
 * @module
 */

import type { CoinView, CurrencyInfo, History } from "./price_client.ts";
import { sparkline } from "./sparkline.ts";
import { lineChart } from "./chart.ts";
import { HISTORY_RANGE_MS, isHistoryRange } from "../wire/history_range.ts";
import { safeText } from "./safe_text.ts";
import { formatDuration } from "../util/format_duration.ts";
import { isRecord } from "../util/is_record.ts";
import { readEnv } from "../util/read_env.ts";

/** Options for {@linkcode formatTable} and {@linkcode formatCoin}. */
export interface FormatOptions {
  /** Emit ANSI colour codes. */
  color: boolean;
  /** The current time, for ages like `3m ago`; defaults to the real clock. */
  now?: Date;
  /**
   * How amounts are marked in a currency `Intl` does not know (e.g. `sats` for SATS, from
   * `CURRENCIES`); defaults to the currency code.
   */
  unit?: string;
  /**
   * The direction of each coin's last price move by symbol (`1` up, `-1` down), for a live
   * table: the price is coloured green or red.
   */
  moves?: ReadonlyMap<string, number>;
  /**
   * Terminal columns the output must fit in: a table then adds the market cap and the source
   * when they fit, and drops its least useful columns first when it is narrow. Without it, a
   * table has its classic columns and no width limit.
   */
  width?: number;
}

const ANSI = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
} as const;
const DASH = "—";
/** Narrower terminals get a sparkline instead of the chart. */
const CHART_MIN_WIDTH = 60;
const CHART_ROWS = 8;
const MAX_NAME_WIDTH = 32;

/** Options for {@linkcode formatMoney}. */
export interface MoneyOptions {
  /** Marks amounts in a currency `Intl` does not know, e.g. crypto; defaults to the code. */
  unit?: string;
  /** Round to whole units, for large totals such as a market cap. */
  whole?: boolean;
}

/**
 * Formats an amount the way its currency is written, with the locale of the country the code
 * names: `$20,220.00`, `€1,355.37`, `123.456.789 ₫` (no decimals for VND), `¥2,896,312`.
 * Amounts too small for the currency's usual decimals get four significant digits instead
 * (`0,2712 ₫`, `$0.00001149`). Currencies `Intl` does not know (BTC, SATS, XAU...) are written
 * as `0.06703 ETH` with `unit`, or the code.
 */
export function formatMoney(amount: number, currency: string, options: MoneyOptions = {}): string {
  if (!Number.isFinite(amount)) return DASH;
  const code = currency.toUpperCase();
  const { locale, intl, decimals } = currencyStyle(code);
  const abs = Math.abs(amount);
  const rounded = Number(abs.toPrecision(4));
  let fraction: [number, number];
  if (options.whole) {
    fraction = [0, 0];
  } else if (abs === 0 || rounded >= 10 ** (2 - decimals)) {
    fraction = [decimals, decimals];
  } else {
    // Four significant digits, never fewer decimals than the currency's own.
    const exponent = Number(rounded.toExponential().split("e")[1]);
    fraction = [decimals, Math.min(20, Math.max(decimals, 3 - exponent))];
  }
  const text = numberFormat(locale, intl ? code : undefined, fraction).format(amount)
    .replace(BIDI_MARKS, "")
    // ICU's Japanese locale writes the fullwidth yen, which stands out in a table: ¥ as usual.
    .replace(/\uffe5/g, "¥");
  return intl ? text : `${text} ${clean(options.unit ?? code)}`;
}

/** How one currency is written: its locale, whether `Intl` knows it, its usual decimals. */
function currencyStyle(code: string): { locale: string; intl: boolean; decimals: number } {
  let style = STYLES.get(code);
  if (style === undefined) {
    const intl = /^[A-Z]{3}$/.test(code) && INTL_CURRENCIES.has(code);
    let locale = "en-US";
    if (intl && code !== "USD") {
      try {
        // ISO 4217 codes start with the ISO 3166 country: VND -> VN -> vi-VN. The script is
        // left out because ICU has no data for e.g. en-Latn-BM but has it for en-BM.
        const likely = new Intl.Locale(`und-${code.slice(0, 2)}`).maximize();
        locale = `${likely.language}-${likely.region}`;
        numberFormat(locale, code, [0, 0]);
      } catch {
        locale = "en-US";
      }
    }
    const decimals = intl
      ? numberFormat(locale, code, undefined).resolvedOptions().maximumFractionDigits ?? 2
      : 2;
    style = { locale, intl, decimals };
    STYLES.set(code, style);
  }
  return style;
}

const STYLES = new Map<string, { locale: string; intl: boolean; decimals: number }>();
const FORMATS = new Map<string, Intl.NumberFormat>();
const INTL_CURRENCIES = new Set(Intl.supportedValuesOf("currency"));
// Right-to-left locales wrap amounts in direction marks, which a terminal shows as nothing at
// best and as garbage at worst.
const BIDI_MARKS = /[\u200e\u200f\u061c]/g;

function numberFormat(
  locale: string,
  currency: string | undefined,
  fraction: [number, number] | undefined,
): Intl.NumberFormat {
  const key = `${locale} ${currency} ${fraction}`;
  let format = FORMATS.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(`${locale}-u-nu-latn`, {
      ...(currency === undefined ? {} : { style: "currency", currency }),
      ...(fraction === undefined
        ? {}
        : { minimumFractionDigits: fraction[0], maximumFractionDigits: fraction[1] }),
    });
    FORMATS.set(key, format);
  }
  return format;
}

/** Formats a 24-hour change in percent: `+3.51%`, `-8.20%`, `0.00%`, or `—` when unknown. */
export function formatChange(pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return DASH;
  const digits = Math.abs(pct).toFixed(2);
  if (Number(digits) === 0) return "0.00%";
  return `${pct > 0 ? "+" : "-"}${digits}%`;
}

/** A column of the coin table. */
interface Column {
  header: string;
  right: boolean;
  cell: (coin: CoinView) => string;
  paint?: (coin: CoinView) => string;
  /** Only when the table has a width limit. */
  wideOnly?: boolean;
  /** Dropped in this order (1 first) when the table is too wide; never when undefined. */
  drop?: number;
}

/**
 * Renders coins as an aligned table, one line per coin, without a trailing newline: rank,
 * symbol, name, price, 24h change, and when `width` allows market cap, last update and source.
 * Every line has the same display width, at most `width`: columns are dropped least useful
 * first (source, market cap, age, rank), then names are shortened, then dropped.
 */
export function formatTable(coins: readonly CoinView[], options: FormatOptions): string {
  const { color } = options;
  const now = options.now ?? new Date();
  if (coins.length === 0) return "No coins available";
  const currency = clean(coins[0].currency);
  const all: Column[] = [
    { header: "#", right: true, cell: (c) => String(c.rank), drop: 4 },
    { header: "Symbol", right: false, cell: (c) => clean(c.symbol) },
    { header: "Name", right: false, cell: (c) => truncate(clean(c.name), MAX_NAME_WIDTH), drop: 5 },
    {
      header: `Price (${currency})`,
      right: true,
      cell: (c) => formatMoney(c.price, c.currency, options),
      paint: (c) => moveColor(options.moves?.get(c.symbol)),
    },
    {
      header: "24h",
      right: true,
      cell: (c) => formatChange(c.change_24h),
      paint: (c) => changeColor(c.change_24h),
      drop: 6,
    },
    {
      header: "Market cap",
      right: true,
      cell: (c) =>
        c.market_cap === null
          ? DASH
          : formatMoney(c.market_cap, c.currency, { unit: options.unit, whole: true }),
      wideOnly: true,
      drop: 2,
    },
    { header: "Updated", right: true, cell: (c) => formatAge(c.updated_at, now), drop: 3 },
    { header: "Source", right: false, cell: (c) => clean(c.source), wideOnly: true, drop: 1 },
  ];
  const limit = options.width;
  let columns = all.filter((c) => limit !== undefined || !c.wideOnly);
  const cells = new Map(columns.map((col) => [col, coins.map(col.cell)]));
  const widthOf = (col: Column) =>
    Math.max(displayWidth(col.header), ...cells.get(col)!.map(displayWidth));
  const total = () => columns.reduce((n, col) => n + widthOf(col), 0) + 2 * (columns.length - 1);
  if (limit !== undefined) {
    const name = columns.find((col) => col.header === "Name")!;
    for (const step of [1, 2, 3, 4, 5, 6]) {
      if (total() <= limit) break;
      if (step === 5) {
        // Names shortened before they go: down to 6 columns.
        const room = widthOf(name) - (total() - limit);
        if (room >= 6) {
          cells.set(name, cells.get(name)!.map((n) => truncate(n, room)));
          continue;
        }
      }
      columns = columns.filter((col) => col.drop !== step);
    }
  }
  const stale = staleNote(coins, now, color, limit);
  if (limit !== undefined && total() > limit) {
    return stackedTable(coins, columns, cells, limit, options, stale);
  }
  const widths = columns.map(widthOf);
  const line = (texts: string[], paints: string[]) =>
    texts.map((text, i) => {
      const gap = " ".repeat(Math.max(0, widths[i] - displayWidth(text)));
      const painted = paint(text, paints[i], color);
      return columns[i].right ? gap + painted : painted + gap;
    }).join("  ");
  const out = [
    line(columns.map((col) => col.header), columns.map(() => ANSI.dim)),
    paint("─".repeat(widths.reduce((a, b) => a + b) + 2 * (widths.length - 1)), ANSI.dim, color),
    ...coins.map((coin, n) =>
      line(columns.map((col) => cells.get(col)![n]), columns.map((col) => col.paint?.(coin) ?? ""))
    ),
  ];
  if (stale) out.push(stale);
  return out.join("\n");
}

/**
 * `list` narrower than symbol and price side by side (below about 20 columns): each coin's
 * symbol on a line, its price right-aligned on the next, so nothing wraps but a price wider than
 * the terminal, which is never cut. `columns` are the symbol and price columns left.
 */
function stackedTable(
  coins: readonly CoinView[],
  columns: readonly Column[],
  cells: ReadonlyMap<Column, string[]>,
  limit: number,
  options: FormatOptions,
  stale: string | undefined,
): string {
  const { color } = options;
  const [symbol, price] = [columns[0], columns.at(-1)!];
  const prices = cells.get(price)!;
  // The header names the currency; when even that is too wide, the currency code alone.
  const header = displayWidth(price.header) <= limit
    ? price.header
    : truncate(clean(coins[0].currency), limit);
  const width = Math.min(limit, Math.max(displayWidth(header), ...prices.map(displayWidth)));
  const pad = (text: string) => " ".repeat(Math.max(0, width - displayWidth(text)));
  const out = [
    paint(header, ANSI.dim, color),
    paint("─".repeat(width), ANSI.dim, color),
    ...coins.flatMap((coin, n) => [
      truncate(cells.get(symbol)![n], limit),
      pad(prices[n]) + paint(prices[n], price.paint?.(coin) ?? "", color),
    ]),
  ];
  if (stale) out.push(stale);
  return out.join("\n");
}

/** Renders one coin as a few aligned `label  value` lines, without a trailing newline. */
export function formatCoin(coin: CoinView, options: FormatOptions): string {
  const { color } = options;
  const now = options.now ?? new Date();
  const currency = clean(coin.currency);
  const fields: [string, string][] = [
    ["Price", formatMoney(coin.price, currency, options)],
    ["24h change", paint(formatChange(coin.change_24h), changeColor(coin.change_24h), color)],
    // A coin outside the provider's ranking (fetched on demand) has rank 0.
    ["Rank", coin.rank > 0 ? `#${coin.rank}` : DASH],
    [
      "Market cap",
      coin.market_cap === null
        ? DASH
        : formatMoney(coin.market_cap, currency, { unit: options.unit, whole: true }),
    ],
    ["Updated", formatAge(coin.updated_at, now)],
    ["Source", `${clean(coin.source)}, fetched ${formatAge(coin.fetched_at, now)}`],
  ];
  const lines = [
    ...titleLines(`${clean(coin.name)} (${clean(coin.symbol)})`, options),
    ...fieldLines(fields, options),
  ];
  const stale = staleNote([coin], now, color, options.width);
  if (stale) lines.push(stale);
  return lines.join("\n");
}

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

/** `2022-10-04 20:16 UTC`, or `—` for a time that does not parse. */
function formatTime(iso: string): string {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return DASH;
  return `${then.toISOString().slice(0, 16).replace("T", " ")} UTC`;
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
 * How long ago `iso` was: `12s ago`, `3m ago`, `5h ago`; older times as `2022-10-04 20:16 UTC`.
 * Unknown or unparsable times give `—`.
 */
export function formatAge(iso: string | null, now: Date): string {
  if (iso === null) return DASH;
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return DASH;
  const seconds = Math.floor((now.getTime() - then.getTime()) / 1000);
  if (seconds < 1) return "just now"; // also a little clock skew into the future
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${then.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * Columns `s` takes in a terminal: East Asian wide characters and most emoji take 2, combining
 * marks and zero-width characters 0, everything else 1. ANSI escape sequences are not counted.
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ESCAPES, "")) w += charWidth(ch);
  return w;
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

// deno-lint-ignore no-control-regex
const ESCAPES = /\x1b\[[0-9;]*m/g;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufe00-\ufe0f]$/u;
const WIDE =
  /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

/** Server text made safe for the terminal (see `safeText`). */
const clean = safeText;

function truncate(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

function paint(s: string, code: string, color: boolean): string {
  return color && code !== "" ? `${code}${s}${ANSI.reset}` : s;
}

function moveColor(move: number | undefined): string {
  return move === undefined || move === 0 ? "" : move > 0 ? ANSI.green : ANSI.red;
}

function changeColor(pct: number | null): string {
  if (pct === null || Number(Math.abs(pct).toFixed(2)) === 0) return "";
  return pct > 0 ? ANSI.green : ANSI.red;
}

function staleNote(
  coins: readonly CoinView[],
  now: Date,
  color: boolean,
  width?: number,
): string | undefined {
  const stale = coins.find((c) => c.stale);
  if (!stale) return undefined;
  const text = `Prices may be out of date: the server last fetched them ${
    formatAge(stale.fetched_at, now)
  } from ${clean(stale.source)}`;
  return wrap(text, width).map((line) => paint(line, ANSI.yellow, color)).join("\n");
}

/** A bold heading, wrapped at its spaces to `options.width`. */
function titleLines(text: string, options: FormatOptions): string[] {
  return wrap(text, options.width).map((line) => paint(line, ANSI.bold, options.color));
}

/**
 * `  Label  value` lines, the labels padded to one width. With `options.width`, a value too
 * long wraps at its spaces, under itself; where that leaves it fewer than {@linkcode MIN_VALUE}
 * columns (a terminal below about 20), each value goes on the lines under its label instead.
 * Values must not hold spaces inside colour codes.
 */
function fieldLines(fields: readonly [string, string][], options: FormatOptions): string[] {
  const { color, width } = options;
  const labelWidth = Math.max(...fields.map(([label]) => label.length));
  const indent = 2 + labelWidth + 2;
  if (width === undefined || width - indent >= MIN_VALUE) {
    return fields.flatMap(([label, value]) => {
      const [first, ...rest] = wrap(value, width === undefined ? undefined : width - indent);
      const name = paint(label.padEnd(labelWidth), ANSI.dim, color);
      return [`  ${name}  ${first}`, ...rest.map((line) => " ".repeat(indent) + line)];
    });
  }
  // Values under their labels, indented when every one of them still fits.
  const values = fields.map(([, value]) => wrap(value, width - 2));
  const fits = values.flat().every((line) => 2 + displayWidth(line) <= width);
  return fields.flatMap(([label], i) => [
    paint(label, ANSI.dim, color),
    ...values[i].map((line) => (fits ? "  " : "") + line),
  ]);
}

/** The fewest columns a value keeps beside its label; narrower, it goes under the label. */
const MIN_VALUE = 12;

/** `text` split at spaces into lines of at most `width` columns (a longer word stays whole). */
function wrap(text: string, width: number | undefined): string[] {
  if (width === undefined || displayWidth(text) <= width) return [text];
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(" ")) {
    if (current !== "" && displayWidth(current) + 1 + displayWidth(word) > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === "" ? word : `${current} ${word}`;
    }
  }
  lines.push(current);
  return lines;
}
