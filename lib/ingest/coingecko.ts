/**
 * A small client for the CoinGecko v3 API: the top coins by market cap and the exchange rates.
 *
 * Every failure (network, timeout, HTTP status, malformed body) becomes an {@linkcode UpstreamError}
 * whose message is safe to log: it names the host and never contains the API key.
 *
 * @module
 */

import type { Coin, ExchangeRate } from "../wire/coin.ts";
import { describeUrl } from "../util/describe_url.ts";
import { isRecord } from "../util/is_record.ts";
import { type ExactNumbers, keepNumberText } from "./exact_json.ts";
import { type FieldNames, uniqueBySymbol, validateCoin } from "./validate_coin.ts";
import { invalid, isNonEmptyString, kindOf, quote } from "./upstream_message.ts";
import { requestJson as getJson } from "./upstream_http.ts";
import { type OnSkipped, ValidCoins } from "./valid_coins.ts";
import { UpstreamError } from "./upstream_error.ts";

/** The public CoinGecko API base URL. */
export const DEFAULT_API_URL = "https://api.coingecko.com/api/v3";
/** CoinGecko serves at most this many coins per page. */
export const MAX_TOP = 250;

/** Options shared by the requests of this module. */
export interface RequestOptions {
  /** Base URL up to and including `/api/v3`; defaults to {@linkcode DEFAULT_API_URL}. */
  apiUrl?: string;
  /** A CoinGecko demo API key, sent as `x-cg-demo-api-key`. */
  apiKey?: string;
  /** Injected for tests; defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Per-request deadline including the body; defaults to 10 s. */
  timeoutMs?: number;
  /** Most bytes of an answer, decompressed; defaults to `DEFAULT_MAX_BYTES` (32 MiB). */
  maxBytes?: number;
  /** Cancels the request; the signal's reason is thrown as is (it is not an upstream failure). */
  signal?: AbortSignal;
  /** Clock used to turn an HTTP-date `Retry-After` into a delay; defaults to `Date.now`. */
  now?: () => number;
}

/** Options of {@linkcode fetchMarkets}. */
export interface FetchMarketsOptions extends RequestOptions {
  /** How many coins to ask for, 1 to 250. */
  top: number;
  /** Told which records were skipped as invalid, see {@linkcode ValidCoins}. */
  onSkipped?: OnSkipped;
}

/**
 * Fetches the `top` coins by market cap in USD.
 *
 * Prices and market caps keep the exact JSON text the upstream sent (`priceText`,
 * `marketCapText`). Symbols are upper-cased; when two coins share a symbol only the better-ranked
 * one is kept, because a symbol is the lookup key of the protocol and the larger coin is the one a
 * user most likely means. The result is sorted by rank. A record that fails validation is skipped
 * and reported to `onSkipped` (see {@linkcode ValidCoins}).
 *
 * @throws {UpstreamError} when the upstream is unreachable, slow, failing, sends something other
 *   than a list, or a list of which fewer than half the records are valid.
 */
export async function fetchMarkets(options: FetchMarketsOptions): Promise<Coin[]> {
  const { top } = options;
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) {
    throw new RangeError(`Cannot fetch ${top} coins: expected an integer from 1 to ${MAX_TOP}`);
  }
  const query = `vs_currency=usd&order=market_cap_desc&per_page=${top}&page=1`;
  const body = await requestJson("/coins/markets?" + query, options, EXACT_NUMBERS);
  const host = describeUrl(options.apiUrl ?? DEFAULT_API_URL);
  if (!Array.isArray(body)) {
    throw new UpstreamError(`${host} sent ${kindOf(body)} where a list of coins was expected`);
  }
  if (body.length === 0) throw new UpstreamError(`${host} sent an empty list of coins`);

  const valid = new ValidCoins();
  const coins = body.flatMap((entry, index) =>
    valid.take(() => parseCoin(entry, index, host)) ?? []
  );
  valid.settle(options.onSkipped);
  return uniqueBySymbol(coins);
}

/**
 * Fetches `/exchange_rates`, keyed by the upstream's lower-case currency code (e.g. `usd`).
 *
 * @throws {UpstreamError} when the upstream is unreachable, slow, failing or sends invalid data.
 */
export async function fetchExchangeRates(
  options: RequestOptions = {},
): Promise<Map<string, ExchangeRate>> {
  const body = await requestJson("/exchange_rates", options);
  const host = describeUrl(options.apiUrl ?? DEFAULT_API_URL);
  const rates = isRecord(body) ? body.rates : undefined;
  if (!isRecord(rates)) {
    throw new UpstreamError(`${host} sent exchange rates without a "rates" object`);
  }
  const result = new Map<string, ExchangeRate>();
  for (const [code, rate] of Object.entries(rates)) {
    const where = `exchange rate ${quote(code)}`;
    if (!isRecord(rate)) throw invalid(host, where, "must be an object", rate);
    const { name, unit, value, type } = rate;
    if (!isNonEmptyString(name)) throw invalid(host, where, "name must be a string", name);
    if (typeof unit !== "string") throw invalid(host, where, "unit must be a string", unit);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw invalid(host, where, "value must be a non-negative number", value);
    }
    if (!isNonEmptyString(type)) throw invalid(host, where, "type must be a string", type);
    result.set(code, { name, unit, value, type });
  }
  if (result.size === 0) throw new UpstreamError(`${host} sent no exchange rates`);
  return result;
}

/** Keeps the source text of the numbers that are served to clients. */
export const EXACT_NUMBERS = keepNumberText(["current_price", "market_cap"]);

const FIELDS: FieldNames = {
  symbol: "symbol",
  name: "name",
  rank: "market_cap_rank",
  price: "current_price",
  marketCap: "market_cap",
  change24h: "price_change_percentage_24h",
  updatedAt: "last_updated",
};

/** GETs `path` under the API URL, with the key's header when there is one. */
export function requestJson(
  path: string,
  options: RequestOptions,
  exactNumbers?: ExactNumbers,
): Promise<unknown> {
  const apiUrl = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, "");
  return getJson(apiUrl + path, {
    headers: options.apiKey ? { "x-cg-demo-api-key": options.apiKey } : {},
    secret: options.apiKey,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    maxBytes: options.maxBytes,
    signal: options.signal,
    now: options.now,
    exactNumbers,
  });
}

/** One `/coins/markets` record, validated. */
export function parseCoin(entry: unknown, index: number, host: string): Coin {
  if (!isRecord(entry)) throw invalid(host, `coin #${index + 1}`, "must be an object", entry);
  return validateCoin(
    {
      symbol: entry.symbol,
      name: entry.name,
      rank: entry.market_cap_rank,
      price: entry.current_price,
      marketCap: entry.market_cap,
      change24h: entry.price_change_percentage_24h,
      updatedAt: entry.last_updated,
    },
    FIELDS,
    { host, index },
  );
}
