/**
 * The reply encoders: reply lines, update events and coin JSON, written as the client reads them.
 *
 * @module
 */

import type { Coin, Snapshot } from "./coin.ts";
import type { ErrorCode } from "./error_code.ts";

/** One reply line as a client reads it. */
export type Reply =
  | { status: "OK"; data: unknown }
  | { status: "ERROR"; code: ErrorCode; data: string };

/** The name of the event a watched coin's change is pushed as. */
export const UPDATE_EVENT = "update";

const encoder = new TextEncoder();

/** Encodes an error reply line. */
export function encodeError(code: ErrorCode, message: string): Uint8Array {
  return encoder.encode(`{"status":"ERROR","code":"${code}","data":${JSON.stringify(message)}}\n`);
}

/** Encodes a successful reply line whose `data` is already JSON text. */
export function encodeOk(dataJson: string): Uint8Array {
  return encoder.encode(`{"status":"OK","data":${dataJson}}\n`);
}

/** Encodes the reply to `UNWATCH`: the symbols the connection still watches. */
export function encodeWatchList(symbols: Iterable<string>): Uint8Array {
  return encodeOk(JSON.stringify([...symbols]));
}

/** Encodes the `update` event line of one coin whose v2 object is `coinJson`. */
export function encodeUpdateEvent(coinJson: string): Uint8Array {
  return encoder.encode(`{"status":"OK","event":"${UPDATE_EVENT}","data":${coinJson}}\n`);
}

/**
 * A price for a v1 reply: the upstream's own number text, with `.0` added to a whole number,
 * because the original client tells a price from a message by its float type and Python's
 * `json` reads `32797` as an int.
 */
export function v1Number(text: string): string {
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/** How the prices of one currency are written: the upstream's own text for USD. */
export interface Pricing {
  /** Upper-case currency code, e.g. `USD`. */
  readonly currency: string;
  /** The coin's price as JSON number text. */
  price(coin: Coin): string;
  /** The coin's market cap as JSON number text, or `null`. */
  marketCap(coin: Coin): string;
}

/** USD, as the upstream wrote it: nothing is converted, rounded or re-formatted. */
export const USD_PRICING: Pricing = {
  currency: "USD",
  price: (coin) => coin.priceText,
  marketCap: (coin) => coin.marketCapText ?? "null",
};

/** Options that shape a v2 coin object. */
export interface CoinObjectOptions {
  /** Whether the snapshot is older than the server's staleness limit. */
  stale: boolean;
  /** The currency of `price` and `market_cap`; USD when omitted. */
  pricing?: Pricing;
}

/**
 * The v2 coin object as JSON text, of the shape `CoinView` in `coin_view.ts` (checked against real
 * replies in tests/client/shared_shapes_test.ts); in USD, numbers are written exactly as the upstream sent them.
 */
export function coinObjectJson(
  coin: Coin,
  snapshot: Snapshot,
  options: CoinObjectOptions,
): string {
  const pricing = options.pricing ?? USD_PRICING;
  const id = coin.id === undefined ? "" : `"id":${JSON.stringify(coin.id)},`;
  return `{"symbol":${JSON.stringify(coin.symbol)},${id}"name":${JSON.stringify(coin.name)},` +
    `"price":${pricing.price(coin)},"currency":"${pricing.currency}","rank":${coin.rank},` +
    `"market_cap":${pricing.marketCap(coin)},` +
    `"change_24h":${coin.change24h === null ? "null" : JSON.stringify(coin.change24h)},` +
    `"updated_at":${JSON.stringify(coin.updatedAt)},"fetched_at":${
      JSON.stringify(snapshot.fetchedAt)
    },` +
    `"source":${JSON.stringify(snapshot.source)},"stale":${options.stale}}`;
}

/** The v1 `MARKET ALL` data: coin name to price, in rank order, first of a repeated name kept. */
export function v1AllJson(coins: readonly Coin[], pricing: Pricing = USD_PRICING): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const coin of coins) {
    if (seen.has(coin.name)) continue;
    seen.add(coin.name);
    parts.push(`${JSON.stringify(coin.name)}:${v1Number(pricing.price(coin))}`);
  }
  return `{${parts.join(",")}}`;
}
