/**
 * Plain-text rendering of prices for a terminal: numbers, tables and single coins.
 *
 * Everything here is pure except {@linkcode useColor}, which looks at a stream and the
 * environment.
 *
 * @module
 */

import type { CoinView } from "./client.ts";

/** Options for {@linkcode formatTable} and {@linkcode formatCoin}. */
export interface FormatOptions {
  /** Emit ANSI colour codes. */
  color: boolean;
  /** The current time, for ages like `3m ago`; defaults to the real clock. */
  now?: Date;
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

/**
 * Formats a price for people: two decimals with thousands separators from 1 upwards
 * (`97,000.12`), four significant digits below 1 (`0.000012`, `0.3345`); never exponents.
 */
export function formatPrice(price: number): string {
  if (!Number.isFinite(price)) return DASH;
  const abs = Math.abs(price);
  // Decide on the rounded value, so 0.99999 becomes "1.00" rather than "1.0".
  if (abs === 0 || Number(abs.toPrecision(4)) >= 1) {
    return price.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  // At least two decimals ("0.50"), but no zero padding beyond them ("0.000000001").
  return price.toLocaleString("en-US", { minimumSignificantDigits: 2, maximumSignificantDigits: 4 })
    .replace(/(\.\d{2}\d*?)0+$/, "$1");
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
    formatPrice(c.price),
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
      line(r, (cell, i) => (i === 4 ? paint(cell, changeColor(coins[n].change_24h), color) : cell))
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
    ["Price", `${formatPrice(coin.price)} ${currency}`],
    ["24h change", paint(formatChange(coin.change_24h), changeColor(coin.change_24h), color)],
    ["Rank", `#${coin.rank}`],
    [
      "Market cap",
      coin.market_cap === null
        ? DASH
        : `${coin.market_cap.toLocaleString("en-US", { maximumFractionDigits: 0 })} ${currency}`,
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

/** Reads an environment variable without triggering a permission prompt. */
function readEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
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
