/**
 * A client for the CoinMarketCap Pro API: the top coins from
 * `GET /v1/cryptocurrency/listings/latest`, authenticated with the `X-CMC_PRO_API_KEY` header.
 *
 * The key is a credential: it is sent only in that header (never in the URL) and is replaced by
 * `***` in every error message, including excerpts of the upstream's own answers.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { describeUrl } from "../util/describe_url.ts";
import { isRecord } from "../util/is_record.ts";
import { type FieldNames, uniqueBySymbol, validateCoin } from "./validate_coin.ts";
import { invalid, kindOf, quote } from "./upstream_message.ts";
import { keepNumberText } from "./exact_json.ts";
import { type ProviderRequestOptions, requestJson } from "./upstream_http.ts";
import { ValidCoins } from "./valid_coins.ts";
import { UpstreamError } from "./upstream_error.ts";
import { redact } from "../util/redact.ts";

/** The CoinMarketCap Pro API base URL. */
export const CMC_URL = "https://pro-api.coinmarketcap.com";
/** The header that carries the API key. */
const CMC_KEY_HEADER = "X-CMC_PRO_API_KEY";
/** `listings/latest` serves at most this many coins per request. */
export const CMC_MAX_LIMIT = 5000;

/** Options of {@linkcode fetchCmcListings}. */
export interface CmcOptions extends ProviderRequestOptions {
  /** How many coins to ask for, 1 to 5000. */
  top: number;
  /** The Pro API key. */
  apiKey: string;
  /** Base URL; defaults to {@linkcode CMC_URL}. */
  baseUrl?: string;
}

// Only `quote.USD.price` and `quote.USD.market_cap` use these keys in a listing.
const EXACT_NUMBERS = keepNumberText(["price", "market_cap"]);

const FIELDS: FieldNames = {
  symbol: "symbol",
  name: "name",
  rank: "cmc_rank",
  price: "quote.USD.price",
  marketCap: "quote.USD.market_cap",
  change24h: "quote.USD.percent_change_24h",
  updatedAt: "quote.USD.last_updated",
};

/**
 * Fetches the `top` coins by CoinMarketCap rank in USD, sorted by rank, one coin per symbol. A
 * record that fails validation is skipped and reported to `onSkipped` (see {@linkcode ValidCoins});
 * fewer than half valid fails the call.
 *
 * @throws {UpstreamError} when CoinMarketCap is unreachable, slow, refuses the key, reports an
 *   error in its `status` object or sends invalid data; the key never appears in the message
 */
export async function fetchCmcListings(options: CmcOptions): Promise<Coin[]> {
  const { top, apiKey } = options;
  if (!Number.isInteger(top) || top < 1 || top > CMC_MAX_LIMIT) {
    throw new RangeError(
      `Cannot fetch ${top} coins: expected an integer from 1 to ${CMC_MAX_LIMIT}`,
    );
  }
  if (apiKey.trim() === "") throw new TypeError("Cannot call CoinMarketCap without an API key");
  const baseUrl = (options.baseUrl ?? CMC_URL).replace(/\/+$/, "");
  const query = `start=1&limit=${top}&convert=USD`;
  const body = await requestJson(`${baseUrl}/v1/cryptocurrency/listings/latest?${query}`, {
    headers: { [CMC_KEY_HEADER]: apiKey },
    secret: apiKey,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    maxBytes: options.maxBytes,
    signal: options.signal,
    exactNumbers: EXACT_NUMBERS,
    errorDetail: statusMessage,
  });
  const host = describeUrl(baseUrl);
  if (!isRecord(body)) {
    throw new UpstreamError(`${host} sent ${kindOf(body)} where a listing object was expected`);
  }
  const status = body.status;
  if (isRecord(status) && typeof status.error_code === "number" && status.error_code !== 0) {
    const text = typeof status.error_message === "string" ? status.error_message : "no message";
    throw new UpstreamError(
      `${host} reported error ${status.error_code} (${quote(redact(text, apiKey), 80)})`,
    );
  }
  const data = body.data;
  if (!Array.isArray(data)) {
    throw new UpstreamError(`${host} sent ${kindOf(data)} where "data" should list coins`);
  }
  if (data.length === 0) throw new UpstreamError(`${host} sent an empty list of coins`);
  const valid = new ValidCoins();
  const coins = data.flatMap((entry, index) =>
    valid.take(() => parseListing(entry, index, host)) ?? []
  );
  valid.settle(options.onSkipped);
  return uniqueBySymbol(coins);
}

/** CoinMarketCap's own words from the `status` object of an error answer. */
function statusMessage(body: string): string | undefined {
  try {
    const status = (JSON.parse(body) as { status?: { error_message?: unknown } }).status;
    return typeof status?.error_message === "string" ? status.error_message : undefined;
  } catch {
    return undefined;
  }
}

function parseListing(entry: unknown, index: number, host: string): Coin {
  const where = `coin #${index + 1}`;
  if (!isRecord(entry)) throw invalid(host, where, "must be an object", entry);
  const quotes = entry.quote;
  const usd = isRecord(quotes) ? quotes.USD : undefined;
  if (!isRecord(usd)) throw invalid(host, where, "quote.USD must be an object", usd);
  return validateCoin(
    {
      symbol: entry.symbol,
      name: entry.name,
      rank: entry.cmc_rank,
      price: usd.price,
      marketCap: usd.market_cap,
      change24h: usd.percent_change_24h,
      // The quote's own time is when the price last moved; the coin's is a fallback.
      updatedAt: usd.last_updated ?? entry.last_updated,
    },
    FIELDS,
    { host, index },
  );
}
