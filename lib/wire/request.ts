/**
 * The request parser: one framed request's bytes to the {@linkcode Request} the server
 * understood, or the error to reply with.
 *
 * @module
 */

import { isRecord } from "../util/is_record.ts";
import { sample } from "../util/sample.ts";
import type { ErrorCode } from "./error_code.ts";
import { type HistoryRange, isHistoryRange } from "./history_range.ts";
import {
  CANDLE_DEFAULT_RANGE,
  CANDLE_INTERVALS,
  CANDLE_MAX_RANGE,
  type CandleInterval,
  candleRangeAllowed,
  isCandleInterval,
} from "./candles.ts";
import { ID_PREFIX, MAX_ID_LENGTH, MAX_SYMBOL_LENGTH, MAX_WATCHED } from "./limits.ts";

/** A request the server understood. */
export type Request =
  | { kind: "market_all"; version: 1 | 2; currency: string }
  | { kind: "market_coin"; version: 1 | 2; symbol: string; currency: string }
  | { kind: "history"; version: 1 | 2; symbol: string; range: HistoryRange }
  | {
    kind: "candles";
    version: 2;
    symbol: string;
    interval: CandleInterval;
    range: HistoryRange;
    currency: string;
  }
  | { kind: "currencies"; version: 1 | 2 }
  | { kind: "ping"; version: 1 | 2 }
  | { kind: "info"; version: 1 | 2 }
  | { kind: "search"; version: 1 | 2; query: string }
  | { kind: "watch"; version: 2; symbols: string[] }
  | { kind: "unwatch"; version: 2; symbols: string[] | null }
  | { kind: "close" };

/** A request the server could not accept, with the reply to send. */
export interface RequestError {
  kind: "error";
  code: ErrorCode;
  message: string;
}

/**
 * Whether `text` can name one coin in a request: one word of at most
 * {@linkcode MAX_SYMBOL_LENGTH} characters, other than `ALL`.
 */
export function isSymbol(text: string): boolean {
  return text.length <= MAX_SYMBOL_LENGTH && /^\S+$/.test(text) && text.toUpperCase() !== "ALL";
}

/** Whether `code` has the shape of a currency code: 2 to 10 letters A to Z, upper case. */
export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{2,10}$/.test(code);
}

/** The commands, as listed in the reply to an unknown one. */
const COMMANDS = "MARKET, HISTORY, CANDLES, SEARCH, CURRENCIES, WATCH, UNWATCH, PING or INFO";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function fail(code: ErrorCode, message: string): RequestError {
  return { kind: "error", code, message };
}

/**
 * Parses one framed request. Never throws: anything malformed becomes a {@linkcode RequestError}
 * whose message says what was wrong and what was expected.
 */
export function parseRequest(bytes: Uint8Array): Request | RequestError {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail("BAD_JSON", "Request is not valid UTF-8: expected one JSON object per line");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(
      "BAD_JSON",
      'Request is not valid JSON: expected {"status":"OK","data":"MARKET ALL"}',
    );
  }
  if (!isRecord(value)) {
    return fail(
      "BAD_REQUEST",
      'Request is not a JSON object: expected {"status":"OK","data":"..."}',
    );
  }
  return parseEnvelope(value);
}

/** The request in a JSON object: its `status`, its protocol version `v` and its `data`. */
function parseEnvelope(request: Record<string, unknown>): Request | RequestError {
  const status = request.status;
  if (status === "CLOSE") return { kind: "close" };
  if (status !== undefined && status !== "OK") {
    return fail("BAD_REQUEST", 'Request status must be "OK" or "CLOSE"');
  }
  const v = request.v;
  if (v !== undefined && v !== 1 && v !== 2) {
    return fail("BAD_REQUEST", "Request field v must be 1 or 2");
  }
  const data = request.data;
  if (typeof data !== "string") {
    return fail(
      "BAD_REQUEST",
      data === undefined
        ? 'Request has no "data": expected a command such as "MARKET ALL"'
        : 'Request field "data" must be a string such as "MARKET ALL"',
    );
  }
  return parseCommand(data, v === 2 ? 2 : 1);
}

/** The command in a request's `data`, such as `MARKET BTC EUR`. */
function parseCommand(data: string, version: 1 | 2): Request | RequestError {
  const words = data.trim().split(/\s+/);
  const command = words[0].toUpperCase();
  const args = words.slice(1);
  switch (command) {
    case "MARKET":
      return parseMarket(args, version);
    case "HISTORY":
      return parseHistory(args, version);
    case "CANDLES":
      return parseCandles(args, version);
    case "WATCH":
    case "UNWATCH":
      return parseWatch(command, args, version);
    case "SEARCH":
      return parseSearch(args, version);
    case "CURRENCIES":
    case "PING":
    case "INFO":
      if (args.length > 0) return fail("BAD_REQUEST", `${command} takes no arguments`);
      return {
        kind: command === "CURRENCIES" ? "currencies" : command === "PING" ? "ping" : "info",
        version,
      };
    case "":
      return fail("UNKNOWN_COMMAND", `Empty command: expected ${COMMANDS}`);
    default:
      return fail(
        "UNKNOWN_COMMAND",
        `Unknown command ${sample(command, 32)}: expected ${COMMANDS}`,
      );
  }
}

function unknownCoin(symbol: string): RequestError {
  return fail("UNKNOWN_COIN", `No coin with symbol ${sample(symbol, MAX_SYMBOL_LENGTH)}`);
}

/**
 * `MARKET ALL|symbol [currency]`. The second word is a currency in v1 too, where the reply is a
 * bare number in it: `MARKET BTC ETH` is Bitcoin priced in ether. v1 cannot label it, as the
 * original client tells a price from a message by its type; the request names it, and v2 replies
 * say it.
 */
function parseMarket(args: string[], version: 1 | 2): Request | RequestError {
  if (args.length < 1 || args.length > 2) {
    return fail(
      "BAD_REQUEST",
      "MARKET takes ALL or a coin symbol, then optionally a currency: MARKET BTC or MARKET ALL EUR",
    );
  }
  const currency = args.length === 2 ? args[1].toUpperCase() : "USD";
  if (!isCurrencyCode(currency)) {
    return fail(
      "UNKNOWN_CURRENCY",
      `Unknown currency ${sample(currency, 12)}: CURRENCIES lists them`,
    );
  }
  const symbol = args[0].toUpperCase();
  if (symbol === "ALL") return { kind: "market_all", version, currency };
  if (tooLong(symbol)) return unknownCoin(symbol);
  return { kind: "market_coin", version, symbol, currency };
}

/** Whether a key is longer than a symbol (or `id:` and an id) can be. */
function tooLong(key: string): boolean {
  return key.startsWith(ID_PREFIX)
    ? key.length > ID_PREFIX.length + MAX_ID_LENGTH
    : key.length > MAX_SYMBOL_LENGTH;
}

/** `SEARCH text`: one word of at most a symbol's or an id's length. */
function parseSearch(args: string[], version: 1 | 2): Request | RequestError {
  if (args.length !== 1 || args[0].length > MAX_ID_LENGTH) {
    return fail("BAD_REQUEST", "SEARCH takes one word, part of a symbol or name: SEARCH pep");
  }
  return { kind: "search", version, query: args[0] };
}

/** `HISTORY symbol [range]`. */
function parseHistory(args: string[], version: 1 | 2): Request | RequestError {
  const range = (args[1] ?? "24h").toLowerCase();
  if (args.length < 1 || args.length > 2 || !isHistoryRange(range)) {
    return fail(
      "BAD_REQUEST",
      "HISTORY takes a coin symbol and optionally 1h, 24h, 7d or 30d: HISTORY BTC 7d",
    );
  }
  const symbol = args[0].toUpperCase();
  if (symbol.length > MAX_SYMBOL_LENGTH) return unknownCoin(symbol);
  return { kind: "history", version, symbol, range };
}

/** `CANDLES symbol interval [range] [currency]`, v2 only. */
function parseCandles(args: string[], version: 1 | 2): Request | RequestError {
  if (version !== 2) return fail("BAD_REQUEST", 'CANDLES answers v2 objects: send it with "v":2');
  const interval = (args[1] ?? "").toLowerCase();
  const hasRange = args.length > 2 && isHistoryRange(args[2].toLowerCase());
  const rest = args.slice(hasRange ? 3 : 2);
  if (args.length < 2 || !isCandleInterval(interval) || rest.length > 1) {
    return fail(
      "BAD_REQUEST",
      `CANDLES takes a coin symbol, an interval (${CANDLE_INTERVALS.join(", ")}), optionally a ` +
        "range (1h, 24h, 7d or 30d) and a currency: CANDLES BTC 1h 7d EUR",
    );
  }
  const range = hasRange ? args[2].toLowerCase() as HistoryRange : CANDLE_DEFAULT_RANGE[interval];
  if (!candleRangeAllowed(interval, range)) {
    return fail(
      "BAD_REQUEST",
      `${interval} candles cover at most ${CANDLE_MAX_RANGE[interval]}: the history keeps ` +
        `finer buckets only so long; use a longer interval for ${range}`,
    );
  }
  const currency = (rest[0] ?? "USD").toUpperCase();
  if (!isCurrencyCode(currency)) {
    return fail(
      "UNKNOWN_CURRENCY",
      `Unknown currency ${sample(currency, 12)}: CURRENCIES lists them`,
    );
  }
  const symbol = args[0].toUpperCase();
  if (symbol.length > MAX_SYMBOL_LENGTH) return unknownCoin(symbol);
  return { kind: "candles", version: 2, symbol, interval, range, currency };
}

/** `WATCH symbol...` and `UNWATCH [symbol...]`, v2 only. */
function parseWatch(
  command: "WATCH" | "UNWATCH",
  args: string[],
  version: 1 | 2,
): Request | RequestError {
  if (version !== 2) {
    return fail("BAD_REQUEST", `${command} streams v2 coin objects: send it with "v":2`);
  }
  const symbols = [...new Set(args.map((arg) => arg.toUpperCase()))];
  if (command === "WATCH" && symbols.length === 0) {
    return fail("BAD_REQUEST", "WATCH takes one or more coin symbols: WATCH BTC ETH");
  }
  if (symbols.length > MAX_WATCHED) {
    return fail("BAD_REQUEST", `At most ${MAX_WATCHED} symbols can be watched per connection`);
  }
  const long = symbols.find(tooLong);
  if (long !== undefined) return unknownCoin(long);
  return command === "WATCH"
    ? { kind: "watch", version, symbols }
    : { kind: "unwatch", version, symbols: symbols.length === 0 ? null : symbols };
}
