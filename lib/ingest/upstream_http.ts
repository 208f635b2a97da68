/**
 * HTTP with limits, shared by every price provider client: one JSON GET with a deadline, a user
 * agent, a cap on the body and same-origin redirects only, failures turned into
 * {@linkcode UpstreamError}s whose messages are safe to log (they name the host, never a path,
 * query or key).
 *
 * @module
 */

import { type ExactNumbers, parseJson } from "./exact_json.ts";
import { quote } from "./upstream_message.ts";
import { UpstreamError } from "./upstream_error.ts";
import type { OnSkipped } from "./valid_coins.ts";
import { describeUrl } from "../util/describe_url.ts";
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
 * most listed. A valid answer costs several times its size in memory while it is parsed (the
 * bytes, the text twice, the parsed tree): BENCHMARKS.md has the figures.
 */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** Same-origin redirects followed at most, so a redirect loop ends. */
const MAX_REDIRECTS = 3;

/** The `user-agent` sent with every request. */
const USER_AGENT = `crypto-price-server/${VERSION}`;

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
 * than their bytes on V8's heap.
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
 * gzip decoder hands out 4 KiB per read, so a gzip bomb would make sixteen times its size in
 * buffers for the collector. Other streams (a test's `new Response(text)`) are read with a
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
  /** Told which records of an answer were skipped as invalid, see `valid_coins.ts`. */
  onSkipped?: OnSkipped;
}

/** The most specific message of an error chain; fetch wraps the useful one in `cause`. */
function reasonOf(error: unknown): string {
  while (error instanceof Error && error.cause instanceof Error) error = error.cause;
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error sending request for url \([^)]*\): /, "");
}
