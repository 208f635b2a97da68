/**
 * What every price provider client shares: one JSON GET with a deadline and a user agent, number
 * text kept exactly, failures turned into {@linkcode UpstreamError}s whose messages are safe to
 * log (they name the host, never a path, query or key), and validation of one coin.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { MAX_SYMBOL_LENGTH } from "../wire/protocol.ts";
import { describeUrl } from "../util/describe_url.ts";
import { sample } from "../util/sample.ts";
import { VERSION } from "../util/version.ts";

/** How long one request may take, body included, before it fails. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The `user-agent` sent with every request. */
const USER_AGENT = `crypto-price-server/${VERSION}`;

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

/** A number that remembers the JSON text it was parsed from. */
class ExactNumber {
  constructor(readonly value: number, readonly text: string) {}
}

/** A `JSON.parse` reviver with the source-text context of V8. */
export type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context: { source?: string },
) => unknown;

/** A reviver that turns the numbers under `keys` into {@linkcode ExactNumber}s. */
export function keepNumberText(keys: Iterable<string>): Reviver {
  const exact = new Set(keys);
  return (key, value, context) =>
    exact.has(key) && typeof value === "number" && context.source !== undefined
      ? new ExactNumber(value, context.source)
      : value;
}

/** Options of {@linkcode requestJson}. */
export interface JsonRequestOptions {
  /** Extra request headers, e.g. an API key. */
  headers?: Record<string, string>;
  /** A credential that must never appear in an error message; replaced by `***`. */
  secret?: string;
  /** Injected for tests; defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Per-request deadline including the body; defaults to 10 s. */
  timeoutMs?: number;
  /** Cancels the request; the signal's reason is thrown as is (it is not an upstream failure). */
  signal?: AbortSignal;
  /** Clock used to turn an HTTP-date `Retry-After` into a delay; defaults to `Date.now`. */
  now?: () => number;
  /** Keeps number text, see {@linkcode keepNumberText}. */
  reviver?: Reviver;
  /**
   * Picks the useful part of a non-2xx body (e.g. an error message field) for the error message;
   * by default, or when it returns `undefined`, the start of the body is shown.
   */
  errorDetail?: (body: string) => string | undefined;
}

/**
 * GETs `url` and parses the JSON body.
 *
 * @throws {UpstreamError} when the host is unreachable, slow, answers non-2xx or not JSON
 */
export async function requestJson(url: string, options: JsonRequestOptions = {}): Promise<unknown> {
  const host = describeUrl(url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = {
    accept: "application/json",
    "user-agent": USER_AGENT,
    ...options.headers,
  };

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
    const reason = redact(reasonOf(error), options.secret);
    throw new UpstreamError(`${what}: ${reason}`, { cause: error });
  };

  try {
    let response: Response;
    try {
      response = await (options.fetch ?? globalThis.fetch)(url, { headers, signal });
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
      const detail = (text.trim() && options.errorDetail?.(text)) || text.trim();
      const excerpt = detail ? ` (${quote(redact(detail, options.secret), 80)})` : "";
      throw new UpstreamError(`${host} answered HTTP ${response.status}${excerpt}`, {
        status: response.status,
        retryAfterMs: parseRetryAfter(
          response.headers.get("retry-after"),
          (options.now ?? Date.now)(),
        ),
      });
    }
    try {
      return JSON.parse(text, options.reviver as Parameters<typeof JSON.parse>[1]);
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

/**
 * Parses a `Retry-After` header (delay in seconds or an HTTP-date) into milliseconds.
 * Returns `undefined` when absent or unparsable; dates in the past give 0.
 */
function parseRetryAfter(
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

/** Request options every provider client takes. */
export interface ProviderRequestOptions {
  /** Injected for tests; defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Per-request deadline including the body; defaults to 10 s. */
  timeoutMs?: number;
  /** Cancels the request; the signal's reason is thrown as is. */
  signal?: AbortSignal;
}

/** The fields of one coin as a provider sent them, before validation. */
export interface RawCoin {
  symbol: unknown;
  name: unknown;
  rank: unknown;
  price: unknown;
  marketCap: unknown;
  change24h: unknown;
  updatedAt: unknown;
}

/** How a provider calls the fields of {@linkcode RawCoin}, so messages use its own words. */
export type FieldNames = Record<keyof RawCoin, string>;

/**
 * Validates one coin. `price` and `marketCap` must be {@linkcode ExactNumber}s (see
 * {@linkcode keepNumberText}); the symbol is upper-cased. `fallbackRank` is used when the
 * provider gave no rank.
 *
 * @throws {UpstreamError} naming the host, the coin and the field that is wrong
 */
export function validateCoin(
  raw: RawCoin,
  names: FieldNames,
  context: { host: string; index: number; fallbackRank?: number },
): Coin {
  const { host } = context;
  const { symbol, name, rank, price, marketCap, change24h, updatedAt } = raw;
  let where = `coin #${context.index + 1}`;
  if (
    !isNonEmptyString(symbol) || /[\s\p{Cc}]/u.test(symbol) || symbol.length > MAX_SYMBOL_LENGTH
  ) {
    throw invalid(host, where, `${names.symbol} must be a short word`, symbol);
  }
  where += ` (${quote(symbol)})`;
  if (!isNonEmptyString(name)) {
    throw invalid(host, where, `${names.name} must be a non-empty string`, name);
  }
  if (!(price instanceof ExactNumber) || !isAmount(price.value)) {
    throw invalid(host, where, `${names.price} must be a non-negative number`, price);
  }
  if (marketCap != null && !(marketCap instanceof ExactNumber && isAmount(marketCap.value))) {
    throw invalid(
      host,
      where,
      `${names.marketCap} must be a non-negative number or null`,
      marketCap,
    );
  }
  if (rank != null && !(Number.isSafeInteger(rank) && (rank as number) > 0)) {
    throw invalid(host, where, `${names.rank} must be a positive integer or null`, rank);
  }
  if (change24h != null && !(typeof change24h === "number" && Number.isFinite(change24h))) {
    throw invalid(host, where, `${names.change24h} must be a number or null`, change24h);
  }
  if (
    updatedAt != null && !(typeof updatedAt === "string" && !Number.isNaN(Date.parse(updatedAt)))
  ) {
    throw invalid(host, where, `${names.updatedAt} must be an ISO date or null`, updatedAt);
  }
  const fallbackRank = context.fallbackRank ?? context.index + 1;
  return {
    symbol: symbol.trim().toUpperCase(),
    name: name.trim(),
    rank: (rank as number | null | undefined) ?? fallbackRank,
    price: price.value,
    priceText: price.text,
    marketCap: marketCap instanceof ExactNumber ? marketCap.value : null,
    marketCapText: marketCap instanceof ExactNumber ? marketCap.text : null,
    change24h: (change24h as number | null | undefined) ?? null,
    updatedAt: (updatedAt as string | null | undefined) ?? null,
  };
}

/**
 * Keeps the better-ranked coin of each symbol and sorts by rank: a symbol is the lookup key of
 * the protocol, and the larger coin is the one a user most likely means.
 */
export function uniqueBySymbol(coins: Iterable<Coin>): Coin[] {
  const bySymbol = new Map<string, Coin>();
  for (const coin of coins) {
    const seen = bySymbol.get(coin.symbol);
    if (seen === undefined || coin.rank < seen.rank) bySymbol.set(coin.symbol, coin);
  }
  // Array.prototype.sort is stable, so coins with equal ranks keep the upstream's order.
  return [...bySymbol.values()].sort((a, b) => a.rank - b.rank);
}

/** The most specific message of an error chain; fetch wraps the useful one in `cause`. */
function reasonOf(error: unknown): string {
  while (error instanceof Error && error.cause instanceof Error) error = error.cause;
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error sending request for url \([^)]*\): /, "");
}

/** An {@linkcode UpstreamError} for a field that is not what was expected. */
export function invalid(
  host: string,
  where: string,
  expected: string,
  got: unknown,
): UpstreamError {
  return new UpstreamError(`${host} sent an invalid ${where}: ${expected}, got ${describe(got)}`);
}

/** A short description of a value from the upstream, for messages. */
export function describe(value: unknown): string {
  if (value instanceof ExactNumber) return value.text;
  if (value === undefined) return "nothing";
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/** What kind of JSON value this is, for messages: `null`, `a list`, `an object`, `a string`. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Quotes and shortens text from the upstream so it cannot mangle a log line: the same escaping
 * as the server uses for samples of client input (control, bidi and other non-ASCII characters).
 */
export function quote(text: string, max = 40): string {
  return sample(text, max);
}

/** Replaces every occurrence of `secret` in `text` with `***`. */
export function redact(text: string, secret: string | undefined): string {
  return secret ? text.replaceAll(secret, "***") : text;
}

/** A string with something other than white space. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "";
}

function isAmount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
