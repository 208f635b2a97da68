/**
 * The JSON API over the {@linkcode Market}: each endpoint is one request of the v2 protocol, so
 * its body is the `data` of the protocol's reply, byte for byte, from the Market's own encoded
 * replies, and its errors carry the protocol's codes.
 *
 * @module
 */

import type { Answer, Market, Responder } from "../server/market.ts";
import type { ErrorCode } from "../wire/error_code.ts";
import { isHistoryRange } from "../wire/history_range.ts";
import { CANDLE_INTERVALS, isCandleInterval } from "../wire/candles.ts";
import { isCurrencyCode, isSymbol } from "../wire/request.ts";
import { convertHistory, type HistoryPrices } from "../wire/convert_history.ts";
import { usdConverter } from "../server/currency.ts";
import { Representation } from "./representation.ts";

const CURRENCY_FORMAT =
  "currency must be a code of 2 to 10 letters: ?currency=EUR (/api/v1/currencies lists them)";
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DATA_KEY = encoder.encode('"data":');
const JSON_TYPE = "Content-Type: application/json; charset=utf-8\r\n";

/** What the API answers one request with: a body to send, or a later one (storage reads). */
export type ApiResult = { rep: Representation; error: ErrorCode | null; command: string } | {
  later: Promise<{ rep: Representation; error: ErrorCode | null; command: string }>;
};

/** What a request line asks the Market, and the currency to convert a USD history to. */
interface Ask {
  readonly line: Uint8Array;
  readonly respond: Responder;
  readonly currency?: string;
}

/** A request line to ask the Market, a refusal, or null when no endpoint has the path. */
type Plan = Ask | { readonly result: ApiResult } | null;

/** One answer of the API, settled. */
type Settled = { rep: Representation; error: ErrorCode | null; command: string };

/** The HTTP status of each protocol error code. */
const STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  UNKNOWN_COMMAND: 400,
  UNKNOWN_COIN: 404,
  UNKNOWN_CURRENCY: 404,
  NO_DATA: 503,
  LINE_TOO_LONG: 431,
  TIMEOUT: 408,
  BUSY: 503,
};

/** How many distinct request lines are kept encoded; past it they are encoded per request. */
const LINE_CACHE_LIMIT = 1024;

/** The JSON error body `{"error":{"code":...,"message":...}}`. */
export function errorJson(code: string, message: string): string {
  return `{"error":{"code":${JSON.stringify(code)},"message":${JSON.stringify(message)}}}\n`;
}

/** An error representation (never cached by clients). */
export function errorRep(
  status: number,
  code: string,
  message: string,
  extra = "",
): Representation {
  return new Representation(status, JSON_TYPE + extra, errorJson(code, message), false);
}

/** Answers the `/api/v1/...` paths from a Market. */
export class MarketApi {
  readonly #market: Market;
  readonly #extraHeaders: string;
  /** What each parsed target asks, kept while the target is. */
  readonly #plans = new WeakMap<object, Plan>();
  /** Request lines by their text, encoded once. */
  readonly #lines = new Map<string, Uint8Array>();
  /** The representation of each Market answer: the Market's answers live as long as a snapshot. */
  readonly #reps = new WeakMap<Answer, Representation>();

  /** @param extraHeaders header lines added to every API response (CORS), each ending in CRLF */
  constructor(market: Market, extraHeaders: string) {
    this.#market = market;
    this.#extraHeaders = extraHeaders;
  }

  /**
   * The answer to `/api/v1/<segments>` with `query`, or null when no endpoint has that path.
   * `now` is the read's clock.
   */
  answer(
    segments: readonly string[],
    query: URLSearchParams,
    now: number,
    key?: object,
  ): ApiResult | null {
    // A repeated request (the same parsed target, see HttpResponder) skips the checks: measured
    // in-process, they cost several times the Market's own answer.
    let plan = key === undefined ? undefined : this.#plans.get(key);
    if (plan === undefined) {
      plan = this.#plan(segments, query);
      if (key !== undefined) this.#plans.set(key, plan);
    }
    if (plan === null) return null;
    return "line" in plan ? this.#ask(plan, now) : plan.result;
  }

  /** What a request asks the Market, or its refusal, or null when no endpoint has the path. */
  #plan(segments: readonly string[], query: URLSearchParams): Plan {
    const [resource, symbol, sub] = segments;
    if (resource === "currencies" && segments.length === 1) return this.#line("CURRENCIES");
    if (resource === "info" && segments.length === 1) return this.#line("INFO");
    if (resource === "search" && segments.length === 1) return this.#search(query);
    if (resource !== "coins" || segments.length > 3) return null;
    const currency = (query.get("currency") ?? "USD").toUpperCase();
    if (segments.length === 3 && sub !== "history" && sub !== "candles") return null;
    if (symbol !== undefined && !isSymbol(symbol)) {
      return this.#fail("UNKNOWN_COIN", `No coin with symbol ${JSON.stringify(symbol)}`);
    }
    if (sub === "candles") return this.#candles(symbol!, query, currency);
    if (!isCurrencyCode(currency)) {
      return this.#fail("BAD_REQUEST", CURRENCY_FORMAT);
    }
    if (segments.length === 3) {
      const range = (query.get("range") ?? "24h").toLowerCase();
      if (!isHistoryRange(range)) {
        return this.#fail("BAD_REQUEST", "range must be 1h, 24h, 7d or 30d: ?range=7d");
      }
      const ask = this.#line(`HISTORY ${symbol} ${range}`);
      return currency === "USD" ? ask : { ...ask, currency };
    }
    return this.#line(`MARKET ${symbol ?? "ALL"} ${currency}`);
  }

  /** `/search?q=pep`: the protocol's `SEARCH`, one word. */
  #search(query: URLSearchParams): Plan {
    const word = query.get("q") ?? "";
    if (!/^[^\s\p{Cc}]{1,100}$/u.test(word)) {
      return this.#fail("BAD_REQUEST", "q must be one word of 1 to 100 characters: ?q=pep");
    }
    return this.#line(`SEARCH ${word}`);
  }

  /** `/coins/BTC/candles?interval=1h&range=7d&currency=EUR`: the protocol's `CANDLES`. */
  #candles(symbol: string, query: URLSearchParams, currency: string): Plan {
    const interval = (query.get("interval") ?? "1h").toLowerCase();
    const range = query.get("range")?.toLowerCase();
    if (!isCandleInterval(interval)) {
      return this.#fail("BAD_REQUEST", `interval must be one of ${CANDLE_INTERVALS.join(", ")}`);
    }
    if (range !== undefined && !isHistoryRange(range)) {
      return this.#fail("BAD_REQUEST", "range must be 1h, 24h, 7d or 30d: ?range=7d");
    }
    if (!isCurrencyCode(currency)) return this.#fail("BAD_REQUEST", CURRENCY_FORMAT);
    return this.#line(
      `CANDLES ${symbol} ${interval} ${range ?? ""} ${currency}`.replace("  ", " "),
    );
  }

  /**
   * The v2 request line asking `data`, encoded once per distinct text, with a Market responder
   * of its own: it is only ever asked these bytes, so each request is a repeat, answered from
   * the responder's last answer while the snapshot lasts, with no look-up in the reply cache.
   */
  #line(data: string): Ask {
    let line = this.#lines.get(data);
    if (line === undefined) {
      line = encoder.encode(JSON.stringify({ v: 2, data }));
      if (this.#lines.size < LINE_CACHE_LIMIT) this.#lines.set(data, line);
    }
    return { line, respond: this.#market.responder() };
  }

  #fail(code: ErrorCode, message: string): Plan {
    const rep = errorRep(STATUS[code], code, message, this.#extraHeaders);
    return { result: { rep, error: code, command: "" } };
  }

  /** Asks the Market the plan's request and turns its reply into a representation. */
  #ask(plan: Ask, now: number): ApiResult {
    const { line, respond } = plan;
    const answer = respond(line, 0, line.length, now, true);
    if (plan.currency !== undefined) return this.#inCurrency(answer, plan.currency);
    if (answer.later !== undefined) {
      return { later: answer.later.then((done) => this.#result(done)) };
    }
    return this.#result(answer);
  }

  /**
   * A USD history converted to `currency` at the current rate, with the conversion `MARKET`
   * prices in `currency` are written with; `currency` in the body says which.
   */
  #inCurrency(answer: Answer, currency: string): ApiResult {
    if (answer.later !== undefined) {
      return { later: answer.later.then((done) => this.#converted(done, currency)) };
    }
    return this.#converted(answer, currency);
  }

  #converted(answer: Answer, currency: string): Settled {
    if (answer.error !== null) return this.#result(answer);
    const rates = this.#market.rates;
    const convert = usdConverter(rates, currency);
    if (convert === null) {
      return rates === null
        ? this.#settledFail("NO_DATA", "No exchange rates yet, so history is in USD only")
        : this.#settledFail(
          "UNKNOWN_CURRENCY",
          `Unknown currency ${currency}: /api/v1/currencies lists them`,
        );
    }
    const { data } = JSON.parse(decoder.decode(answer.bytes)) as { data: HistoryPrices };
    const body = `${JSON.stringify(convertHistory(data, currency, convert))}\n`;
    const rep = new Representation(200, JSON_TYPE + this.#extraHeaders, body, true);
    return { rep, error: null, command: answer.command ?? "" };
  }

  #settledFail(code: ErrorCode, message: string): Settled {
    const rep = errorRep(STATUS[code], code, message, this.#extraHeaders);
    return { rep, error: code, command: "HISTORY" };
  }

  #result(answer: Answer): Settled {
    const command = answer.command ?? "";
    let rep = this.#reps.get(answer);
    if (rep === undefined) {
      rep = this.#represent(answer);
      // INFO changes with every request; errors are rare and carry no validator.
      if (answer.error === null && command !== "INFO") this.#reps.set(answer, rep);
    }
    return { rep, error: answer.error, command };
  }

  #represent(answer: Answer): Representation {
    const bytes = answer.bytes;
    if (answer.error !== null) {
      const reply = JSON.parse(decoder.decode(bytes)) as { data: string };
      const retry = answer.error === "BUSY" ? "Retry-After: 1\r\n" : "";
      return errorRep(STATUS[answer.error], answer.error, reply.data, this.#extraHeaders + retry);
    }
    const at = indexOf(bytes, DATA_KEY) + DATA_KEY.length;
    // The reply line ends with `}\n`: the data is what lies between.
    const body = new Uint8Array(bytes.length - 1 - at);
    body.set(bytes.subarray(at, bytes.length - 2));
    body[body.length - 1] = 0x0a;
    return new Representation(
      200,
      JSON_TYPE + this.#extraHeaders,
      body,
      answer.command !== "INFO",
    );
  }
}

/** The first index of `key` in `bytes`. */
function indexOf(bytes: Uint8Array, key: Uint8Array): number {
  outer: for (let i = 0; i + key.length <= bytes.length; i++) {
    for (let j = 0; j < key.length; j++) if (bytes[i + j] !== key[j]) continue outer;
    return i;
  }
  throw new TypeError("Cannot find the data of a reply: expected a data field");
}
