/**
 * `list` and `watch` as text: coins as an aligned table that fits a width.
 *
 * @module
 */

import type { CoinView } from "../wire/coin_view.ts";
import type { FormatOptions } from "./format_options.ts";
import { ANSI, changeColor, moveColor, paint } from "./ansi.ts";
import { DASH } from "./dash.ts";
import { displayWidth, truncate } from "./display_width.ts";
import { formatChange } from "./format_change.ts";
import { currencyLabel, formatColumn, formatMoney } from "./format_money.ts";
import { formatAge } from "./format_time.ts";
import { safeText as clean } from "./safe_text.ts";
import { staleNote } from "./stale_note.ts";

const MAX_NAME_WIDTH = 32;

/** A column of the coin table. */
interface Column {
  header: string;
  right: boolean;
  /** A coin's cell, unless the column writes its cells together (`cells`). */
  cell?: (coin: CoinView) => string;
  /** All cells at once, for a column whose cells share a precision. */
  cells?: (coins: readonly CoinView[]) => string[];
  paint?: (coin: CoinView) => string;
  /** Only when the table has a width limit. */
  wideOnly?: boolean;
  /** Dropped in this order (1 first) when the table is too wide; never when undefined. */
  drop?: number;
  /** Columns the cells take at least, so a live table keeps its width as values tick. */
  minWidth?: number;
}

/** The widest age under a day (`formatAge`), so `just now` turning `1s ago` moves nothing. */
const AGE_WIDTH = "just now".length;

/** The table's columns, most useful first, with how each is written and when it goes. */
function tableColumns(coins: readonly CoinView[], options: FormatOptions, now: Date): Column[] {
  const currency = currencyLabel(coins[0].currency, options.unit);
  return [
    { header: "#", right: true, cell: (c) => String(c.rank), drop: 4 },
    { header: "Symbol", right: false, cell: (c) => clean(c.symbol) },
    { header: "Name", right: false, cell: (c) => truncate(clean(c.name), MAX_NAME_WIDTH), drop: 5 },
    {
      header: `Price (${currency})`,
      right: true,
      cells: (cs) => formatColumn(cs.map((c) => c.price), cs[0].currency, options),
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
    {
      header: "Updated",
      right: true,
      cell: (c) => formatAge(c.updated_at, now),
      drop: 3,
      minWidth: AGE_WIDTH,
    },
    { header: "Source", right: false, cell: (c) => clean(c.source), wideOnly: true, drop: 1 },
  ];
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
  const all = tableColumns(coins, options, now);
  const limit = options.width;
  let columns = all.filter((c) => limit !== undefined || !c.wideOnly);
  const cells = new Map(
    columns.map((col) => [col, col.cells?.(coins) ?? coins.map((c) => col.cell!(c))]),
  );
  const widthOf = (col: Column) =>
    Math.max(col.minWidth ?? 0, displayWidth(col.header), ...cells.get(col)!.map(displayWidth));
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
