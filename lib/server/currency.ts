/**
 * Currency conversion with CoinGecko's exchange rates, which give each currency's value of one
 * bitcoin: a USD price converts to X as `price_usd × rate[X] / rate[USD]`.
 *
 * @module
 */

import type { Coin, ExchangeRate } from "../wire/coin.ts";
import { type Pricing, USD_PRICING } from "../wire/reply.ts";

/** Exchange rates as stored: keyed by upper-case code, with when they were fetched. */
export interface Rates {
  readonly fetchedAt: string;
  readonly byCode: ReadonlyMap<string, ExchangeRate>;
}

/** Rates keyed by upper-case code, from the upstream's lower-case keys. */
export function ratesFrom(fetched: ReadonlyMap<string, ExchangeRate>, fetchedAt: string): Rates {
  const byCode = new Map<string, ExchangeRate>();
  for (const [code, rate] of fetched) byCode.set(code.toUpperCase(), rate);
  return { fetchedAt, byCode };
}

/**
 * Converts a USD amount. Multiplying before dividing keeps one rounding step fewer for the
 * common case where `rate[X]` and `rate[USD]` share a scale.
 */
function convertUsd(amount: number, rates: Rates, code: string): number {
  const target = rates.byCode.get(code);
  const usd = rates.byCode.get("USD");
  if (target === undefined || usd === undefined) {
    throw new RangeError(`Cannot convert to ${code}: no rate for it or for USD`);
  }
  return (amount * target.value) / usd.value;
}

function numberJson(value: number): string {
  return Number.isFinite(value) ? JSON.stringify(value) : "null";
}

/**
 * How prices in `code` are written, or null when there is no rate for it. USD is never
 * converted: it keeps the upstream's own number text.
 */
export function pricingFor(rates: Rates | null, code: string): Pricing | null {
  if (code === "USD") return USD_PRICING;
  if (rates === null || !rates.byCode.has(code) || !rates.byCode.has("USD")) return null;
  return {
    currency: code,
    price: (coin: Coin) => numberJson(convertUsd(coin.price, rates, code)),
    marketCap: (coin: Coin) =>
      coin.marketCap === null ? "null" : numberJson(convertUsd(coin.marketCap, rates, code)),
  };
}

/** The `CURRENCIES` data: every code with its name, unit and type; USD first. */
export function currenciesJson(rates: Rates | null): string {
  const entries = rates === null
    ? [["USD", { name: "US Dollar", unit: "$", value: 1, type: "fiat" }] as const]
    : [...rates.byCode].sort(([a], [b]) => (a === "USD" ? -1 : b === "USD" ? 1 : 0));
  return JSON.stringify(
    entries.map(([code, rate]) => ({ code, name: rate.name, unit: rate.unit, type: rate.type })),
  );
}
