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
 * names: `$20,220.00`, `€1,355.37`, `123.456.789 ₫` (no decimals for VND), `￥2,896,312`.
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
    .replace(BIDI_MARKS, "");
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

/**
 * Renders coins as an aligned table (rank, symbol, name, price, 24h change, last update), one
 * line per coin, without a trailing newline. Every line has the same display width.
 */
export function formatTable(coins: readonly CoinView[], options: FormatOptions): string {
  const { color } = options;
  const now = options.now ?? new Date();
  if (coins.length === 0) return "No coins available";
  const currency = clean(coins[0].currency);
  const header = ["#", "Symbol", "Name", `Price (${currency})`, "24h", "Updated"];
  const right = [true, false, false, true, true, true];
  const rows = coins.map((c) => [
    String(c.rank),
    clean(c.symbol),
    truncate(clean(c.name), MAX_NAME_WIDTH),
    formatMoney(c.price, c.currency, options),
    formatChange(c.change_24h),
    formatAge(c.updated_at, now),
  ]);
  const widths = header.map((h, i) =>
    Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i])))
  );
  const line = (cells: string[], paint: (cell: string, i: number) => string) =>
    cells.map((cell, i) => {
      const gap = " ".repeat(widths[i] - displayWidth(cell));
      return right[i] ? gap + paint(cell, i) : paint(cell, i) + gap;
    }).join("  ");

  const out = [
    line(header, (h) => paint(h, ANSI.dim, color)),
    paint("─".repeat(widths.reduce((a, b) => a + b) + 2 * (widths.length - 1)), ANSI.dim, color),
    ...rows.map((r, n) =>
      line(
        r,
        (cell, i) =>
          i === 4
            ? paint(cell, changeColor(coins[n].change_24h), color)
            : i === 3
            ? paint(cell, moveColor(options.moves?.get(coins[n].symbol)), color)
            : cell,
      )
    ),
  ];
  const stale = staleNote(coins, now, color);
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
    ["Rank", `#${coin.rank}`],
    [
      "Market cap",
      coin.market_cap === null
        ? DASH
        : formatMoney(coin.market_cap, currency, { unit: options.unit, whole: true }),
    ],
    ["Updated", formatAge(coin.updated_at, now)],
    ["Source", `${clean(coin.source)}, fetched ${formatAge(coin.fetched_at, now)}`],
  ];
  const labelWidth = Math.max(...fields.map(([label]) => label.length));
  const lines = [
    paint(`${clean(coin.name)} (${clean(coin.symbol)})`, ANSI.bold, color),
    ...fields.map(([label, value]) =>
      `  ${paint(label.padEnd(labelWidth), ANSI.dim, color)}  ${value}`
    ),
  ];
  const stale = staleNote([coin], now, color);
  if (stale) lines.push(stale);
  return lines.join("\n");
}

/** Options for {@linkcode formatHistory}. */
export interface HistoryOptions extends FormatOptions {
  /** Terminal columns; the sparkline takes all but its indent. */
  width: number;
  /** A line saying how the prices were obtained, e.g. converted by the client. */
  note?: string;
}

/** Renders a price history as a summary and a sparkline, without a trailing newline. */
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
  const labelWidth = Math.max(...fields.map(([label]) => label.length));
  const lines = [
    paint(`${symbol} over the last ${range} (${currency})`, ANSI.bold, color),
    ...fields.map(([label, value]) =>
      `  ${paint(label.padEnd(labelWidth), ANSI.dim, color)}  ${value}`
    ),
    "  " + paint(
      sparkline(points.map(([, price]) => price), Math.max(1, options.width - 2)),
      changeColor(history.change_pct),
      color,
    ),
  ];
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
// Control characters and bidi overrides from the server must not reach the terminal raw.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufe00-\ufe0f]$/u;
const WIDE =
  /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

function clean(s: string): string {
  return s.replace(UNSAFE, "\ufffd");
}

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

function staleNote(coins: readonly CoinView[], now: Date, color: boolean): string | undefined {
  const stale = coins.find((c) => c.stale);
  if (!stale) return undefined;
  return paint(
    `Prices may be out of date: the server last fetched them ${
      formatAge(stale.fetched_at, now)
    } from ${clean(stale.source)}`,
    ANSI.yellow,
    color,
  );
}
