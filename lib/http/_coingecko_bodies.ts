/**
 * The bodies of the CoinGecko-compatible API, built from what the server stores: CoinGecko's
 * field names and types for every field we have; fields we do not store are `null` (CoinGecko's
 * own value for a number it does not know), never a made-up number.
 *
 * @module
 */

import type { Coin, Snapshot } from "../wire/coin.ts";
import { pricingFor, type Rates } from "../server/currency.ts";

/** A coin the API can name: its CoinGecko id with the stored coin. */
export interface IdentifiedCoin {
  readonly id: string;
  readonly coin: Coin;
}

/** One entry of `coins/list` and of a search: id, symbol, name. */
export interface ListedCoin {
  readonly id: string;
  /** Upper case, as stored. */
  readonly symbol: string;
  readonly name: string;
}

/** How numbers are written: CoinGecko's `precision` (decimal places), or as they are. */
export type Precision = number | "full";

/** The stored amount in `code` (upper case), as a number; null when the amount is unknown. */
export function priceIn(coin: Coin, rates: Rates | null, code: string): number | null {
  const pricing = pricingFor(rates, code);
  return pricing === null ? null : numberOf(pricing.price(coin));
}

function marketCapIn(coin: Coin, rates: Rates | null, code: string): number | null {
  const pricing = pricingFor(rates, code);
  return pricing === null ? null : numberOf(pricing.marketCap(coin));
}

function numberOf(json: string): number | null {
  return json === "null" ? null : Number(json);
}

function rounded(value: number | null, precision: Precision): number | null {
  if (value === null || precision === "full") return value;
  return Number(value.toFixed(precision));
}

/** Seconds since the epoch of the coin's last update (the snapshot's time when not given). */
function updatedSeconds(coin: Coin, snapshot: Snapshot): number {
  const at = Date.parse(coin.updatedAt ?? snapshot.fetchedAt);
  return Math.floor((Number.isNaN(at) ? Date.parse(snapshot.fetchedAt) : at) / 1000);
}

/** What `simple/price` adds beside the price. */
export interface SimplePriceFields {
  readonly marketCap: boolean;
  readonly change24h: boolean;
  readonly lastUpdatedAt: boolean;
  readonly precision: Precision;
}

/** `simple/price`: `{id: {usd: price, usd_market_cap, usd_24h_change, last_updated_at}}`. */
export function simplePriceJson(
  coins: readonly IdentifiedCoin[],
  currencies: readonly string[],
  fields: SimplePriceFields,
  snapshot: Snapshot,
  rates: Rates | null,
): string {
  const body: Record<string, Record<string, number | null>> = {};
  for (const { id, coin } of coins) {
    const entry: Record<string, number | null> = {};
    for (const code of currencies) {
      const key = code.toLowerCase();
      entry[key] = rounded(priceIn(coin, rates, code), fields.precision);
      if (fields.marketCap) entry[`${key}_market_cap`] = marketCapIn(coin, rates, code);
      if (fields.change24h) entry[`${key}_24h_change`] = coin.change24h;
    }
    if (fields.lastUpdatedAt) entry.last_updated_at = updatedSeconds(coin, snapshot);
    body[id] = entry;
  }
  return JSON.stringify(body);
}

/** Fields of a `coins/markets` entry that we do not store: always `null`. */
const UNKNOWN_MARKET_FIELDS = [
  "fully_diluted_valuation",
  "total_volume",
  "high_24h",
  "low_24h",
  "price_change_24h",
  "market_cap_change_24h",
  "market_cap_change_percentage_24h",
  "circulating_supply",
  "total_supply",
  "max_supply",
  "ath",
  "ath_change_percentage",
  "ath_date",
  "atl",
  "atl_change_percentage",
  "atl_date",
  "roi",
] as const;

/** One page of `coins/markets`, in `code` (upper case). */
export function marketsJson(
  coins: readonly IdentifiedCoin[],
  code: string,
  precision: Precision,
  snapshot: Snapshot,
  rates: Rates | null,
): string {
  return JSON.stringify(coins.map(({ id, coin }) => {
    const entry: Record<string, unknown> = {
      id,
      symbol: coin.symbol.toLowerCase(),
      name: coin.name,
      current_price: rounded(priceIn(coin, rates, code), precision),
      market_cap: marketCapIn(coin, rates, code),
      // A coin outside the provider's ranking (fetched on demand) has rank 0 here, null there.
      market_cap_rank: coin.rank > 0 ? coin.rank : null,
      price_change_percentage_24h: coin.change24h,
    };
    for (const field of UNKNOWN_MARKET_FIELDS) entry[field] = null;
    entry.last_updated = coin.updatedAt ?? snapshot.fetchedAt;
    return entry;
  }));
}

/** `coins/list`: `[{id, symbol, name}]`, symbols in lower case as CoinGecko writes them. */
export function listJson(coins: readonly ListedCoin[]): string {
  return JSON.stringify(
    coins.map(({ id, symbol, name }) => ({ id, symbol: symbol.toLowerCase(), name })),
  );
}

/** `search`: the coins found, and CoinGecko's other result lists, empty as we list no such. */
export function searchJson(coins: readonly ListedCoin[], rankOf: (id: string) => number | null) {
  return JSON.stringify({
    coins: coins.map(({ id, symbol, name }) => ({
      id,
      name,
      api_symbol: id,
      symbol,
      market_cap_rank: rankOf(id),
    })),
    exchanges: [],
    icos: [],
    categories: [],
    nfts: [],
  });
}

/** `exchange_rates`: `{rates: {btc: {name, unit, value, type}}}`, codes in lower case. */
export function exchangeRatesJson(rates: Rates): string {
  const body: Record<string, unknown> = {};
  for (const [code, { name, unit, value, type }] of rates.byCode) {
    body[code.toLowerCase()] = { name, unit, value, type };
  }
  return JSON.stringify({ rates: body });
}

/** `simple/supported_vs_currencies`: the codes in lower case; USD alone before any rates. */
export function supportedJson(rates: Rates | null): string {
  const codes = rates === null ? ["USD"] : [...rates.byCode.keys()];
  return JSON.stringify(codes.map((code) => code.toLowerCase()));
}

/**
 * `coins/{id}/market_chart` from stored history points `[iso, usd]`, the ones at or after
 * `sinceMs`: prices as `[ms, price]`. Market caps and volumes are not kept in the history.
 */
export function marketChartJson(
  points: readonly (readonly [string, number])[],
  sinceMs: number,
  precision: Precision,
): string {
  const prices: [number, number | null][] = [];
  for (const [iso, price] of points) {
    const at = Date.parse(iso);
    if (at >= sinceMs) prices.push([at, rounded(price, precision)]);
  }
  return JSON.stringify({ prices, market_caps: [], total_volumes: [] });
}
