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
import { currencyLabel, formatMoney, moneyDecimals } from "../text/format_money.ts";
import type { FormatOptions } from "../text/format_options.ts";
import { formatTime } from "../text/format_time.ts";
import { safeText as clean } from "../text/safe_text.ts";
import { readEnv } from "../util/read_env.ts";

/** Narrower terminals get a sparkline instead of the chart. */
const CHART_MIN_WIDTH = 60;
const CHART_ROWS = 8;
/** Prices covering less of the window than this make no chart (a line at its right edge). */
const MIN_COVERED = 0.1;

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
  // One precision for the summary and the chart's axis: they are the same coin's prices.
  const summary = [history.last, history.first, history.min, history.max];
  const smallDecimals = Math.max(
    0,
    ...summary.map((v) => v === null ? 0 : moneyDecimals(v, currency)),
  );
  const money = (v: number | null) =>
    v === null ? DASH : formatMoney(v, currency, { ...options, smallDecimals });
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
    ...titleLines(
      `${symbol} over the last ${range} (${currencyLabel(history.currency, options.unit)})`,
      options,
    ),
    ...fieldLines(fields, options),
  ];
  const span = isHistoryRange(history.range) ? HISTORY_RANGE_MS[history.range] : undefined;
  const covered = Date.parse(points.at(-1)![0]) - Date.parse(points[0][0]);
  if (options.width >= CHART_MIN_WIDTH) {
    if (points.length < 2 || (span !== undefined && covered < span * MIN_COVERED)) {
      // A box with a line at its right edge says nothing: say why instead.
      lines.push(`  Too little history yet for a chart: prices since ${formatTime(points[0][0])}`);
    } else {
      lines.push(...chartLines(history, options, span, money));
    }
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

/** The line chart of a history, its price axis spanning the summary's low and high. */
function chartLines(
  history: History,
  options: HistoryOptions,
  span: number | undefined,
  money: (v: number | null) => string,
): string[] {
  const { points } = history;
  // The whole window, so prices that only started recently start mid-chart.
  const last = Date.parse(points.at(-1)![0]);
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
    // The points may be a thinned sample: the axis still spans every stored price.
    low: history.min ?? undefined,
    high: history.max ?? undefined,
    label: (price) => money(price),
    time: (ms) => new Date(ms).toISOString().slice(from, to).replace("T", " "),
  });
  return chart.map((line) => paint(line, changeColor(history.change_pct), options.color));
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
