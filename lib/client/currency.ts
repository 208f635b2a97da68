/**
 * Currencies on the client side: the unit to mark amounts with, and history in a currency the
 * server does not keep it in.
 *
 * @module
 */

import { type CurrencyInfo, type History, ServerError } from "./price_client.ts";

/**
 * The unit amounts in `currency` are marked with, from `CURRENCIES`, which also checks that the
 * server knows the code.
 *
 * @throws {ServerError} `UNKNOWN_CURRENCY` when it does not
 */
export async function currencyUnit(
  client: { currencies(): Promise<CurrencyInfo[]> },
  currency: string,
): Promise<string> {
  if (currency === "USD") return "$";
  const found = (await client.currencies()).find((c) => c.code === currency);
  if (found === undefined) {
    throw new ServerError(
      "UNKNOWN_CURRENCY",
      `Unknown currency ${currency}: currencies lists them`,
    );
  }
  return found.unit;
}

/**
 * A history in `currency`. The server keeps history in USD only, so unless it already answered
 * in `currency`, the prices are converted at the current rate: the ratio of the coin's price in
 * `currency` to its price in USD, both from the server.
 */
export async function historyIn(
  client: { market(symbol: string, currency?: string): Promise<{ price: number }> },
  history: History,
  currency: string | undefined,
): Promise<{ history: History; note?: string }> {
  if (currency === undefined || history.currency === currency) return { history };
  const [there, here] = await Promise.all([
    client.market(history.symbol, currency),
    client.market(history.symbol, history.currency),
  ]);
  if (!(here.price > 0)) {
    throw new ServerError(
      "NO_DATA",
      `Cannot convert the history of ${history.symbol} to ${currency}: its price is ${here.price}`,
    );
  }
  const rate = there.price / here.price;
  const convert = (v: number | null) => v === null ? null : v * rate;
  return {
    history: {
      ...history,
      currency,
      points: history.points.map(([time, price]) => [time, price * rate]),
      first: convert(history.first),
      last: convert(history.last),
      min: convert(history.min),
      max: convert(history.max),
    },
    note:
      `Converted from ${history.currency} at the current rate: the server keeps history in ${history.currency}`,
  };
}
