/**
 * `portfolio`, `portfolio add SYMBOL AMOUNT --price P [--date D]`, `portfolio remove SYMBOL [N]`
 * and `portfolio --watch`: the file is read (and, for a change, written) here; valuing and
 * drawing are in `portfolio.ts`.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import type { CoinView } from "../wire/coin_view.ts";
import { formatMoney } from "../text/format_money.ts";
import { formatTime } from "../text/format_time.ts";
import { safeText } from "../text/safe_text.ts";
import { wrap } from "../text/wrap.ts";
import { checkSymbol, type OutputFormat, reportError } from "./commands.ts";
import { currencyUnit } from "./currency.ts";
import { type PriceClient, ServerError } from "./price_client.ts";
import {
  formatLots,
  formatPortfolioTable,
  formatProfitPct,
  portfolioCsv,
  portfolioJson,
  type Valuation,
  valuePortfolio,
} from "./portfolio.ts";
import { defaultPortfolioPath, type Lot, readPortfolio, writePortfolio } from "./portfolio_file.ts";
import type { ToolCommand, ToolContext, ToolFlags } from "./tool_command.ts";
import { watchCommand } from "./watch_command.ts";

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Parses the words after `portfolio`.
 *
 * @throws {UsageError} for wrong words or flags
 */
export function parsePortfolioCommand(
  rest: readonly string[],
  flags: ToolFlags,
  format: OutputFormat,
): ToolCommand {
  const [verb, ...args] = rest;
  const path = (ctx: ToolContext) => flags.portfolio ?? defaultPortfolioPath(ctx.io.env);
  if (verb === undefined) {
    return {
      run: (ctx) => flags.watch ? watchPortfolio(ctx, path(ctx)) : showPortfolio(ctx, path(ctx)),
    };
  }
  if (format !== "text" || flags.watch) {
    throw new UsageError(`portfolio ${safeText(verb)} takes no --json, --csv or --watch`);
  }
  if (verb === "add") {
    if (args.length !== 2) {
      throw new UsageError(
        "portfolio add needs a coin and an amount, e.g. portfolio add BTC 0.5 --price 20000",
      );
    }
    const amount = Number(args[1]);
    if (!(amount > 0) || !Number.isFinite(amount)) {
      throw new UsageError(`the amount must be a number above 0, got "${safeText(args[1])}"`);
    }
    const price = Number(flags.price);
    if (flags.price === undefined || !(price >= 0) || !Number.isFinite(price)) {
      throw new UsageError(
        "portfolio add needs --price, the price paid per coin, e.g. --price 20000",
      );
    }
    if (flags.date !== undefined && !(DAY.test(flags.date) && !isNaN(Date.parse(flags.date)))) {
      throw new UsageError(`--date needs a day as YYYY-MM-DD, got "${safeText(flags.date)}"`);
    }
    const symbol = checkSymbol(args[0]).toUpperCase();
    return {
      run: (ctx) =>
        addLot(ctx, path(ctx), {
          symbol,
          amount,
          price,
          currency: ctx.currency ?? "USD",
          ...(flags.date === undefined ? {} : { date: flags.date }),
        }),
    };
  }
  if (verb === "remove") {
    const lot = args[1] === undefined ? undefined : Number(args[1]);
    if (
      args.length < 1 || args.length > 2 ||
      (lot !== undefined && !(Number.isInteger(lot) && lot > 0))
    ) {
      throw new UsageError(
        "portfolio remove needs a coin and optionally a lot number, e.g. portfolio remove BTC 2",
      );
    }
    const symbol = checkSymbol(args[0]).toUpperCase();
    return { run: (ctx) => removeLots(ctx, path(ctx), symbol, lot) };
  }
  throw new UsageError(`unknown portfolio command "${safeText(verb)}"; use add or remove`);
}

async function addLot(ctx: ToolContext, path: string, lot: Lot): Promise<number> {
  const lots = await readPortfolio(path);
  await writePortfolio(path, [...lots, lot]);
  const count = lots.filter((l) => l.symbol === lot.symbol).length + 1;
  ctx.io.stdout(
    `Added ${lot.amount} ${lot.symbol} at ${formatMoney(lot.price, lot.currency)}` +
      `${
        lot.date === undefined ? "" : ` on ${lot.date}`
      } as ${lot.symbol} lot ${count}, to ${path}\n`,
  );
  return 0;
}

async function removeLots(
  ctx: ToolContext,
  path: string,
  symbol: string,
  lot: number | undefined,
): Promise<number> {
  const lots = await readPortfolio(path);
  const held = lots.filter((l) => l.symbol === symbol);
  if (held.length === 0) throw new Error(`The portfolio ${path} holds no ${symbol}`);
  if (lot !== undefined && lot > held.length) {
    throw new Error(`The portfolio holds ${held.length} ${symbol} lot(s), not ${lot}`);
  }
  const gone = lot === undefined ? new Set(held) : new Set([held[lot - 1]]);
  await writePortfolio(path, lots.filter((l) => !gone.has(l)));
  ctx.io.stdout(
    `Removed ${
      lot === undefined ? `all ${held.length} ${symbol} lot(s)` : `${symbol} lot ${lot}`
    }` +
      ` from ${path}\n`,
  );
  return 0;
}

/** Prices of the held coins in `currency` and the rates of the lots' other currencies. */
async function quotes(
  client: PriceClient,
  lots: readonly Lot[],
  currency: string,
  warn: (err: unknown) => void,
): Promise<{ coins: Map<string, CoinView>; rates: Map<string, number> }> {
  const symbols = [...new Set(lots.map((l) => l.symbol))];
  const found = await Promise.allSettled(symbols.map((s) => client.market(s, currency)));
  const coins = new Map<string, CoinView>();
  found.forEach((r, i) => {
    if (r.status === "fulfilled") coins.set(symbols[i], r.value);
    else if (r.reason instanceof ServerError && r.reason.code === "UNKNOWN_COIN") warn(r.reason);
    else throw r.reason;
  });
  // A currency's rate from any coin priced in both: the server converts with the same rates.
  const rates = new Map<string, number>();
  for (const other of new Set(lots.map((l) => l.currency).filter((c) => c !== currency))) {
    const via = lots.find((l) => l.currency === other && coins.has(l.symbol));
    if (via === undefined) continue;
    const there = await client.market(via.symbol, other);
    if (there.price > 0) rates.set(other, coins.get(via.symbol)!.price / there.price);
  }
  return { coins, rates };
}

async function showPortfolio(ctx: ToolContext, path: string): Promise<number> {
  const lots = await readPortfolio(path);
  const currency = ctx.currency ?? "USD";
  const { io, format } = ctx;
  await using client = await ctx.connect();
  const unit = ctx.currency === undefined ? undefined : await currencyUnit(client, currency);
  const warn = (err: unknown) => reportError(err, format === "json", io.stderr);
  const { coins, rates } = await quotes(client, lots, currency, warn);
  const valuation = valuePortfolio(lots, coins, rates, currency);
  if (format === "json") io.stdout(portfolioJson(valuation) + "\n");
  else if (format === "csv") io.stdout(portfolioCsv(valuation));
  else {
    const width = io.columns?.() ?? 80;
    io.stdout(formatPortfolioTable(valuation, { color: io.color, unit, width }) + "\n");
    for (const line of [...formatLots(valuation, unit), ...notes(valuation, lots, coins)]) {
      for (const part of wrap(line, width)) io.stdout(part + "\n");
    }
  }
  return 0;
}

/** What the table's numbers rest on: conversions at today's rate, and when the prices are from. */
function notes(v: Valuation, lots: readonly Lot[], coins: ReadonlyMap<string, CoinView>): string[] {
  const others = [...new Set(lots.map((l) => l.currency).filter((c) => c !== v.currency))];
  const fetched = [...coins.values()].map((c) => c.fetched_at).sort().at(-1);
  return [
    ...(others.length === 0 ? [] : [
      `Costs in ${others.join(", ")} converted to ${v.currency} at the current rate`,
    ]),
    ...(fetched === undefined ? [] : [`Prices as of ${formatTime(fetched)}`]),
  ];
}

/** The portfolio live: the table redrawn on a terminal, else a line per price update. */
async function watchPortfolio(ctx: ToolContext, path: string): Promise<number> {
  const lots = await readPortfolio(path);
  if (lots.length === 0) throw new Error(`The portfolio ${path} is empty; add a holding first`);
  const currency = ctx.currency ?? "USD";
  const { io } = ctx;
  const json = ctx.format === "json";
  const warn = (err: unknown) => reportError(err, json, io.stderr);
  const client = await ctx.connect();
  try {
    const unit = ctx.currency === undefined ? undefined : await currencyUnit(client, currency);
    // Costs in other currencies are converted at the rates when the watch starts.
    const { rates } = await quotes(client, lots, currency, warn);
    const value = (coins: Iterable<CoinView>) =>
      valuePortfolio(lots, new Map([...coins].map((c) => [c.symbol, c])), rates, currency);
    const last = await watchCommand({
      client,
      connect: ctx.connect,
      symbols: [...new Set(lots.map((l) => l.symbol))],
      currency: ctx.currency,
      unit,
      interrupts: io.interrupts,
      display: {
        write: io.stdout,
        warn,
        onResize: io.onResize,
        terminal: io.stdoutIsTerminal ?? false,
        color: io.color,
        columns: io.columns,
        rows: io.rows,
        now: io.now,
        table: (coins, width) =>
          formatPortfolioTable(value(coins), { color: io.color, unit, width }),
        line: (coin, coins) => {
          const v = value(coins.values());
          if (json) return portfolioJson(v);
          const t = v.total;
          const money = (n: number) => formatMoney(n, currency, { unit });
          const time = (io.now?.() ?? new Date()).toISOString().slice(11, 19);
          return `${time} ${safeText(coin.symbol)} ` +
            `${money(coin.price)}  total ${money(t.value)}  P/L ${t.profit > 0 ? "+" : ""}` +
            `${money(t.profit)} (${formatProfitPct(t.profit_pct)})`;
        },
      },
    });
    if (last !== client) last.close();
  } finally {
    client.close();
  }
  return 0;
}
