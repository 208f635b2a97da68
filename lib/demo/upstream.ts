/**
 * The demo's local CoinGecko-compatible upstream: it answers `/coins/markets` and
 * `/exchange_rates` from data shipped with the demo, on a free port of 127.0.0.1.
 *
 * The first answer is the recording of 2022-10-04 20:16 UTC (or the prices a previous run left,
 * so a restart continues the walk), stamped with the time of the answer. Every later
 * `/coins/markets` moves each price by a seeded random walk (a few tenths of a percent; stable
 * coins barely), so `watch` sees updates and `history` fills while the demo runs. The exchange
 * rates always follow the prices served last, so conversions agree with them: 1 BTC is 1 BTC,
 * 100,000,000 sats, and ETH, BNB... are worth what the served prices say. Fiat money and metals
 * keep their ratio to the US dollar from the recorded rates (2021: the demo has no recording of
 * the same day), scaled to the served bitcoin price.
 *
 * Beyond the recorded top 100 it lists a few coins more (PEPE, another coin called PEPE, BONK,
 * WIF, FLOKI, PEPECOIN; their prices are rounded early-2025 values, as none of them is in the
 * 2022 recording), so `search pep`, `price PEPE` and `watch PEPE` show the long tail: it answers
 * `/coins/list` (every coin it serves) and `/coins/markets?ids=` (those coins as served last).
 *
 * @module
 */

import recorded from "./data/markets.json" with { type: "json" };
import longTail from "./data/long_tail.json" with { type: "json" };
import exchangeRates from "./data/exchange_rates.json" with { type: "json" };

/** A running demo upstream. */
export interface DemoUpstream extends AsyncDisposable {
  /** Base URL including `/api/v3`, e.g. `http://127.0.0.1:41234/api/v3`. */
  readonly baseUrl: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Options of {@linkcode startDemoUpstream} and {@linkcode DemoMarket}. */
export interface DemoOptions {
  /** Seed of the random walk; the same seed gives the same prices. Default 1. */
  seed?: number;
  /** Typical move per refresh in percent (standard deviation); default 0.3. */
  stepPct?: number;
  /** The clock stamped on served prices as `last_updated`. */
  now?: () => Date;
  /**
   * Prices in USD by upper-case symbol to continue the walk from, e.g. those a previous run
   * stored; coins not named start at the recording.
   */
  startFrom?: ReadonlyMap<string, number>;
}

/** The fields of a `/coins/markets` entry the walk changes; the others are served as recorded. */
interface RecordedCoin {
  id: string;
  symbol: string;
  name: string;
  current_price: number;
  market_cap: number | null;
  price_change_24h: number | null;
  price_change_percentage_24h: number | null;
  last_updated: string | null;
}
interface RecordedRate {
  name: string;
  unit: string;
  value: number;
  type: string;
}

/** Every coin the demo serves: the recorded top 100, then the long tail (no rank). */
const markets: readonly RecordedCoin[] = [...recorded, ...longTail];
/** How many coins `/coins/markets` without `ids` serves at most: the recorded top. */
const TOP = recorded.length;

/** When the shipped prices were recorded. */
export const RECORDED_AT = "2022-10-04 20:16 UTC";

/**
 * The demo's prices: the recording, then one random-walk step per {@linkcode DemoMarket.step}.
 * Pure apart from its clock, so it is tested without a socket.
 */
export class DemoMarket {
  readonly #random: () => number;
  readonly #stepPct: number;
  readonly #now: () => Date;
  /** Price factors against the recording, by index. */
  readonly #factors: number[];
  #steps = 0;
  #coins: readonly RecordedCoin[] = markets;

  constructor(options: DemoOptions = {}) {
    this.#random = mulberry32(options.seed ?? 1);
    this.#stepPct = options.stepPct ?? 0.3;
    this.#now = options.now ?? (() => new Date());
    this.#factors = markets.map((coin) => {
      const from = options.startFrom?.get(coin.symbol.toUpperCase());
      return from === undefined || !(from > 0) ? 1 : from / coin.current_price;
    });
  }

  /** The coins as served last (the recording before the first step). */
  get coins(): readonly RecordedCoin[] {
    return this.#coins;
  }

  /**
   * The coins for the next `/coins/markets`: the first time the recording (or the prices to
   * continue from), then moved by one step of the walk every time; stamped with the clock, so
   * "updated" and "fetched" agree.
   */
  step(): readonly RecordedCoin[] {
    const move = this.#steps++ > 0;
    const updated = this.#now().toISOString();
    this.#coins = markets.map((coin, i) => {
      if (move) {
        // Stable coins (worth about $1) wander a hundred times less, as they do.
        const stable = Math.abs(coin.current_price - 1) < 0.02;
        const pct = this.#stepPct * (stable ? 0.01 : 1) * gaussian(this.#random);
        this.#factors[i] *= 1 + pct / 100;
      }
      if (this.#factors[i] === 1) return { ...coin, last_updated: updated };
      const price = Number((coin.current_price * this.#factors[i]).toPrecision(6));
      // The 24h change keeps the recording's price of 24 hours earlier as its base.
      const dayAgo = coin.current_price / (1 + (coin.price_change_percentage_24h ?? 0) / 100);
      return {
        ...coin,
        current_price: price,
        market_cap: coin.market_cap === null
          ? null
          : Math.round(coin.market_cap * (price / coin.current_price)),
        price_change_24h: round(price - dayAgo, 6),
        price_change_percentage_24h: round((price / dayAgo - 1) * 100, 5),
        last_updated: updated,
      };
    });
    return this.#coins;
  }

  /**
   * The `/exchange_rates` body for the coins served last: every value is how much of the
   * currency one bitcoin is worth at the served bitcoin price.
   */
  exchangeRates(): { rates: Record<string, RecordedRate> } {
    const price = new Map(this.#coins.map((c) => [c.symbol.toUpperCase(), c.current_price]));
    const btcUsd = price.get("BTC")!;
    const recorded: Record<string, RecordedRate> = exchangeRates.rates;
    const recordedUsd = recorded.usd.value;
    const rates: Record<string, RecordedRate> = {};
    for (const [code, rate] of Object.entries(recorded)) {
      let value: number | undefined;
      if (code === "btc") value = 1;
      else if (code === "sats") value = 1e8;
      else if (code === "bits") value = 1e6;
      else if (code === "usd") value = btcUsd;
      else if (rate.type === "crypto") {
        const usd = price.get(code.toUpperCase());
        // A coin the demo does not serve has no price to convert with: it is left out.
        value = usd === undefined ? undefined : btcUsd / usd;
      } else value = btcUsd * (rate.value / recordedUsd);
      if (value !== undefined) rates[code] = { ...rate, value };
    }
    return { rates };
  }
}

/** Starts the demo upstream on a free port of 127.0.0.1. */
export function startDemoUpstream(options: DemoOptions = {}): DemoUpstream {
  const market = new DemoMarket(options);
  const handler = (request: Request): Response => {
    const url = new URL(request.url);
    if (url.pathname === "/api/v3/coins/markets") {
      const ids = url.searchParams.get("ids");
      // Coins asked for by id are served as they were last, so a look-up does not move prices.
      if (ids !== null) {
        const asked = new Set(ids.split(","));
        return json(market.coins.filter((coin) => asked.has(coin.id)));
      }
      const perPage = Number(url.searchParams.get("per_page") ?? 100);
      const top = Math.min(TOP, Number.isInteger(perPage) ? perPage : 100);
      return json(market.step().slice(0, top));
    }
    if (url.pathname === "/api/v3/coins/list") {
      return json(markets.map(({ id, symbol, name }) => ({ id, symbol, name })));
    }
    if (url.pathname === "/api/v3/exchange_rates") return json(market.exchangeRates());
    return Response.json({ error: "Not Found" }, { status: 404 });
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  const close = () => server.shutdown();
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}/api/v3`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function json(body: unknown): Response {
  return Response.json(body, { headers: { "content-type": "application/json; charset=utf-8" } });
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}

/** A small seeded generator of uniform numbers in [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** About normally distributed, mean 0 and deviation 1, never beyond ±6 (Irwin-Hall of 12). */
function gaussian(random: () => number): number {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += random();
  return sum - 6;
}
