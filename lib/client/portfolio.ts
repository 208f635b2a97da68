/**
 * A portfolio valued at current prices: each holding's value, cost, and profit or loss in amount
 * and percent, and the total, in one currency; as a table, JSON or CSV.
 *
 * @module
 */

import type { CoinView } from "../wire/coin_view.ts";
import { ANSI, changeColor, paint } from "../text/ansi.ts";
import { DASH } from "../text/dash.ts";
import { displayWidth } from "../text/display_width.ts";
import { formatChange } from "../text/format_change.ts";
import { formatMoney } from "../text/format_money.ts";
import { safeJson, safeText } from "../text/safe_text.ts";
import type { Lot } from "./portfolio_file.ts";

/** Value, cost and profit of some coins, in the valuation's currency (NaN when unknown). */
export interface Worth {
  value: number;
  cost: number;
  /** `value - cost`. */
  profit: number;
  /** `profit / cost` in percent; NaN for a cost of 0. */
  profit_pct: number;
}

/** All lots of one coin, valued. */
export interface Holding extends Worth {
  symbol: string;
  /** Coins held, over all lots. */
  amount: number;
  /** The current price of one coin; NaN when the server has none. */
  price: number;
  /** The lots, in file order (lot 1 first), as `portfolio remove SYMBOL N` numbers them. */
  lots: Lot[];
}

/** A portfolio valued in `currency`. */
export interface Valuation {
  currency: string;
  holdings: Holding[];
  total: Worth;
}

/**
 * Values `lots` in `currency` at the prices of `coins` (by symbol, in `currency`). A lot bought in
 * another currency costs its price times `rates.get(lot.currency)` (how much of `currency` one
 * unit is worth); a missing rate or price makes the affected numbers NaN.
 */
export function valuePortfolio(
  lots: readonly Lot[],
  coins: ReadonlyMap<string, CoinView>,
  rates: ReadonlyMap<string, number>,
  currency: string,
): Valuation {
  const bySymbol = new Map<string, Lot[]>();
  for (const lot of lots) bySymbol.set(lot.symbol, [...bySymbol.get(lot.symbol) ?? [], lot]);
  const holdings = [...bySymbol].map(([symbol, held]): Holding => {
    const price = coins.get(symbol)?.price ?? NaN;
    const amount = held.reduce((sum, lot) => sum + lot.amount, 0);
    const cost = held.reduce((sum, lot) => {
      const rate = lot.currency === currency ? 1 : rates.get(lot.currency) ?? NaN;
      return sum + lot.amount * lot.price * rate;
    }, 0);
    return { symbol, amount, price, ...worth(amount * price, cost), lots: held };
  });
  const sum = (f: (h: Holding) => number) => holdings.reduce((s, h) => s + f(h), 0);
  return { currency, holdings, total: worth(sum((h) => h.value), sum((h) => h.cost)) };
}

function worth(value: number, cost: number): Worth {
  const profit = value - cost;
  return { value, cost, profit, profit_pct: cost > 0 ? (profit / cost) * 100 : NaN };
}

/** Options for {@linkcode formatPortfolioTable}. */
export interface PortfolioTableOptions {
  color: boolean;
  /** Marks amounts in a currency `Intl` does not know (see `formatMoney`). */
  unit?: string;
  /** Columns to fit in: the price column goes first, then the cost one, then the amount. */
  width?: number;
}

interface Column {
  header: string;
  cell: (h: Holding) => string;
  total: (t: Worth) => string;
  /** Dropped in this order when too wide. */
  drop?: number;
  signed?: boolean;
}

/** A valuation as an aligned table with a total line, without a trailing newline. */
export function formatPortfolioTable(v: Valuation, options: PortfolioTableOptions): string {
  if (v.holdings.length === 0) {
    return 'No holdings yet; add one with "portfolio add BTC 0.5 --price 20000"';
  }
  const money = (n: number) => formatMoney(n, v.currency, options);
  const signed = (n: number) => Number.isFinite(n) && n > 0 ? `+${money(n)}` : money(n);
  const all: Column[] = [
    { header: "Coin", cell: (h) => safeText(h.symbol), total: () => "Total" },
    { header: "Amount", cell: (h) => formatAmount(h.amount), total: () => "", drop: 3 },
    { header: "Price", cell: (h) => money(h.price), total: () => "", drop: 1 },
    { header: "Value", cell: (h) => money(h.value), total: (t) => money(t.value) },
    { header: "Cost", cell: (h) => money(h.cost), total: (t) => money(t.cost), drop: 2 },
    { header: "P/L", cell: (h) => signed(h.profit), total: (t) => signed(t.profit), signed: true },
    {
      header: "P/L %",
      cell: (h) => formatProfitPct(h.profit_pct),
      total: (t) => formatProfitPct(t.profit_pct),
      signed: true,
    },
  ];
  const rows = [...v.holdings, null];
  const text = (c: Column, h: Holding | null) => h === null ? c.total(v.total) : c.cell(h);
  const widthOf = (c: Column) =>
    Math.max(displayWidth(c.header), ...rows.map((h) => displayWidth(text(c, h))));
  let columns = all;
  const lineWidth = (cs: Column[]) => cs.reduce((w, c) => w + widthOf(c), 0) + 2 * (cs.length - 1);
  for (let drop = 1; drop <= 3 && lineWidth(columns) > (options.width ?? Infinity); drop++) {
    columns = columns.filter((c) => c.drop !== drop);
  }
  const pad = (s: string, w: number, left: boolean) =>
    left ? s + " ".repeat(w - displayWidth(s)) : " ".repeat(w - displayWidth(s)) + s;
  const line = (h: Holding | null) =>
    columns.map((c, i) => {
      const cell = pad(text(c, h), widthOf(c), i === 0);
      const pct = h === null ? v.total.profit_pct : h.profit_pct;
      return c.signed
        ? paint(cell, changeColor(Number.isFinite(pct) ? pct : null), options.color)
        : cell;
    }).join("  ");
  const header = columns.map((c, i) => pad(c.header, widthOf(c), i === 0)).join("  ");
  return [
    paint(header, ANSI.bold, options.color),
    ...v.holdings.map(line),
    paint(line(null), ANSI.bold, options.color),
  ].join("\n");
}

/** The lots of holdings with more than one, numbered as `portfolio remove SYMBOL N` takes them. */
export function formatLots(v: Valuation, unit?: string): string[] {
  return v.holdings.filter((h) => h.lots.length > 1).flatMap((h) =>
    h.lots.map((lot, i) =>
      `${safeText(h.symbol)} lot ${i + 1}: ${formatAmount(lot.amount)} at ` +
      `${
        formatMoney(lot.price, lot.currency, {
          unit: lot.currency === v.currency ? unit : undefined,
        })
      }` +
      (lot.date === undefined ? "" : ` on ${lot.date}`)
    )
  );
}

/** A valuation as one JSON document; unknown numbers are null. */
export function portfolioJson(v: Valuation): string {
  return safeJson(v);
}

/** A valuation as CSV with a header row, a row per holding and a `TOTAL` row. */
export function portfolioCsv(v: Valuation): string {
  const n = (x: number) => Number.isFinite(x) ? String(x) : "";
  const rows = [
    "symbol,amount,price,value,cost,profit,profit_pct,currency",
    ...v.holdings.map((h) =>
      [h.symbol, n(h.amount), n(h.price), n(h.value), n(h.cost), n(h.profit), n(h.profit_pct)]
        .concat(v.currency).join(",")
    ),
    ["TOTAL", "", "", n(v.total.value), n(v.total.cost), n(v.total.profit)]
      .concat(n(v.total.profit_pct), v.currency).join(","),
  ];
  return rows.join("\n") + "\n";
}

/** Coins held, without trailing zeros: `0.5`, `1,200`, `0.00012345`. */
function formatAmount(n: number): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: 8 });
}

/** A profit in percent, `+1.10%`, or `—` when unknown (no cost or no price). */
export function formatProfitPct(pct: number): string {
  return Number.isFinite(pct) ? formatChange(pct) : DASH;
}
