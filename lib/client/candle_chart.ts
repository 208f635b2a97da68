/**
 * Candles drawn in a terminal: a body from open to close and a wick from low to high per
 * interval, rising ones green and solid (`█`), falling ones red and shaded (`░`), with a row of
 * `+`/`-` signs beneath so the direction reads without colour; a price axis on the left, a time
 * axis below, all within the given width (the most recent candles kept when not all fit).
 *
 * @module
 */

import type { Candle, CandlesView } from "../wire/candles.ts";
import { ANSI, paint } from "../text/ansi.ts";
import { displayWidth } from "../text/display_width.ts";
import { formatMoney } from "../text/format_money.ts";
import { safeText } from "../text/safe_text.ts";
import { wrap } from "../text/wrap.ts";

/** Options for {@linkcode drawCandles}. */
export interface CandleChartOptions {
  /** Columns every line fits in. */
  width: number;
  /** Rows of the price area; default 12, 8 below 60 columns. */
  height?: number;
  color: boolean;
  /** Marks amounts in a currency `Intl` does not know (see `formatMoney`). */
  unit?: string;
}

const UP = "█";
const DOWN = "░";
const WICK = "│";

/** A candle with prices (not a gap). */
type Priced = Candle & { open: number; high: number; low: number; close: number };

function priced(c: Candle): c is Priced {
  return c.count > 0 && c.open !== null && c.high !== null && c.low !== null && c.close !== null;
}

/** The chart as lines (no trailing newline): title, price rows, signs, time axis, summary. */
export function drawCandles(view: CandlesView, options: CandleChartOptions): string {
  const { width, color } = options;
  const height = Math.max(3, options.height ?? (width < 60 ? 8 : 12));
  const money = (n: number) => formatMoney(n, view.currency, { unit: options.unit });
  const axisMoney = (n: number) =>
    formatMoney(n, view.currency, { unit: options.unit, whole: Math.abs(n) >= 1000 });
  const title = `${safeText(view.symbol)} ${view.interval} candles, ${view.range} (${
    safeText(view.currency)
  }), times UTC`;
  const all = view.candles;
  const withPrices = all.filter(priced);
  if (withPrices.length === 0) {
    return [...wrap(title, width), ...wrap("No prices stored in this range yet", width)].join("\n");
  }
  const top = Math.max(...withPrices.map((c) => c.high));
  const bottom = Math.min(...withPrices.map((c) => c.low));
  const span = top - bottom || Math.abs(top) * 0.001 || 1;
  const rowPrice = (r: number) => top - (span * r) / (height - 1);
  const labels = Array.from({ length: height }, (_, r) => axisMoney(rowPrice(r)));
  const axis = Math.max(...labels.map(displayWidth));
  const room = Math.max(1, width - axis - 2);
  const shown = all.slice(-room);
  const slot = Math.max(1, Math.min(3, Math.floor(room / shown.length)));
  const cell = (s: string, c: Candle) => {
    const painted = paint(s, !priced(c) ? "" : c.close >= c.open ? ANSI.green : ANSI.red, color);
    return slot === 1 ? painted : slot === 2 ? painted + " " : ` ${painted} `;
  };
  const rows: string[] = [];
  for (let r = 0; r < height; r++) {
    // Row r shows the prices nearer to its level than to the next: half a step either side.
    const hi = rowPrice(r) + span / (height - 1) / 2;
    const lo = rowPrice(r) - span / (height - 1) / 2;
    const marks = shown.map((c) => {
      if (!priced(c) || c.high < lo || c.low > hi) return cell(" ", c);
      const bodyLow = Math.min(c.open, c.close);
      const bodyHigh = Math.max(c.open, c.close);
      if (bodyHigh >= lo && bodyLow <= hi) return cell(c.close >= c.open ? UP : DOWN, c);
      return cell(WICK, c);
    });
    const label = r % 3 === 0 || r === height - 1 ? labels[r] : "";
    rows.push(
      `${" ".repeat(axis - displayWidth(label))}${label} ${label ? "┤" : "│"}${marks.join("")}`,
    );
  }
  const signs = shown.map((c) =>
    cell(!priced(c) ? " " : c.close > c.open ? "+" : c.close < c.open ? "-" : "=", c)
  );
  rows.push(`${" ".repeat(axis + 1)}└${signs.join("")}`);
  rows.push(timeAxis(shown, slot, axis + 2, width, view.range));
  return [...wrap(title, width), ...rows, ...summary(all, shown.length, withPrices, money, width)]
    .join("\n");
}

/** Times under the candles: as many labels as fit without touching, the first one left-aligned. */
function timeAxis(
  shown: readonly Candle[],
  slot: number,
  indent: number,
  width: number,
  range: string,
): string {
  const short = range === "1h" || range === "24h";
  const text = (c: Candle) => short ? c.time.slice(11, 16) : c.time.slice(5, 10);
  const labelWidth = 5;
  let line = " ".repeat(indent);
  for (let i = 0; i < shown.length; i++) {
    const at = indent + i * slot + (slot === 3 ? 1 : 0);
    if (at < line.length + (line.trim() === "" ? 0 : 1) || at + labelWidth > width) continue;
    line = line.padEnd(at) + text(shown[i]);
  }
  return line;
}

/** The last candle in words, as few lines as fit, and what was left out or missing. */
function summary(
  all: readonly Candle[],
  shown: number,
  withPrices: readonly Priced[],
  money: (n: number) => string,
  width: number,
): string[] {
  const last = withPrices.at(-1)!;
  const change = last.open === 0
    ? ""
    : ` (${last.close >= last.open ? "+" : ""}${
      (((last.close - last.open) / last.open) * 100).toFixed(2)
    }%)`;
  const parts = [
    `Last ${last.time.slice(0, 16).replace("T", " ")}${change}`,
    `open ${money(last.open)}`,
    `high ${money(last.high)}`,
    `low ${money(last.low)}`,
    `close ${money(last.close)}`,
  ];
  const lines: string[] = [];
  for (const part of parts) {
    const joined = lines.length === 0 ? part : `${lines.at(-1)} · ${part}`;
    if (lines.length > 0 && displayWidth(joined) <= width) lines[lines.length - 1] = joined;
    else lines.push(part);
  }
  const gaps = all.length - withPrices.length;
  const notes = [
    ...(shown < all.length
      ? [
        `The last ${shown} of ${all.length} candles fit; widen the terminal or use a longer interval`,
      ]
      : []),
    ...(gaps > 0 ? [`${gaps} interval(s) without prices are left blank`] : []),
  ];
  return [...lines, ...notes].flatMap((line) => wrap(line, width));
}
