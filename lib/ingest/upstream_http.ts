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
import { redact } from "../util/redact.ts";

/** How long one request may take, body included, before it fails. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * The most bytes one upstream answer may have once decompressed. The largest answer we ask for is
 * CoinPaprika's `/v1/tickers` (every coin, no limit): its documented ticker, compact and with
 * `quotes=USD` only as we ask, is 693 bytes (`tests/testdata/`), so 1.7 to 8.3 MB for the 2,500 to
 * 12,000 tickers it has listed (a count we could not check here: no network). CoinMarketCap's
 * documented listing is about 1 KB a coin, 5 MB at its 5,000-coin limit; CoinGecko's recorded
 * pages are 780 bytes a coin, 0.2 MB for 250. 32 MiB holds 48,000 such tickers, four times the
 * most listed. What it costs in memory (measured, BENCHMARKS.md): an answer cut off at the cap
 * grows peak RSS by the cap plus under 10 MiB; a valid answer of S bytes by 6.5 to 10 times S
 * while it is parsed (the bytes, the text twice, the parsed tree, V8's headroom), about 70 MiB
 * for 8 MB and 210 MiB just under 32 MiB.
 */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** Same-origin redirects followed at most, so a redirect loop ends. */
const MAX_REDIRECTS = 3;

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
type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context: { source?: string },
) => unknown;

/** Which numbers of an answer keep their text; made by {@linkcode keepNumberText}. */
export interface ExactNumbers {
  /** The keys whose number values keep their text. */
  readonly keys: ReadonlySet<string>;
  /** Finds those numbers in JSON text: the key and what precedes the number, then the number. */
  readonly pattern: RegExp;
  /** The same with a source-text reviver, for text in which the marker could be forged. */
  readonly reviver: Reviver;
}

/** Numbers under `keys` will be parsed into {@linkcode ExactNumber}s, see {@linkcode parseJson}. */
export function keepNumberText(keys: Iterable<string>): ExactNumbers {
  const exact = new Set(keys);
  const names = [...exact].map((key) => key.replace(/[^\w]/g, (c) => `\\${c}`)).join("|");
  return {
    keys: exact,
    // JSON's own number grammar and white space, so only what JSON.parse reads as a number
    // after one of the keys is marked. A quote after a backslash is inside a string (`\"`), as
    // the start of a key never is.
    pattern: new RegExp(
      `((?<!\\\\)"(?:${names})"[ \\t\\n\\r]*:[ \\t\\n\\r]*)(-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)`,
      "g",
    ),
    reviver: (key, value, context) =>
      exact.has(key) && typeof value === "number" && context.source !== undefined
        ? new ExactNumber(value, context.source)
        : value,
  };
}

/** What marks a number's text in a string; a JSON string can only hold it as `\u0000`. */
const MARK = "\u0000";
const ESCAPED_MARK = /\\u0000/;

/**
 * `JSON.parse`, with the numbers under `exact.keys` parsed into {@linkcode ExactNumber}s. A
 * reviver reading the source text could do that alone, but then V8 keeps the source of every
 * value and calls back for each: on 8 MB of CoinPaprika tickers that took 419 ms and 75 MiB of
 * peak RSS, against 25 ms and no growth for a plain parse, and about 100 ms and 17 MiB for
 * this one (measured in one process, BENCHMARKS.md). So each such number is first written as a
 * string that starts with a NUL character (`"price":1.5` becomes `"price":"\u00001.5"`), the
 * text is parsed plainly, and those strings become ExactNumbers. A JSON string can only
 * carry a NUL as the escape `\u0000` (a raw one is invalid JSON), so text with that escape
 * (none of any provider's real answers) is parsed with the reviver instead: no upstream can pass
 * a string off as a number.
 *
 * @throws {SyntaxError} when the text is not JSON
 */
export function parseJson(text: string, exact?: ExactNumbers): unknown {
  if (exact === undefined) return JSON.parse(text);
  if (ESCAPED_MARK.test(text)) {
    return JSON.parse(text, exact.reviver as Parameters<typeof JSON.parse>[1]);
  }
  const root = JSON.parse(text.replace(exact.pattern, '$1"\\u0000$2"'));
  // Iterative: a hostile answer may nest deeper than the call stack allows.
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== "object" || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === "object") pending.push(item);
      continue;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === "object") pending.push(item);
      else if (typeof item === "string" && item.startsWith(MARK) && exact.keys.has(key)) {
        const source = item.slice(1);
        record[key] = new ExactNumber(Number(source), source);
      }
    }
  }
  return root;
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
  /** Most bytes of the (decompressed) body; defaults to {@linkcode DEFAULT_MAX_BYTES}. */
  maxBytes?: number;
  /** Cancels the request; the signal's reason is thrown as is (it is not an upstream failure). */
  signal?: AbortSignal;
  /** Clock used to turn an HTTP-date `Retry-After` into a delay; defaults to `Date.now`. */
  now?: () => number;
  /** Numbers that keep their text, see {@linkcode keepNumberText}. */
  exactNumbers?: ExactNumbers;
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
      response = await fetchSameOrigin(url, headers, signal, options.fetch ?? globalThis.fetch);
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      return fail(`Cannot reach ${host}`, error);
    }
    let text: string;
    try {
      text = await readText(response, options.maxBytes ?? DEFAULT_MAX_BYTES, host);
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
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
      return parseJson(text, options.exactNumbers);
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
 * Fetches without letting fetch follow redirects: a redirect to the same origin is followed (with
 * the same headers), one to another origin is refused, because the headers may carry an API key
 * that must only ever reach the host it was configured for.
 */
async function fetchSameOrigin(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  fetcher: typeof fetch,
): Promise<Response> {
  let current = new URL(url);
  for (let hops = 0;; hops++) {
    const target = hops === 0 ? url : current.href;
    const response = await fetcher(target, { headers, signal, redirect: "manual" });
    const location = response.headers.get("location");
    if (response.status < 300 || response.status > 399 || location === null) return response;
    await response.body?.cancel().catch(() => {});
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new UpstreamError(
        `${current.host} redirected to an invalid location (${quote(location, 60)})`,
      );
    }
    if (next.origin !== current.origin) {
      throw new UpstreamError(
        `${current.host} redirected to another origin (${
          quote(next.origin, 60)
        }); not followed, so request headers such as an API key stay with ${current.host}`,
        { status: response.status },
      );
    }
    if (hops >= MAX_REDIRECTS) {
      throw new UpstreamError(`${current.host} redirected more than ${MAX_REDIRECTS} times`);
    }
    current = next;
  }
}

/**
 * Reads a body as text, counting the bytes as they arrive (after decompression, which fetch does
 * while streaming) and cancelling the download as soon as `maxBytes` is passed: a huge answer or
 * a gzip bomb fails as fast as the bytes arrive, having cost the bytes read (at most `maxBytes`)
 * and one read buffer. The bytes stay bytes until the answer is whole, then are decoded, so an
 * answer cut off at the cap never had strings made of it: strings decoded while reading cost more
 * than their bytes on V8's heap (measured on the server with a 32 MiB cap: a gzip bomb grew peak
 * RSS by 70 MiB when decoded into 1 MiB parts as it came, by 39 to 41 MiB as bytes).
 */
async function readText(response: Response, maxBytes: number, host: string): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  const encoded = response.headers.has("content-encoding");
  if (!encoded && Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(host, maxBytes, `it announced ${declared}`);
  }
  if (response.body === null) return "";
  // Blocks of 64 KiB, doubling to 1 MiB: a small answer takes a small block, and a large one
  // leaves at most 1 MiB unused.
  const blocks: Uint8Array[] = [];
  let block = new Uint8Array(Math.min(FIRST_BLOCK_BYTES, maxBytes));
  let filled = 0;
  let total = 0;
  // Leaving this loop early (the cap, a broken stream) cancels the body: see chunksOf.
  for await (const chunk of chunksOf(response.body)) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge(host, maxBytes, "cut off there");
    for (let offset = 0; offset < chunk.byteLength;) {
      if (filled === block.length) {
        blocks.push(block);
        block = new Uint8Array(Math.min(block.length * 2, LARGEST_BLOCK_BYTES));
        filled = 0;
      }
      const n = Math.min(chunk.byteLength - offset, block.length - filled);
      block.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
    }
  }
  blocks.push(block.subarray(0, filled));
  const decoder = new TextDecoder();
  if (blocks.length === 1) return decoder.decode(blocks[0]);
  const parts = blocks.map((bytes, i) => {
    // Each block is let go once decoded, so the collector may free it before the join.
    blocks[i] = EMPTY;
    return decoder.decode(bytes, { stream: i < blocks.length - 1 });
  });
  return parts.join("");
}

const FIRST_BLOCK_BYTES = 64 * 1024;
const LARGEST_BLOCK_BYTES = 1024 * 1024;
const EMPTY = new Uint8Array(0);

/** Size of the one buffer a body is read into. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * The chunks of a body; a caller that stops early cancels it, which releases the connection and
 * whatever fetch had buffered. A byte stream (what fetch gives) is read into one reused buffer:
 * a default reader gets a new 64 KiB buffer from each read however few bytes it carries, and a
 * gzip decoder hands out 4 KiB per read, so 8 MiB of a gzip bomb made 128 MiB of buffers for
 * the collector (measured on the server with an 8 MiB cap: peak RSS grew 74 MiB with a default
 * reader, 17 MiB with this one). Other streams (a test's `new Response(text)`) are read with a
 * default reader.
 */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    const reader = body.getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }
  let buffer = new Uint8Array(READ_BUFFER_BYTES);
  try {
    while (true) {
      const { done, value } = await byob.read(buffer);
      if (done || value === undefined) return;
      yield value;
      // The read took the buffer over; the next one reuses its memory.
      buffer = new Uint8Array(value.buffer);
    }
  } finally {
    await byob.cancel().catch(() => {});
    byob.releaseLock();
  }
}

function tooLarge(host: string, maxBytes: number, detail: string): UpstreamError {
  return new UpstreamError(
    `${host} sent an answer over ${maxBytes} bytes (${detail}); see --max-upstream-bytes`,
  );
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
  /** Most bytes of an answer, decompressed; defaults to {@linkcode DEFAULT_MAX_BYTES}. */
  maxBytes?: number;
  /** Cancels the request; the signal's reason is thrown as is. */
  signal?: AbortSignal;
}

/** Longer names are cut to this many characters (the longest real top-250 name has 38). */
export const MAX_NAME_CHARS = 64;
/** Longest number or date text accepted; real ones have at most 25 characters. */
const MAX_VALUE_CHARS = 40;
/**
 * Characters a symbol may not have and a name loses: white space (in a symbol), controls
 * (`Cc`), format characters (`Cf`: bidirectional overrides such as U+202E, zero-width
 * characters), line and paragraph separators and lone surrogates. They could reorder or hide
 * text on a user's terminal or break a log line.
 */
const HOSTILE_IN_SYMBOL = /[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const HOSTILE_IN_NAME = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+/gu;

/**
 * A provider's coin name made safe to show: hostile characters (see above) removed, runs of
 * white space made one space, at most {@linkcode MAX_NAME_CHARS} characters. Empty when nothing
 * printable is left.
 */
export function cleanName(name: string): string {
  // Cut first, generously, so a 1 MiB name costs no more than a short one.
  const head = name.slice(0, MAX_NAME_CHARS * 4);
  const clean = head.replace(/\s+/g, " ").replace(HOSTILE_IN_NAME, "").trim();
  return [...clean].slice(0, MAX_NAME_CHARS).join("").trim();
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
    !isNonEmptyString(symbol) || HOSTILE_IN_SYMBOL.test(symbol) ||
    symbol.length > MAX_SYMBOL_LENGTH
  ) {
    throw invalid(
      host,
      where,
      `${names.symbol} must be a word of at most ${MAX_SYMBOL_LENGTH} printable characters`,
      symbol,
    );
  }
  where += ` (${quote(symbol)})`;
  const cleanedName = typeof name === "string" ? cleanName(name) : "";
  if (cleanedName === "") {
    throw invalid(host, where, `${names.name} must be a string with printable characters`, name);
  }
  if (!(price instanceof ExactNumber) || !isAmount(price.value) || !isShort(price.text)) {
    throw invalid(host, where, `${names.price} must be a non-negative number`, price);
  }
  if (
    marketCap != null &&
    !(marketCap instanceof ExactNumber && isAmount(marketCap.value) && isShort(marketCap.text))
  ) {
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
    updatedAt != null &&
    !(typeof updatedAt === "string" && isShort(updatedAt) && !Number.isNaN(Date.parse(updatedAt)))
  ) {
    throw invalid(host, where, `${names.updatedAt} must be an ISO date or null`, updatedAt);
  }
  const fallbackRank = context.fallbackRank ?? context.index + 1;
  return {
    symbol: symbol.trim().toUpperCase(),
    name: cleanedName,
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
  return new UpstreamError(
    `${host} sent an invalid ${where}: ${expected}, got ${describeUpstreamValue(got)}`,
  );
}

/** A short description of a value from the upstream, for messages. */
export function describeUpstreamValue(value: unknown): string {
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

/** A string with something other than white space. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "";
}

function isShort(text: string): boolean {
  return text.length <= MAX_VALUE_CHARS;
}

function isAmount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
