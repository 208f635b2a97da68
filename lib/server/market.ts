/**
 * The server's answers: the current snapshot with every reply to it encoded once, when the
 * snapshot arrives (other currencies on first use), so that answering a look-up does no
 * `JSON.stringify` and no allocation.
 *
 * @module
 */

import type { DataReport, ServiceReport } from "../wire/info_report.ts";
import type { Snapshot } from "../wire/coin.ts";
import { currenciesJson, pricingFor, type Rates, usdRate } from "./currency.ts";
import { USD_PRICING } from "../wire/reply.ts";
import type { ErrorCode } from "../wire/error_code.ts";
import { HISTORY_RANGE_MS, type HistoryRange } from "../wire/history_range.ts";
import { CANDLE_INTERVAL_SECONDS } from "../wire/candles.ts";
import { parseRequest, type Request, type RequestError } from "../wire/request.ts";
import type { HistorySeries, StoredCandle } from "../storage/repository.ts";
import { candlesJson, candleWindow } from "./candles_reply.ts";
import {
  buildCurrency,
  buildReplySet,
  changedCoins,
  type CurrencyReplies,
  errorReply,
  historyReply,
  ok,
  type ReplySet,
  unknownCoin,
} from "./_reply_set.ts";
import { sample } from "../util/sample.ts";
import type { LongTail } from "./long_tail.ts";
import { longTailMarket, longTailWatch, searchAnswer } from "./_long_tail_replies.ts";

/** What to send for one request. */
export interface Answer {
  /** The reply line, newline included. */
  readonly bytes: Uint8Array;
  /** Close the connection once this reply is written. */
  readonly close: boolean;
  /** The command, for the server's counters (`MARKET`, `CLOSE`, ...), or null for a bad request. */
  readonly command: string | null;
  /** The error code, when the reply is an error. */
  readonly error: ErrorCode | null;
  /**
   * For WATCH and UNWATCH: the change to the connection's watch list, which only the server can
   * make. The server writes the UNWATCH reply itself, as it depends on the connection.
   */
  readonly watch?: { readonly add: readonly string[] } | {
    readonly remove: readonly string[] | null;
  };
  /**
   * For a reply that needs storage (HISTORY not yet cached): the reply itself, once read; it
   * never rejects. `bytes` is then empty, and the server sends the later reply in its place, in
   * order, while the event loop goes on serving everyone else.
   */
  readonly later?: Promise<Answer>;
}

/**
 * Answers one connection's requests, `bytes[start, end)` at the batch's clock reading `now`, given
 * the framer's word that a request repeats the previous one (see `OnRequest` in
 * `request_framer.ts`). Never throws.
 */
export type Responder = (
  bytes: Uint8Array,
  start: number,
  end: number,
  now: number,
  repeat: boolean,
) => Answer;

/** Update events of one ingestion, by symbol: one pre-encoded line per changed coin. */
export type UpdateEvents = ReadonlyMap<string, Uint8Array>;

/** How many distinct request texts a snapshot remembers; past it, requests are parsed. */
const CACHE_LIMIT = 1024;
/** Requests longer than this are never cached: common requests are far shorter. */
const CACHEABLE_BYTES = 200;
/** Points in a `HISTORY` reply at most. */
const HISTORY_POINTS = 200;

const CLOSE_REPLY: Answer = { ...ok('"BYE"', "CLOSE"), close: true };
const PONG: Answer = ok('"PONG"', "PING");
const UNWATCH: Answer = { bytes: new Uint8Array(0), close: false, command: "UNWATCH", error: null };
const NO_DATA: Answer = errorReply(
  "NO_DATA",
  "No prices yet: the first ingestion has not succeeded, try again shortly",
  "MARKET",
);

/** Options of a {@linkcode Market}. */
export interface MarketOptions {
  /** Age in milliseconds past which v2 coin objects say `"stale": true`. */
  staleAfterMs: number;
  /** The clock, injected for tests. */
  now?: () => number;
  /** Reads a coin's stored history; without it `HISTORY` answers `NO_DATA`. */
  history?: (symbol: string, sinceIso: string, maxPoints: number) => Promise<HistorySeries>;
  /** Reads a coin's candles (see `Repository.candles`); without it `CANDLES` answers `NO_DATA`. */
  candles?: (
    symbol: string,
    intervalSeconds: number,
    fromSeconds: number,
  ) => Promise<StoredCandle[]>;
  /** The server's report for `INFO`; without it `INFO` reports the market alone. */
  info?: () => ServiceReport | Record<string, never>;
  /** The text of `NO_DATA` before the first snapshot, e.g. when the next attempt is. */
  noDataText?: () => string;
  /** Coins beyond the snapshot (the directory, on-demand look-ups, `SEARCH`); without it, none. */
  longTail?: LongTail;
}

/** Holds the current snapshot and exchange rates and answers requests about them. */
export class Market {
  #fresh: ReplySet | null = null;
  #stale: ReplySet | null = null;
  #rates: Rates | null = null;
  #fetchedAtMs = 0;
  readonly #listeners = new Set<(events: UpdateEvents) => void>();
  readonly #options: MarketOptions;
  readonly #now: () => number;
  /** Whether the answer {@linkcode #respondIn} gave last is the one its reply cache holds. */
  #answeredFromCache = false;
  /** Set when the answer {@linkcode #answer} gave must not be cached (a long-tail coin's). */
  #uncacheable = false;
  /**
   * Whether the market's clock is the wall clock (none was injected): a caller that has just read
   * `Date.now()` can then pass that reading to a {@linkcode Responder} instead of reading
   * {@linkcode now} again.
   */
  readonly wallClock: boolean;

  /** Creates an empty market; it answers `NO_DATA` until the first {@linkcode update}. */
  constructor(options: MarketOptions) {
    if (!(options.staleAfterMs > 0)) {
      throw new RangeError(
        `Invalid staleAfterMs ${options.staleAfterMs}: expected a positive number`,
      );
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.wallClock = options.now === undefined;
  }

  /** The snapshot being served, or null before the first. */
  get snapshot(): Snapshot | null {
    return this.#fresh?.snapshot ?? null;
  }

  /** The exchange rates in use, or null before the first. */
  get rates(): Rates | null {
    return this.#rates;
  }

  /** Whether the snapshot being served is older than the staleness limit. */
  get isStale(): boolean {
    return this.#fresh !== null && this.#now() - this.#fetchedAtMs > this.#options.staleAfterMs;
  }

  /** Milliseconds since the snapshot being served was fetched, or null before the first. */
  get ageMs(): number | null {
    return this.#fresh === null ? null : this.#now() - this.#fetchedAtMs;
  }

  /** Serves a new snapshot: its replies are encoded here, then swapped in at once. */
  update(snapshot: Snapshot): void {
    const fetchedAtMs = Date.parse(snapshot.fetchedAt);
    if (Number.isNaN(fetchedAtMs)) {
      throw new TypeError(
        `Invalid snapshot fetchedAt ${sample(snapshot.fetchedAt)}: expected ISO-8601`,
      );
    }
    const previous = this.#fresh;
    this.#fresh = buildReplySet(snapshot, false, this.#rates);
    this.#stale = null;
    this.#fetchedAtMs = fetchedAtMs;
    if (previous !== null && previous.snapshot !== snapshot && this.#listeners.size > 0) {
      const events = changedCoins(previous, this.#fresh);
      if (events.size > 0) { for (const listener of this.#listeners) listener(events); }
    }
  }

  /**
   * Calls `listener` after each new snapshot that changes any coin, with one `update` event line
   * per changed coin. Returns a function that removes the listener.
   */
  onUpdate(listener: (events: UpdateEvents) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the update listeners of coins that changed outside a snapshot (the long tail). */
  notify(events: UpdateEvents): void {
    if (events.size > 0) { for (const listener of this.#listeners) listener(events); }
  }

  /** Uses new exchange rates; replies in other currencies are encoded again on first use. */
  updateRates(rates: Rates): void {
    this.#rates = rates;
    if (this.#fresh !== null) this.update(this.#fresh.snapshot);
  }

  /**
   * The market's clock (injected for tests). A caller answering a batch of requests reads it
   * once and passes the reading to its {@linkcode Responder}: a clock reading costs about as
   * much as the rest of a cached answer (see BENCHMARKS.md).
   */
  now(): number {
    return this.#now();
  }

  #current(now: number): ReplySet | null {
    if (this.#fresh === null || now - this.#fetchedAtMs <= this.#options.staleAfterMs) {
      return this.#fresh;
    }
    return this.#stale ??= buildReplySet(this.#fresh.snapshot, true, this.#rates);
  }

  /**
   * A {@linkcode Responder} for one connection. It remembers the connection's last answer when
   * that answer is the one the reply cache holds for the request, with the reply set it came
   * from: a repeated request is then answered without comparing its bytes with the cache's a
   * second time (the framer already has), for as long as that set is current. The cache's answer
   * for given bytes changes only with the set, except for a reply read from storage, which is
   * not remembered until it has been read.
   */
  responder(address = ""): Responder {
    let lastSet: ReplySet | null = null;
    let lastAnswer: Answer | null = null;
    return (bytes, start, end, now, repeat) => {
      const set = this.#current(now);
      if (repeat && set === lastSet && set !== null) return lastAnswer!;
      const answer = this.#respondIn(set, bytes, start, end, address);
      lastSet = this.#answeredFromCache ? set : null;
      lastAnswer = answer;
      return answer;
    };
  }

  #respondIn(
    set: ReplySet | null,
    bytes: Uint8Array,
    start: number,
    end: number,
    address: string,
  ): Answer {
    this.#answeredFromCache = false;
    this.#uncacheable = false;
    const cacheable = set !== null && end - start <= CACHEABLE_BYTES;
    if (cacheable) {
      const hit = set.cache.get(bytes, start, end);
      if (hit !== undefined) {
        this.#answeredFromCache = hit.later === undefined;
        return hit;
      }
    }
    const line = bytes.subarray(start, end);
    const request = parseRequest(line);
    const reply = this.#answer(request, set, address);
    // INFO changes from one request to the next, a long-tail coin with its own refresh and the
    // time it was last asked for; everything else only with the snapshot.
    if (
      cacheable && reply.error === null && request.kind !== "info" && !this.#uncacheable &&
      set.cache.size < CACHE_LIMIT
    ) {
      if (reply.later === undefined) this.#answeredFromCache = set.cache.set(line, reply);
      else {
        // Cached once read, so requests that arrive meanwhile share the one read: the key is
        // copied now, as the framer's view is valid only during this call.
        const key = line.slice();
        set.cache.set(key, reply);
        // A failed read is forgotten, so the next request tries again.
        reply.later.then((done) => set.cache.replace(key, done.error === null ? done : null));
      }
    }
    return reply;
  }

  #answer(request: Request | RequestError, set: ReplySet | null, address: string): Answer {
    switch (request.kind) {
      case "error":
        return errorReply(request.code, request.message);
      case "close":
        return CLOSE_REPLY;
      case "ping":
        return PONG;
      case "info":
        return ok(JSON.stringify(this.#info()), "INFO");
      case "currencies":
        return ok(currenciesJson(this.#rates), "CURRENCIES");
      case "history":
        return this.#history(request.symbol, request.range, set);
      case "candles":
        return this.#candles(request, set);
      case "search":
        // The directory changes apart from the snapshot: its answers are never cached.
        this.#uncacheable = true;
        return this.#options.longTail === undefined
          ? errorReply("NO_DATA", "No coin directory: this server serves the top N only", "SEARCH")
          : searchAnswer(this.#options.longTail, request.query);
      case "watch": {
        if (set === null) return this.#noData();
        let unknown = request.symbols.filter((symbol) => !set.symbols.has(symbol));
        const context = this.#longTailContext(address);
        if (unknown.length > 0 && context !== null) {
          this.#uncacheable = true;
          const objects = set.byCurrency.get("USD")!.objects;
          const found = longTailWatch(request.symbols, (s) => objects.get(s), USD_PRICING, context);
          if (!("unknown" in found)) return found;
          unknown = found.unknown;
        }
        if (unknown.length > 0) return unknownCoin(unknown.join(", "), set, "WATCH");
        const objects = set.byCurrency.get("USD")!.objects;
        const data = `[${request.symbols.map((symbol) => objects.get(symbol)).join(",")}]`;
        return { ...ok(data, "WATCH"), watch: { add: request.symbols } };
      }
      case "unwatch":
        return { ...UNWATCH, watch: { remove: request.symbols } };
      case "market_all":
      case "market_coin": {
        if (set === null) return this.#noData();
        const replies = this.#inCurrency(set, request.currency);
        if (!("v1All" in replies)) return replies;
        if (request.kind === "market_all") {
          return request.version === 2 ? replies.v2All : replies.v1All;
        }
        const reply = (request.version === 2 ? replies.v2Coin : replies.v1Coin).get(request.symbol);
        return reply ?? this.#longTailMarket(request, address) ?? unknownCoin(request.symbol, set);
      }
    }
  }

  #longTailContext(address: string) {
    const longTail = this.#options.longTail;
    if (longTail === undefined) return null;
    return { longTail, address, staleAfterMs: this.#options.staleAfterMs, now: this.#now() };
  }

  #longTailMarket(request: { symbol: string; version: 1 | 2; currency: string }, address: string) {
    const context = this.#longTailContext(address);
    if (context === null) return null;
    this.#uncacheable = true;
    // The currency was checked with the snapshot's replies.
    return longTailMarket(request, pricingFor(this.#rates, request.currency)!, context);
  }

  #noData(): Answer {
    const text = this.#options.noDataText;
    return text === undefined ? NO_DATA : errorReply("NO_DATA", text(), "MARKET");
  }

  #inCurrency(set: ReplySet, code: string): CurrencyReplies | Answer {
    const built = set.byCurrency.get(code);
    if (built !== undefined) return built;
    const replies = buildCurrency(set, this.#rates, code);
    if (replies === null) {
      return this.#rates === null
        ? errorReply("NO_DATA", `No exchange rates yet, so prices are in USD only`, "MARKET")
        : errorReply(
          "UNKNOWN_CURRENCY",
          `Unknown currency ${code}: CURRENCIES lists them`,
          "MARKET",
        );
    }
    set.byCurrency.set(code, replies);
    return replies;
  }

  #history(symbol: string, range: HistoryRange, set: ReplySet | null): Answer {
    if (set === null || this.#options.history === undefined) return this.#noData();
    if (!set.symbols.has(symbol)) return unknownCoin(symbol, set, "HISTORY");
    const since = new Date(this.#now() - HISTORY_RANGE_MS[range]).toISOString();
    const later = this.#options.history(symbol, since, HISTORY_POINTS).then(
      (series) => historyReply(symbol, range, series),
      (error) =>
        errorReply(
          "NO_DATA",
          `History cannot be read now: ${(error as Error).message}`,
          "HISTORY",
        ),
    );
    return { bytes: EMPTY, close: false, command: "HISTORY", error: null, later };
  }

  #candles(request: Extract<Request, { kind: "candles" }>, set: ReplySet | null): Answer {
    const read = this.#options.candles;
    if (set === null) return this.#noData();
    if (read === undefined) return NO_DATA;
    if (!set.symbols.has(request.symbol)) return unknownCoin(request.symbol, set, "CANDLES");
    const rate = usdRate(this.#rates, request.currency);
    if (rate === null) {
      return errorReply(
        "UNKNOWN_CURRENCY",
        `Unknown currency ${request.currency}: CURRENCIES lists them`,
        "CANDLES",
      );
    }
    const window = candleWindow(request.interval, request.range, this.#now());
    const seconds = CANDLE_INTERVAL_SECONDS[request.interval];
    const later = read(request.symbol, seconds, window.from).then(
      (stored) => ok(candlesJson(request, window, stored, rate), "CANDLES"),
      (error) =>
        errorReply("NO_DATA", `Candles cannot be read now: ${(error as Error).message}`, "CANDLES"),
    );
    return { bytes: EMPTY, close: false, command: "CANDLES", error: null, later };
  }

  #info(): Partial<ServiceReport> & { data: DataReport } {
    const snapshot = this.snapshot;
    return {
      ...this.#options.info?.(),
      data: {
        coins: snapshot?.coins.length ?? 0,
        fetched_at: snapshot?.fetchedAt ?? null,
        age_seconds: this.ageMs === null ? null : Math.round(this.ageMs / 1000),
        stale: this.isStale,
        source: snapshot?.source ?? null,
        rates_fetched_at: this.#rates?.fetchedAt ?? null,
        currencies: this.#rates?.byCode.size ?? 1,
      },
    };
  }
}

const EMPTY = new Uint8Array(0);
