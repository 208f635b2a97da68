/**
 * The wire protocol, as plain functions over bytes and values: the request framer, the request
 * parser and the reply encoders. Nothing here touches a socket, so all of it is tested directly.
 *
 * Framing: a request ends at a newline (JSON lines), or at the brace that closes the top-level
 * object it starts with. The second rule answers the original Python client, which sends
 * `json.dumps(request)` with no terminator and then waits for the reply.
 *
 * @module
 */

import type { Coin, Snapshot } from "./coin.ts";
import { equalsAt } from "../util/equals_at.ts";
import { sample } from "../util/sample.ts";

/** The longest request accepted, in bytes, not counting its newline. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** The error codes a reply can carry; each is documented in the README. */
export const ERROR_CODES = [
  "BAD_JSON",
  "BAD_REQUEST",
  "UNKNOWN_COMMAND",
  "UNKNOWN_COIN",
  "UNKNOWN_CURRENCY",
  "NO_DATA",
  "LINE_TOO_LONG",
  "TIMEOUT",
  "BUSY",
] as const;

/** An error code a reply can carry. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Whether `value` is one of the {@linkcode ERROR_CODES}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value);
}

/** One reply line as a client reads it. */
export type Reply =
  | { status: "OK"; data: unknown }
  | { status: "ERROR"; code: ErrorCode; data: string };

/** The name of the event a watched coin's change is pushed as. */
export const UPDATE_EVENT = "update";

/** The byte that ends a request line. */
export const NEWLINE = 0x0a;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Where the framer is inside the request it has not finished yet. */
const enum Scan {
  /** Only whitespace so far. */
  Leading,
  /** Inside a top-level object, outside any string. */
  Object,
  /** Inside a string inside the object. */
  String,
  /** Just after a backslash inside a string. */
  Escape,
  /** A request that does not start with `{`: it ends at the newline. */
  Line,
}

/** Bytes that leave the scan state as it is: 1 = skip. Inside a string: all but `"`, `\\`, newline. */
const PLAIN_IN_STRING = new Uint8Array(256).fill(1);
PLAIN_IN_STRING[QUOTE] = PLAIN_IN_STRING[BACKSLASH] = PLAIN_IN_STRING[NEWLINE] = 0;
/** Inside an object, outside strings: all but `"`, `{`, `}`, newline. */
const PLAIN_IN_OBJECT = new Uint8Array(256).fill(1);
PLAIN_IN_OBJECT[QUOTE] =
  PLAIN_IN_OBJECT[OPEN_BRACE] =
  PLAIN_IN_OBJECT[CLOSE_BRACE] =
  PLAIN_IN_OBJECT[NEWLINE] =
    0;

/**
 * Called by {@linkcode RequestFramer.push} with each request, `bytes[start, end)`. `repeat` is
 * true when the request is byte for byte the previous one, known without comparing them again:
 * the caller may give the same answer. False says nothing: the bytes may still be the same.
 */
export type OnRequest = (bytes: Uint8Array, start: number, end: number, repeat: boolean) => void;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === CR;
}

/**
 * Splits a byte stream into requests, holding at most {@linkcode MAX_REQUEST_BYTES} of an
 * unfinished request. Scanning resumes where it stopped, so a request split into many
 * segments costs no more than one that arrives whole.
 */
export class RequestFramer {
  readonly maxBytes: number;
  #pending: Uint8Array = new Uint8Array(0);
  #pendingLength = 0;
  #scan: Scan = Scan.Leading;
  #depth = 0;
  #overflowed = false;
  /** A copy of the last request that was a whole object, or empty. */
  #repeat: Uint8Array = new Uint8Array(0);
  /** Whether the request passed on last was `#repeat`. */
  #lastWasRepeat = false;

  /** @param maxBytes the longest request accepted; longer ones overflow the framer */
  constructor(maxBytes: number = MAX_REQUEST_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`Invalid maxBytes ${maxBytes}: expected a positive integer`);
    }
    this.maxBytes = maxBytes;
  }

  /** Bytes held for a request not complete yet. */
  get pendingBytes(): number {
    return this.#pendingLength;
  }

  /** Whether a request has started (a byte other than whitespace arrived) and not ended yet. */
  get inRequest(): boolean {
    return this.#scan !== Scan.Leading;
  }

  /**
   * Feeds one chunk and calls `onRequest` for each complete request, in order: the request is
   * `bytes[start, end)`, valid only during the call (a range, not a view, so that a request
   * answered from a cache allocates nothing: a `subarray` per request cost ~35 ns, measured
   * in-process on 16 pipelined `MARKET BTC` v2 requests). Blank requests are skipped.
   *
   * @returns false when a request grew past the cap; the framer is then spent and must not be fed
   */
  push(chunk: Uint8Array, onRequest: OnRequest): boolean {
    if (this.#overflowed) throw new TypeError("Cannot push to a framer that overflowed");
    let data: Uint8Array;
    let from: number;
    if (this.#pendingLength === 0) {
      data = chunk;
      from = 0;
    } else {
      from = this.#pendingLength;
      this.#append(chunk);
      data = this.#pending.subarray(0, this.#pendingLength);
    }
    let start = 0;
    let scan = this.#scan;
    let depth = this.#depth;
    const length = data.length;
    for (let i = from; i < length; i++) {
      // Skip the bytes that cannot change the state in one tight loop: most of a request is
      // inside strings. Measured in-process on 16 pipelined `MARKET BTC` requests: 80-100 ns
      // per request byte by byte through the switch, ~40 ns with the skip.
      if (scan === Scan.String) {
        while (i < length && PLAIN_IN_STRING[data[i]] === 1) i++;
        if (i === length) break;
      } else if (scan === Scan.Object) {
        while (i < length && PLAIN_IN_OBJECT[data[i]] === 1) i++;
        if (i === length) break;
      } else if (scan === Scan.Line) {
        i = data.indexOf(NEWLINE, i);
        if (i < 0) break;
      }
      const b = data[i];
      if (b === NEWLINE) {
        if (scan !== Scan.Leading) {
          if (!this.#emit(data, start, i, onRequest)) return false;
        }
        start = i + 1;
        scan = Scan.Leading;
        depth = 0;
        continue;
      }
      switch (scan) {
        case Scan.Leading:
          if (isSpace(b)) {
            start = i + 1;
          } else if (b === OPEN_BRACE) {
            // A request that repeats the last object request whole is that request again:
            // scanning the same bytes from the same state ends at the same `}`. Pipelining and
            // polling clients repeat theirs; comparing costs ~25 ns against ~110 for the scan
            // (measured in-process on 16 pipelined `MARKET BTC` v2 requests).
            const repeat = this.#repeat;
            const end = i + repeat.length;
            if (repeat.length > 0 && equalsAt(data, i, repeat)) {
              onRequest(data, i, end, this.#lastWasRepeat);
              this.#lastWasRepeat = true;
              start = end;
              i = end - 1;
              continue;
            }
            scan = Scan.Object;
            depth = 1;
          } else {
            scan = Scan.Line;
          }
          break;
        case Scan.Object:
          if (b === QUOTE) {
            scan = Scan.String;
          } else if (b === OPEN_BRACE) {
            depth++;
          } else if (b === CLOSE_BRACE && --depth === 0) {
            if (!this.#emit(data, start, i + 1, onRequest)) return false;
            if (this.#repeat.length !== i + 1 - start || !equalsAt(data, start, this.#repeat)) {
              this.#repeat = data.slice(start, i + 1);
            }
            this.#lastWasRepeat = true;
            start = i + 1;
            scan = Scan.Leading;
          }
          break;
        case Scan.String:
          if (b === BACKSLASH) scan = Scan.Escape;
          else if (b === QUOTE) scan = Scan.Object;
          break;
        case Scan.Escape:
          scan = Scan.String;
          break;
        case Scan.Line:
          break;
      }
    }
    this.#scan = scan;
    this.#depth = depth;
    const rest = length - start;
    // One byte of slack: a request of exactly the cap may be waiting for the \n after its \r.
    if (rest > this.maxBytes + 1) return this.#overflow();
    if (rest === 0) {
      this.#pendingLength = 0;
    } else if (data === chunk) {
      this.#pendingLength = 0;
      this.#append(chunk.subarray(start));
    } else {
      this.#pending.copyWithin(0, start, length);
      this.#pendingLength = rest;
    }
    // A connection that once sent a long request should not pin its buffer forever.
    if (this.#pendingLength === 0 && this.#pending.length > 4096) {
      this.#pending = new Uint8Array(0);
    }
    return true;
  }

  #emit(
    data: Uint8Array,
    start: number,
    end: number,
    onRequest: OnRequest,
  ): boolean {
    if (end > start && data[end - 1] === CR) end--;
    if (end - start > this.maxBytes) return this.#overflow();
    this.#lastWasRepeat = false;
    onRequest(data, start, end, false);
    return true;
  }

  #overflow(): false {
    this.#overflowed = true;
    this.#pending = new Uint8Array(0);
    this.#pendingLength = 0;
    return false;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#pendingLength + bytes.length;
    if (needed > this.#pending.length) {
      // Grow geometrically but never far past the cap plus one chunk.
      const size = Math.max(
        needed,
        Math.min(this.#pending.length * 2, this.maxBytes + bytes.length),
      );
      const grown = new Uint8Array(Math.max(size, 256));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = needed;
  }
}

/** A request the server understood. */
export type Request =
  | { kind: "market_all"; version: 1 | 2; currency: string }
  | { kind: "market_coin"; version: 1 | 2; symbol: string; currency: string }
  | { kind: "history"; version: 1 | 2; symbol: string; range: HistoryRange }
  | { kind: "currencies"; version: 1 | 2 }
  | { kind: "ping"; version: 1 | 2 }
  | { kind: "info"; version: 1 | 2 }
  | { kind: "watch"; version: 2; symbols: string[] }
  | { kind: "unwatch"; version: 2; symbols: string[] | null }
  | { kind: "close" };

/** How many symbols one connection may watch at once. */
export const MAX_WATCHED = 50;

/** The windows `HISTORY` accepts, shortest first, as replies name them (requests in any case). */
export const HISTORY_RANGES = ["1h", "24h", "7d", "30d"] as const;

/** A `HISTORY` window. */
export type HistoryRange = typeof HISTORY_RANGES[number];

/** The length of each `HISTORY` window in milliseconds. */
export const HISTORY_RANGE_MS: Readonly<Record<HistoryRange, number>> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

/** Whether `text` names a `HISTORY` window exactly (lower case). */
export function isHistoryRange(text: string): text is HistoryRange {
  return (HISTORY_RANGES as readonly string[]).includes(text);
}

/**
 * The longest coin symbol, in UTF-16 code units. The server answers a longer one with
 * `UNKNOWN_COIN` before any look-up; the client refuses it before sending.
 */
export const MAX_SYMBOL_LENGTH = 32;

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
const COMMANDS = "MARKET, HISTORY, CURRENCIES, WATCH, UNWATCH, PING or INFO";

/** A request the server could not accept, with the reply to send. */
export interface RequestError {
  kind: "error";
  code: ErrorCode;
  message: string;
}

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
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(
      "BAD_REQUEST",
      'Request is not a JSON object: expected {"status":"OK","data":"..."}',
    );
  }
  const request = value as Record<string, unknown>;
  const status = request.status;
  if (status === "CLOSE") return { kind: "close" };
  if (status !== undefined && status !== "OK") {
    return fail("BAD_REQUEST", 'Request status must be "OK" or "CLOSE"');
  }
  const v = request.v;
  if (v !== undefined && v !== 1 && v !== 2) {
    return fail("BAD_REQUEST", "Request field v must be 1 or 2");
  }
  const version = v === 2 ? 2 : 1;
  const data = request.data;
  if (typeof data !== "string") {
    return fail(
      "BAD_REQUEST",
      data === undefined
        ? 'Request has no "data": expected a command such as "MARKET ALL"'
        : 'Request field "data" must be a string such as "MARKET ALL"',
    );
  }
  const words = data.trim().split(/\s+/);
  const command = words[0].toUpperCase();
  const args = words.slice(1);
  switch (command) {
    case "MARKET": {
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
      if (symbol.length > MAX_SYMBOL_LENGTH) {
        return fail("UNKNOWN_COIN", `No coin with symbol ${sample(symbol, MAX_SYMBOL_LENGTH)}`);
      }
      return { kind: "market_coin", version, symbol, currency };
    }
    case "HISTORY": {
      const range = (args[1] ?? "24h").toLowerCase();
      if (args.length < 1 || args.length > 2 || !isHistoryRange(range)) {
        return fail(
          "BAD_REQUEST",
          "HISTORY takes a coin symbol and optionally 1h, 24h, 7d or 30d: HISTORY BTC 7d",
        );
      }
      const symbol = args[0].toUpperCase();
      if (symbol.length > MAX_SYMBOL_LENGTH) {
        return fail("UNKNOWN_COIN", `No coin with symbol ${sample(symbol, MAX_SYMBOL_LENGTH)}`);
      }
      return { kind: "history", version, symbol, range };
    }
    case "WATCH":
    case "UNWATCH": {
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
      const tooLong = symbols.find((symbol) => symbol.length > MAX_SYMBOL_LENGTH);
      if (tooLong !== undefined) {
        return fail("UNKNOWN_COIN", `No coin with symbol ${sample(tooLong, MAX_SYMBOL_LENGTH)}`);
      }
      return command === "WATCH"
        ? { kind: "watch", version, symbols }
        : { kind: "unwatch", version, symbols: symbols.length === 0 ? null : symbols };
    }
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

/** The v2 coin object as JSON text; in USD, numbers are written exactly as the upstream sent them. */
export function coinObjectJson(
  coin: Coin,
  snapshot: Snapshot,
  options: CoinObjectOptions,
): string {
  const pricing = options.pricing ?? USD_PRICING;
  return `{"symbol":${JSON.stringify(coin.symbol)},"name":${JSON.stringify(coin.name)},` +
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
