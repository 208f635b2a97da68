/**
 * The price server's commands as methods over TCP or TLS: connection ({@linkcode LineConnection},
 * connection.ts), reply/event matching ({@linkcode ReplyDemux}, demux.ts), and this command API.
 *
 * ```ts
 * await using client = await PriceClient.connect({ host: "127.0.0.1", port: 8000 });
 * const btc = await client.market("BTC");
 * ```
 *
 * @module
 */

import { isErrorCode } from "../wire/error_code.ts";
import { HISTORY_RANGES, type HistoryRange, isHistoryRange } from "../wire/history_range.ts";
import { MAX_WATCHED } from "../wire/limits.ts";
import { type Reply, UPDATE_EVENT } from "../wire/reply.ts";
import { isCurrencyCode, isSymbol } from "../wire/request.ts";
import { sample } from "../util/sample.ts";
import { type CoinView, isCoinView } from "../wire/coin_view.ts";
import { type InfoReport, isInfoReport } from "../wire/info_report.ts";
import { type ConnectOptions, LineConnection } from "./connection.ts";
import { ConnectionError, ServerError } from "./errors.ts";
import { ReplyDemux, type ServerEvent } from "./demux.ts";

/** A coin's stored prices over a window, as `HISTORY` sends them. */
export interface History {
  /** Ticker in upper case. */
  symbol: string;
  range: HistoryRange;
  /** Currency of the prices, e.g. `USD`. */
  currency: string;
  /** How many points were stored in the window (more than `points` holds when thinned). */
  count: number;
  /** `[ISO-8601 time, price]` pairs, oldest first. */
  points: [string, number][];
  /** These five are null when the window holds no points. */
  first: number | null;
  last: number | null;
  min: number | null;
  max: number | null;
  /** Change from the first to the last point in percent. */
  change_pct: number | null;
}

/** A coin of the server's directory, as `SEARCH` lists it. */
export interface SearchResult {
  /** The provider's id: `price id:<id>` names this coin when several share its symbol. */
  id: string;
  symbol: string;
  name: string;
}

/** One currency prices can be shown in, as `CURRENCIES` lists it. */
export interface CurrencyInfo {
  /** Upper-case code, e.g. `VND`. */
  code: string;
  /** Name for a person, e.g. `Vietnamese đồng`. */
  name: string;
  /** How amounts are marked, e.g. `₫` or `sats`. */
  unit: string;
  /** `fiat`, `crypto` or `commodity`. */
  type: string;
}

export { type ConnectOptions } from "./connection.ts";
export { ConnectionError, ServerError } from "./errors.ts";

/**
 * The command API of the price server: one method per command, each checking its reply. The
 * bytes are {@linkcode LineConnection}'s, the matching of replies {@linkcode ReplyDemux}'s.
 */
export class PriceClient implements AsyncDisposable {
  readonly #demux: ReplyDemux;

  private constructor(demux: ReplyDemux) {
    this.#demux = demux;
  }

  /**
   * Connects (and for TLS completes the handshake, so certificate problems surface here).
   *
   * @throws {ConnectionError} when the server cannot be reached or the TLS handshake fails
   */
  static async connect(options: ConnectOptions): Promise<PriceClient> {
    return new PriceClient(new ReplyDemux(await LineConnection.open(options)));
  }

  /** `host:port` as used in error messages. */
  get address(): string {
    return this.#demux.address;
  }

  /**
   * Resolves, never rejects, once the connection is unusable: closed by {@linkcode close}, by
   * the server or by an error. The value says why.
   */
  get closed(): Promise<ConnectionError> {
    return this.#demux.closed;
  }

  /**
   * Sends one request object as a JSON line and returns the server's reply, which may be an
   * `ERROR` reply (use {@linkcode market}/{@linkcode marketAll} to get those thrown).
   * Concurrent requests are pipelined; replies are matched to requests by order, and `update`
   * events of {@linkcode watch} in between are told apart and never taken for a reply.
   *
   * @throws {ConnectionError} when the connection fails, times out or the reply is not protocol
   */
  async request(body: Record<string, unknown>): Promise<Reply> {
    const reply = await this.#demux.request(body);
    try {
      return parseReply(reply, this.address);
    } catch (err) {
      throw this.#demux.fail(err as ConnectionError);
    }
  }

  /**
   * All coins in rank order, priced in `currency` (default USD).
   *
   * @throws {ServerError} when the server answers with an error, e.g. `NO_DATA`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async marketAll(currency?: string): Promise<CoinView[]> {
    const data = await this.#command(`MARKET ALL${currencySuffix(currency)}`);
    if (!Array.isArray(data) || !data.every(isCoinView)) {
      throw this.#demux.fail(
        `Unexpected reply from ${this.#demux.address}: expected a list of coins`,
      );
    }
    return data;
  }

  /**
   * One coin by symbol (case-insensitive), priced in `currency` (default USD).
   *
   * @throws {RangeError} when `symbol` is empty, contains spaces or is `ALL`, or `currency` is
   * not a single word
   * @throws {ServerError} when the server answers with an error, e.g. `UNKNOWN_COIN`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async market(symbol: string, currency?: string): Promise<CoinView> {
    checkSymbol(symbol);
    const data = await this.#command(`MARKET ${symbol}${currencySuffix(currency)}`);
    if (!isCoinView(data)) {
      throw this.#demux.fail(`Unexpected reply from ${this.#demux.address}: expected a coin`);
    }
    return data;
  }

  /**
   * Coins of the server's directory matching `query`: exact symbol first, then symbols starting
   * with it, then names; at most 20.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async search(query: string): Promise<SearchResult[]> {
    if (!/^\S+$/.test(query)) throw new RangeError("A search is one word, e.g. pep");
    const data = await this.#command(`SEARCH ${query}`);
    if (!Array.isArray(data) || !data.every(isSearchResult)) {
      throw this.#demux.fail(
        `unexpected reply from ${this.#demux.address}: expected a list of coins`,
      );
    }
    return data;
  }

  /**
   * A coin's stored prices over `range` (default 24h), at most 200 points, oldest first.
   *
   * @throws {RangeError} for a bad symbol or range
   * @throws {ServerError} e.g. `UNKNOWN_COIN`, `NO_DATA`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async history(symbol: string, range: HistoryRange = "24h"): Promise<History> {
    checkSymbol(symbol);
    if (!isHistoryRange(range)) {
      throw new RangeError(
        `History range must be one of ${HISTORY_RANGES.join(", ")}, got "${range}"`,
      );
    }
    const data = await this.#command(`HISTORY ${symbol} ${range}`);
    if (!isHistory(data)) {
      throw this.#demux.fail(
        `Unexpected reply from ${this.#demux.address}: expected a price history`,
      );
    }
    return data;
  }

  /**
   * The currencies prices can be shown in, USD first.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async currencies(): Promise<CurrencyInfo[]> {
    const data = await this.#command("CURRENCIES");
    if (!Array.isArray(data) || !data.every(isCurrencyInfo)) {
      throw this.#demux.fail(
        `Unexpected reply from ${this.#demux.address}: expected a list of currencies`,
      );
    }
    return data;
  }

  /**
   * The server's report on itself (version, uptime, counters, ingestion, database, data), as
   * sent: fields may be added by newer servers.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async info(): Promise<InfoReport> {
    const data = await this.#command("INFO");
    if (!isInfoReport(data)) {
      throw this.#demux.fail(
        `Unexpected reply from ${this.#demux.address}: expected a server report`,
      );
    }
    return data;
  }

  /**
   * Asks the server for updates of `symbols` (at most {@linkcode MAX_WATCHED} per connection)
   * and returns their current coins. Until {@linkcode unwatch} stops all of them or the
   * connection closes, `onUpdate` is called with each coin the server pushes, in USD.
   *
   * @throws {RangeError} when `symbols` is empty, too long or holds a bad symbol
   * @throws {ServerError} e.g. `UNKNOWN_COIN`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async watch(symbols: readonly string[], onUpdate: (coin: CoinView) => void): Promise<CoinView[]> {
    if (symbols.length === 0 || symbols.length > MAX_WATCHED) {
      throw new RangeError(`Watch takes 1 to ${MAX_WATCHED} coin symbols, got ${symbols.length}`);
    }
    symbols.forEach(checkSymbol);
    // Listening before the request, so an update right behind the reply is not missed.
    const listener = (event: ServerEvent) => {
      // Events of kinds this client does not know are skipped, as newer servers may add some.
      if (event.event === UPDATE_EVENT && isCoinView(event.data)) onUpdate(event.data);
    };
    this.#demux.listen(listener);
    let data: unknown;
    try {
      data = await this.#command(`WATCH ${symbols.join(" ")}`);
    } catch (err) {
      this.#demux.unlisten(listener);
      throw err;
    }
    if (!Array.isArray(data) || !data.every(isCoinView)) {
      throw this.#demux.fail(
        `Unexpected reply from ${this.#demux.address}: expected a list of coins`,
      );
    }
    return data;
  }

  /**
   * Stops updates of `symbols`, or of all when none are given, and returns the symbols still
   * watched. Once none are, no update callback is called any more.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async unwatch(symbols: readonly string[] = []): Promise<string[]> {
    symbols.forEach(checkSymbol);
    const data = await this.#command(["UNWATCH", ...symbols].join(" "));
    if (!Array.isArray(data) || !data.every((s) => typeof s === "string")) {
      throw this.#demux.fail(
        `Unexpected reply from ${this.#demux.address}: expected a list of symbols`,
      );
    }
    if (data.length === 0) this.#demux.unlisten();
    return data;
  }

  /** Closes the connection; pending and later requests fail with a {@linkcode ConnectionError}. */
  close(): void {
    this.#demux.fail(
      new ConnectionError(`Connection to ${this.address} is closed`, { code: "CLOSED" }),
    );
  }

  /** Closes the connection and waits until no read of it is left running. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#demux.drained();
  }

  async #command(command: string): Promise<unknown> {
    const reply = await this.request({ status: "OK", data: command, v: 2 });
    if (reply.status === "ERROR") throw new ServerError(reply.code, reply.data);
    return reply.data;
  }
}

/** Throws a RangeError unless `symbol` can name one coin in a request. */
function checkSymbol(symbol: string): void {
  if (!isSymbol(symbol)) {
    throw new RangeError(`Coin symbol must be one word other than ALL, got "${symbol}"`);
  }
}

function currencySuffix(currency: string | undefined): string {
  if (currency === undefined) return "";
  if (!isCurrencyCode(currency.toUpperCase())) {
    throw new RangeError(`Currency must be a code of 2 to 10 letters, got "${currency}"`);
  }
  return ` ${currency.toUpperCase()}`;
}

function parseReply(reply: unknown, address: string): Reply {
  if (typeof reply === "object" && reply !== null && "status" in reply) {
    const r = reply as Record<string, unknown>;
    if (r.status === "OK") return { status: "OK", data: r.data };
    if (r.status === "ERROR") {
      if (!isErrorCode(r.code)) {
        throw new ConnectionError(
          `Unexpected reply from ${address}: unknown error code ${sample(String(r.code), 32)}`,
          { code: "PROTOCOL" },
        );
      }
      return {
        status: "ERROR",
        code: r.code,
        data: typeof r.data === "string" ? r.data : "the server reported an error",
      };
    }
  }
  throw new ConnectionError(`Unexpected reply from ${address}: no OK or ERROR status`, {
    code: "PROTOCOL",
  });
}

function isSearchResult(v: unknown): v is SearchResult {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.id === "string" && typeof c.symbol === "string" && typeof c.name === "string";
}

function isHistory(v: unknown): v is History {
  if (typeof v !== "object" || v === null) return false;
  const h = v as Record<string, unknown>;
  return typeof h.symbol === "string" && typeof h.range === "string" &&
    typeof h.currency === "string" && Array.isArray(h.points) &&
    h.points.every((p) => Array.isArray(p) && typeof p[0] === "string" && typeof p[1] === "number");
}

function isCurrencyInfo(v: unknown): v is CurrencyInfo {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.code === "string" && typeof c.name === "string" && typeof c.unit === "string" &&
    typeof c.type === "string";
}
