/**
 * A client for the keyless CoinPaprika API: the top coins from `GET /v1/tickers`.
 *
 * `/v1/tickers` has no limit parameter: it returns every ticker (about 2,500) in no promised
 * order, so the client sorts by rank and validates only the coins it keeps. One malformed coin
 * far down the list cannot fail a round; a malformed coin within the top N does, as with
 * CoinGecko.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { describeUrl } from "../util/describe_url.ts";
import { isRecord } from "../util/is_record.ts";
import { type FieldNames, validateCoin } from "./validate_coin.ts";
import { invalid, kindOf } from "./upstream_message.ts";
import { keepNumberText } from "./exact_json.ts";
import { type ProviderRequestOptions, requestJson } from "./upstream_http.ts";
import { ValidCoins } from "./valid_coins.ts";
import { UpstreamError } from "./upstream_error.ts";

/** The public CoinPaprika API base URL (without `/v1`). */
export const COINPAPRIKA_URL = "https://api.coinpaprika.com";

/** Options of {@linkcode fetchPaprikaTickers}. */
export interface PaprikaOptions extends ProviderRequestOptions {
  /** How many coins to return, at least 1. */
  top: number;
  /** Base URL without `/v1`; defaults to {@linkcode COINPAPRIKA_URL}. */
  baseUrl?: string;
}

// Only `quotes.USD.price` and `quotes.USD.market_cap` use these keys in a ticker.
const EXACT_NUMBERS = keepNumberText(["price", "market_cap"]);

const FIELDS: FieldNames = {
  symbol: "symbol",
  name: "name",
  rank: "rank",
  price: "quotes.USD.price",
  marketCap: "quotes.USD.market_cap",
  change24h: "quotes.USD.percent_change_24h",
  updatedAt: "last_updated",
};

/**
 * Fetches the `top` best-ranked coins in USD, sorted by rank, one coin per symbol (the
 * better-ranked one). Tickers with rank 0 (CoinPaprika's "unranked") are left out. A ticker that
 * fails validation is skipped and reported to `onSkipped` (see {@linkcode ValidCoins}); fewer
 * than half valid fails the call.
 *
 * @throws {UpstreamError} when CoinPaprika is unreachable, slow, failing or sends invalid data
 */
export async function fetchPaprikaTickers(options: PaprikaOptions): Promise<Coin[]> {
  const { top } = options;
  if (!Number.isInteger(top) || top < 1) {
    throw new RangeError(`Cannot fetch ${top} coins: expected a positive integer`);
  }
  const baseUrl = (options.baseUrl ?? COINPAPRIKA_URL).replace(/\/+$/, "");
  const body = await requestJson(`${baseUrl}/v1/tickers?quotes=USD`, {
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    maxBytes: options.maxBytes,
    signal: options.signal,
    exactNumbers: EXACT_NUMBERS,
  });
  const host = describeUrl(baseUrl);
  if (!Array.isArray(body)) {
    throw new UpstreamError(`${host} sent ${kindOf(body)} where a list of tickers was expected`);
  }
  const ranked = body
    .flatMap((entry: unknown, index) =>
      isRecord(entry) && Number.isSafeInteger(entry.rank) && (entry.rank as number) > 0
        ? [{ entry, index, rank: entry.rank as number }]
        : []
    )
    .sort((a, b) => a.rank - b.rank);
  if (ranked.length === 0) throw new UpstreamError(`${host} sent no ranked tickers`);

  const coins: Coin[] = [];
  const symbols = new Set<string>();
  const valid = new ValidCoins();
  for (const { entry, index } of ranked) {
    const coin = valid.take(() => parseTicker(entry, index, host));
    // Sorted by rank, so the first coin of a symbol is the better-ranked one.
    if (coin === null || symbols.has(coin.symbol)) continue;
    symbols.add(coin.symbol);
    coins.push(coin);
    if (coins.length === top) break;
  }
  valid.settle(options.onSkipped);
  return coins;
}

function parseTicker(entry: Record<string, unknown>, index: number, host: string): Coin {
  const quotes = entry.quotes;
  const usd = isRecord(quotes) ? quotes.USD : undefined;
  if (!isRecord(usd)) {
    throw invalid(host, `ticker #${index + 1}`, "quotes.USD must be an object", usd);
  }
  return validateCoin(
    {
      symbol: entry.symbol,
      name: entry.name,
      rank: entry.rank,
      price: usd.price,
      marketCap: usd.market_cap,
      change24h: usd.percent_change_24h,
      updatedAt: entry.last_updated,
    },
    FIELDS,
    { host, index },
  );
}
