/**
 * A CoinGecko-compatible subset of `/api/v3/...`, served from what the server stores (the
 * snapshot, the exchange rates, the history), so that code written for CoinGecko (its official
 * SDK included) can point at this server. See docs/coingecko-api.md.
 *
 * @module
 */

import type { Answer, Market } from "../server/market.ts";
import type { Coin, Snapshot } from "../wire/coin.ts";
import type { Rates } from "../server/currency.ts";
import { isCurrencyCode } from "../wire/request.ts";
import { Representation } from "./representation.ts";
import type { ApiResult } from "./market_api.ts";
import {
  exchangeRatesJson,
  type IdentifiedCoin,
  type ListedCoin,
  listJson,
  marketChartJson,
  marketsJson,
  searchJson,
  simplePriceJson,
  supportedJson,
} from "./_coingecko_bodies.ts";
import {
  chartDays,
  checkNames,
  checkOrder,
  checkPriceChange,
  flag,
  list,
  ParamError,
  positiveInt,
  precision,
  refuseTrue,
  required,
} from "./_coingecko_params.ts";
import { askOutside, byMarketCap } from "./_coingecko_long_tail.ts";

export type { ListedCoin };

const JSON_TYPE = "Content-Type: application/json; charset=utf-8\r\n";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The coin directory (every coin the provider lists), when there is one: `coins/list` and
 * `search` answer from it, and a served coin that came without its id (a snapshot loaded from
 * storage, another provider) is named by it.
 */
export interface CoinCatalog {
  /** Every coin listed. */
  list(): readonly ListedCoin[];
  /** The coin with this id, or undefined. */
  byId(id: string): ListedCoin | undefined;
  /** The coins with this symbol (upper case). */
  bySymbol(symbol: string): readonly ListedCoin[];
  /** Coins matching `query`, best first, at most `limit`. */
  search(query: string, limit: number): readonly ListedCoin[];
}

/** How many coins a search answers at most. */
const SEARCH_LIMIT = 20;
/** How many distinct requests are kept answered per snapshot; past it they are built per request. */
const CACHE_LIMIT = 1024;
/** The history ranges of `HISTORY`, in days, shortest first. */
const RANGES: readonly [number, string][] = [[1 / 24, "1h"], [1, "24h"], [7, "7d"], [30, "30d"]];

/** One request with what it is answered from. */
interface Asked {
  readonly query: URLSearchParams;
  readonly snapshot: Snapshot;
  readonly rates: Rates | null;
  readonly now: number;
  /** The client's address (`host:port`): on-demand fetches are bounded per address. */
  readonly address: string;
}

type Result = { rep: Representation; error: null; command: string };

/** An error in CoinGecko's shape, `{"error": "..."}` (never cached). */
function geckoError(status: number, message: string, headers: string): ApiResult {
  const rep = new Representation(
    status,
    JSON_TYPE + headers,
    `${JSON.stringify({ error: message })}\n`,
    false,
  );
  const error = status === 404 ? "UNKNOWN_COIN" : status === 503 ? "NO_DATA" : "BAD_REQUEST";
  return { rep, error, command: "V3" };
}

/** Answers `/api/v3/...` from the Market's snapshot, rates and history. */
export class CoinGeckoApi {
  readonly #market: Market;
  readonly #headers: string;
  readonly #catalog: () => CoinCatalog | null;
  /** Bodies answered for the snapshot and rates in `#for`, by path and query. */
  #cache = new Map<string, Result>();
  #for: [Snapshot | null, Rates | null, CoinCatalog | null] = [null, null, null];
  /** The served coins that have an id, by id, for the snapshot in `#for`. */
  #byId = new Map<string, IdentifiedCoin>();

  /**
   * @param headers header lines added to every response (CORS), each ending in CRLF
   * @param catalog the coin directory, when there is one
   */
  constructor(market: Market, headers: string, catalog: () => CoinCatalog | null = () => null) {
    this.#market = market;
    this.#headers = headers;
    this.#catalog = catalog;
  }

  /** The answer to `/api/v3/<segments>` with `query`; `key` names the request for the cache. */
  answer(
    segments: readonly string[],
    query: URLSearchParams,
    client: { now: number; address: string },
    key: string,
  ): ApiResult {
    const snapshot = this.#market.snapshot;
    const rates = this.#market.rates;
    const catalog = this.#catalog();
    if (snapshot !== this.#for[0] || rates !== this.#for[1] || catalog !== this.#for[2]) {
      this.#renew(snapshot, rates, catalog);
    }
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    try {
      const path = segments.join("/");
      if (path === "ping") return this.#keep(key, this.#ok('{"gecko_says":"(V3) To the Moon!"}'));
      if (snapshot === null) {
        return geckoError(503, "No data yet: the first ingestion has not succeeded", this.#headers);
      }
      const result = this.#route(segments, path, { query, snapshot, rates, ...client });
      if (result === null) {
        const message = `No such path /api/v3/${path}: docs/coingecko-api.md lists the endpoints`;
        return geckoError(404, message, this.#headers);
      }
      // A later answer is not kept: coins outside the snapshot change with their own refresh,
      // and the Market keeps the history it read.
      if ("later" in result) return result;
      return result.error === null ? this.#keep(key, result as Result) : result;
    } catch (error) {
      if (!(error instanceof ParamError)) throw error;
      return geckoError(400, error.message, this.#headers);
    }
  }

  #renew(snapshot: Snapshot | null, rates: Rates | null, catalog: CoinCatalog | null): void {
    this.#for = [snapshot, rates, catalog];
    this.#cache = new Map();
    this.#byId = new Map();
    for (const coin of snapshot?.coins ?? []) {
      const id = coin.id ?? (catalog === null ? undefined : idIn(catalog, coin));
      if (id !== undefined && !this.#byId.has(id)) this.#byId.set(id, { id, coin });
    }
  }

  #keep(key: string, result: Result): Result {
    if (this.#cache.size < CACHE_LIMIT) this.#cache.set(key, result);
    return result;
  }

  #ok(body: string): Result {
    const rep = new Representation(200, JSON_TYPE + this.#headers, body + "\n", true);
    return { rep, error: null, command: "V3" };
  }

  #route(segments: readonly string[], path: string, asked: Asked): ApiResult | null {
    const { query, rates, now } = asked;
    switch (path) {
      case "simple/price":
        return this.#simplePrice(asked);
      case "simple/supported_vs_currencies":
        checkNames(query, [], path);
        return this.#ok(supportedJson(rates));
      case "coins/markets":
        return this.#markets(asked);
      case "coins/list":
        checkNames(query, [], path);
        return this.#ok(listJson(this.#for[2]?.list() ?? this.#served()));
      case "exchange_rates":
        checkNames(query, [], path);
        if (rates === null) {
          return geckoError(503, "No exchange rates yet: prices are in USD only", this.#headers);
        }
        return this.#ok(exchangeRatesJson(rates));
      case "search":
        return this.#search(query);
    }
    if (segments.length === 3 && segments[0] === "coins" && segments[2] === "market_chart") {
      return this.#chart(segments[1], query, now);
    }
    return null;
  }

  /** The served coins with an id, in rank order. */
  #served(): ListedCoin[] {
    return [...this.#byId.values()].map(({ id, coin }) => ({
      id,
      symbol: coin.symbol,
      name: coin.name,
    }));
  }

  /** The upper-case codes of `vs_currencies`, each with a rate. */
  #currencies(text: string, rates: Rates | null): string[] {
    const codes = list(text).map((code) => code.toUpperCase());
    for (const code of codes) {
      if (!isCurrencyCode(code) || (code !== "USD" && rates?.byCode.has(code) !== true)) {
        throw new ParamError(
          `Unknown vs_currency ${code.toLowerCase()}: /api/v3/simple/supported_vs_currencies ` +
            "lists them",
        );
      }
    }
    return codes;
  }

  #simplePrice(asked: Asked): ApiResult {
    const { query, snapshot, rates } = asked;
    checkNames(query, [
      "ids",
      "vs_currencies",
      "include_market_cap",
      "include_24hr_change",
      "include_last_updated_at",
      "include_24hr_vol",
      "precision",
    ], "simple/price");
    refuseTrue(query, "include_24hr_vol", "volumes are not stored");
    const currencies = this.#currencies(required(query, "vs_currencies"), rates);
    const fields = {
      marketCap: flag(query, "include_market_cap"),
      change24h: flag(query, "include_24hr_change"),
      lastUpdatedAt: flag(query, "include_last_updated_at"),
      precision: precision(query),
    };
    // As CoinGecko: an id it does not know is left out of the answer.
    return this.#withOutside(list(required(query, "ids")), asked, (coins) => {
      const found = new Map(coins.map((coin) => [coin.id, coin]));
      const ordered = [...new Set(coins.map(({ id }) => id))].map((id) => found.get(id)!);
      return this.#ok(simplePriceJson(ordered, currencies, fields, snapshot, rates));
    });
  }

  /**
   * Answers with the coins of `ids`: those of the snapshot at once, and those the directory
   * lists beyond it once the Market has them (fetched on demand when not tracked yet).
   */
  #withOutside(
    ids: readonly string[],
    asked: Asked,
    answer: (coins: IdentifiedCoin[]) => ApiResult,
  ): ApiResult {
    const served = ids.flatMap((id) => this.#byId.get(id) ?? []);
    const catalog = this.#for[2];
    const outside = [...new Set(ids)].filter((id) =>
      !this.#byId.has(id) && catalog?.byId(id) !== undefined
    );
    if (outside.length === 0) return answer(served);
    const respond = this.#market.responder(asked.address);
    const ask = (line: Uint8Array) => respond(line, 0, line.length, asked.now, false);
    const later = askOutside(outside, ask).then((found) =>
      "coins" in found
        ? answer([...served, ...found.coins]) as Result
        : geckoError(found.status, found.message, this.#headers) as Result
    );
    return { later };
  }

  #markets(asked: Asked): ApiResult {
    const { query, snapshot, rates } = asked;
    checkNames(query, [
      "vs_currency",
      "ids",
      "order",
      "per_page",
      "page",
      "precision",
      "sparkline",
      "price_change_percentage",
    ], "coins/markets");
    checkOrder(query);
    checkPriceChange(query);
    refuseTrue(query, "sparkline", "the 7-day sparkline is not stored");
    const [code] = this.#currencies(required(query, "vs_currency"), rates);
    const perPage = positiveInt(query, "per_page", 100, 250);
    const page = positiveInt(query, "page", 1, 1_000_000);
    const places = precision(query);
    const paged = (coins: IdentifiedCoin[]) =>
      this.#ok(
        marketsJson(
          coins.slice((page - 1) * perPage, page * perPage),
          code,
          places,
          snapshot,
          rates,
        ),
      );
    const ids = query.get("ids");
    if (ids === null) return paged([...this.#byId.values()]);
    return this.#withOutside(list(ids), asked, (coins) => paged(byMarketCap([...new Set(coins)])));
  }

  #search(query: URLSearchParams): ApiResult {
    checkNames(query, ["query"], "search");
    const text = required(query, "query").trim().toLowerCase();
    const catalog = this.#for[2];
    const found = catalog !== null ? catalog.search(text, SEARCH_LIMIT) : this.#searchServed(text);
    const rankOf = (id: string) => this.#byId.get(id)?.coin.rank ?? null;
    return this.#ok(searchJson(found, rankOf));
  }

  /** Served coins matching `text`: exact symbol, then symbol prefixes, then name words. */
  #searchServed(text: string): ListedCoin[] {
    const served = this.#served();
    const symbol = (coin: ListedCoin) => coin.symbol.toLowerCase();
    const exact = served.filter((coin) => symbol(coin) === text || coin.id === text);
    const prefix = served.filter((coin) => !exact.includes(coin) && symbol(coin).startsWith(text));
    const named = served.filter((coin) =>
      !exact.includes(coin) && !prefix.includes(coin) &&
      coin.name.toLowerCase().split(/[^\p{L}\p{N}]+/u).some((word) => word.startsWith(text))
    );
    return [...exact, ...prefix, ...named].slice(0, SEARCH_LIMIT);
  }

  /** `coins/{id}/market_chart` from the stored USD history, through the Market's `HISTORY`. */
  #chart(id: string, query: URLSearchParams, now: number): ApiResult {
    checkNames(query, ["vs_currency", "days", "precision"], `coins/${id}/market_chart`);
    const currency = required(query, "vs_currency").toLowerCase();
    if (currency !== "usd") {
      throw new ParamError(
        `vs_currency=${currency} is not supported here: the history is kept in USD only`,
      );
    }
    const days = chartDays(query);
    const places = precision(query);
    const found = this.#byId.get(id.toLowerCase());
    if (found === undefined && this.#for[2]?.byId(id) !== undefined) {
      const message = `No stored history for ${id}: history is kept for the top N coins only`;
      return geckoError(404, message, this.#headers);
    }
    if (found === undefined) return geckoError(404, "coin not found", this.#headers);
    const range = RANGES.find(([span]) => span >= days)![1];
    const line = encoder.encode(
      JSON.stringify({ v: 2, data: `HISTORY ${found.coin.symbol} ${range}` }),
    );
    const answer = this.#market.responder()(line, 0, line.length, now, false);
    const sinceMs = now - days * 86_400_000;
    const chart = (bytes: Uint8Array, error: string | null): ApiResult => {
      const reply = JSON.parse(decoder.decode(bytes)) as { data: unknown };
      if (error !== null) return geckoError(503, String(reply.data), this.#headers);
      const { points } = reply.data as { points: [string, number][] };
      return this.#ok(marketChartJson(points, sinceMs, places));
    };
    if (answer.later === undefined) return chart(answer.bytes, answer.error);
    return {
      later: answer.later.then((done: Answer) => chart(done.bytes, done.error) as Result),
    };
  }
}

/**
 * The directory's id of a coin that came without one: the coin of that symbol with the same
 * name, or the only coin of that symbol; none when that does not name one coin.
 */
function idIn(catalog: CoinCatalog, coin: Coin): string | undefined {
  const candidates = catalog.bySymbol(coin.symbol);
  const named = candidates.filter((entry) => entry.name.toLowerCase() === coin.name.toLowerCase());
  if (named.length === 1) return named[0].id;
  return candidates.length === 1 ? candidates[0].id : undefined;
}
