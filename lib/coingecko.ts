/**
 * A small client for the CoinGecko v3 API: the top coins by market cap and the exchange rates.
 *
 * Every failure (network, timeout, HTTP status, malformed body) becomes an {@linkcode UpstreamError}
 * whose message is safe to log: it names the host and never contains the API key.
 *
 * @module
 */

import type { Coin } from "./coin.ts";
import config from "../deno.json" with { type: "json" };

/** The public CoinGecko API base URL. */
export const DEFAULT_API_URL = "https://api.coingecko.com/api/v3";
/** How long one request may take, body included, before it fails. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The `user-agent` sent with every request. */
export const USER_AGENT = `crypto-price-server/${config.version}`;
/** CoinGecko serves at most this many coins per page. */
export const MAX_TOP = 250;

/** The upstream failed or answered something unusable. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  /** The HTTP status, when the upstream answered with a non-2xx one. */
  readonly status?: number;
  /** How long the upstream asked us to wait (from `Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

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
  /** Cancels the request; the signal's reason is thrown as is (it is not an upstream failure). */
  signal?: AbortSignal;
  /** Clock used to turn an HTTP-date `Retry-After` into a delay; defaults to `Date.now`. */
  now?: () => number;
}

/** Options of {@linkcode fetchMarkets}. */
export interface FetchMarketsOptions extends RequestOptions {
  /** How many coins to ask for, 1 to 250. */
  top: number;
}

/** One entry of `/exchange_rates`: `value` units of this currency are worth one bitcoin. */
export interface ExchangeRate {
  name: string;
  unit: string;
  value: number;
  type: string;
}

/**
 * Fetches the `top` coins by market cap in USD.
 *
 * Prices and market caps keep the exact JSON text the upstream sent (`priceText`,
 * `marketCapText`). Symbols are upper-cased; when two coins share a symbol only the better-ranked
 * one is kept, because a symbol is the lookup key of the protocol and the larger coin is the one a
 * user most likely means. The result is sorted by rank.
 *
 * @throws {UpstreamError} when the upstream is unreachable, slow, failing or sends invalid data.
 */
export async function fetchMarkets(options: FetchMarketsOptions): Promise<Coin[]> {
  const { top } = options;
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) {
    throw new RangeError(`Cannot fetch ${top} coins: expected an integer from 1 to ${MAX_TOP}`);
  }
  const query = `vs_currency=usd&order=market_cap_desc&per_page=${top}&page=1`;
  const body = await requestJson("/coins/markets?" + query, options, keepNumberText);
  const host = describeApiUrl(options.apiUrl);
  if (!Array.isArray(body)) {
    throw new UpstreamError(`${host} sent ${kindOf(body)} where a list of coins was expected`);
  }
  if (body.length === 0) throw new UpstreamError(`${host} sent an empty list of coins`);

  const bySymbol = new Map<string, Coin>();
  body.forEach((entry, index) => {
    const coin = parseCoin(entry, index, host);
    const seen = bySymbol.get(coin.symbol);
    if (seen === undefined || coin.rank < seen.rank) bySymbol.set(coin.symbol, coin);
  });
  // Array.prototype.sort is stable, so coins with equal ranks keep the upstream's order.
  return [...bySymbol.values()].sort((a, b) => a.rank - b.rank);
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
  const host = describeApiUrl(options.apiUrl);
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

/**
 * Parses a `Retry-After` header (delay in seconds or an HTTP-date) into milliseconds.
 * Returns `undefined` when absent or unparsable; dates in the past give 0.
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date always has letters; this keeps Date.parse from reading "-5" as a year.
  const date = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The host of an API URL, for messages: never the path, query or credentials. */
export function describeApiUrl(apiUrl: string = DEFAULT_API_URL): string {
  try {
    return new URL(apiUrl).host;
  } catch {
    return "the upstream";
  }
}

/** A number that remembers the JSON text it was parsed from. */
class ExactNumber {
  constructor(readonly value: number, readonly text: string) {}
}

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context: { source?: string },
) => unknown;

const EXACT_KEYS = new Set(["current_price", "market_cap"]);

/** Keeps the source text of the numbers that are served to clients. */
const keepNumberText: Reviver = (key, value, context) =>
  EXACT_KEYS.has(key) && typeof value === "number" && context.source !== undefined
    ? new ExactNumber(value, context.source)
    : value;

async function requestJson(
  path: string,
  options: RequestOptions,
  reviver?: Reviver,
): Promise<unknown> {
  const apiUrl = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, "");
  const host = describeApiUrl(apiUrl);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { accept: "application/json", "user-agent": USER_AGENT };
  if (options.apiKey) headers["x-cg-demo-api-key"] = options.apiKey;

  // A timer we clear ourselves rather than AbortSignal.timeout, so no timer outlives the request.
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new UpstreamError(`${host} did not answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout.signal])
    : timeout.signal;
  const fail = (what: string, error: unknown): never => {
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.signal.aborted) throw timeout.signal.reason;
    const reason = redact(reasonOf(error), options.apiKey);
    throw new UpstreamError(`${what}: ${reason}`, { cause: error });
  };

  try {
    let response: Response;
    try {
      response = await (options.fetch ?? globalThis.fetch)(apiUrl + path, { headers, signal });
    } catch (error) {
      return fail(`Cannot reach ${host}`, error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      return fail(`${host} broke off its answer`, error);
    }
    if (!response.ok) {
      const excerpt = text.trim() ? ` (${quote(redact(text.trim(), options.apiKey), 80)})` : "";
      throw new UpstreamError(`${host} answered HTTP ${response.status}${excerpt}`, {
        status: response.status,
        retryAfterMs: parseRetryAfter(
          response.headers.get("retry-after"),
          (options.now ?? Date.now)(),
        ),
      });
    }
    try {
      return JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]);
    } catch (error) {
      const type = response.headers.get("content-type") ?? "no content type";
      throw new UpstreamError(
        `${host} sent a body that is not valid JSON (${
          quote(type, 40)
        }, ${text.length} characters)`,
        { cause: error },
      );
    }
  } finally {
    clearTimeout(timer);
  }
}

function parseCoin(entry: unknown, index: number, host: string): Coin {
  let where = `coin #${index + 1}`;
  if (!isRecord(entry)) throw invalid(host, where, "must be an object", entry);
  const { symbol, name, current_price, market_cap, market_cap_rank } = entry;
  const { price_change_percentage_24h: change, last_updated: updated } = entry;
  if (!isNonEmptyString(symbol) || /[\s\p{Cc}]/u.test(symbol) || symbol.length > 32) {
    throw invalid(host, where, "symbol must be a short word", symbol);
  }
  where += ` (${quote(symbol)})`;
  if (!isNonEmptyString(name)) throw invalid(host, where, "name must be a non-empty string", name);
  if (!(current_price instanceof ExactNumber) || !isAmount(current_price.value)) {
    throw invalid(host, where, "current_price must be a non-negative number", current_price);
  }
  if (market_cap !== null && market_cap !== undefined) {
    if (!(market_cap instanceof ExactNumber) || !isAmount(market_cap.value)) {
      throw invalid(host, where, "market_cap must be a non-negative number or null", market_cap);
    }
  }
  const rankOk = market_cap_rank == null ||
    (Number.isSafeInteger(market_cap_rank) && (market_cap_rank as number) > 0);
  if (!rankOk) {
    throw invalid(
      host,
      where,
      "market_cap_rank must be a positive integer or null",
      market_cap_rank,
    );
  }
  if (change != null && !(typeof change === "number" && Number.isFinite(change))) {
    throw invalid(host, where, "price_change_percentage_24h must be a number or null", change);
  }
  if (updated != null && !(typeof updated === "string" && !Number.isNaN(Date.parse(updated)))) {
    throw invalid(host, where, "last_updated must be an ISO date or null", updated);
  }
  return {
    symbol: symbol.trim().toUpperCase(),
    name: name.trim(),
    rank: (market_cap_rank as number | null | undefined) ?? index + 1,
    price: current_price.value,
    priceText: current_price.text,
    marketCap: market_cap instanceof ExactNumber ? market_cap.value : null,
    marketCapText: market_cap instanceof ExactNumber ? market_cap.text : null,
    change24h: (change as number | null | undefined) ?? null,
    updatedAt: (updated as string | null | undefined) ?? null,
  };
}

/** The most specific message of an error chain; fetch wraps the useful one in `cause`. */
function reasonOf(error: unknown): string {
  while (error instanceof Error && error.cause instanceof Error) error = error.cause;
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error sending request for url \([^)]*\): /, "");
}

function invalid(host: string, where: string, expected: string, got: unknown): UpstreamError {
  return new UpstreamError(`${host} sent an invalid ${where}: ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (value instanceof ExactNumber) return value.text;
  if (value === undefined) return "nothing";
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** JSON-quotes and shortens text from the upstream so it cannot mangle a log line. */
function quote(text: string, max = 40): string {
  const short = text.length > max ? text.slice(0, max) + "…" : text;
  return JSON.stringify(short);
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.replaceAll(secret, "***") : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "";
}

function isAmount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
