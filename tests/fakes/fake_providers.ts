/**
 * Local fakes of CoinPaprika (`/v1/tickers`) and CoinMarketCap
 * (`/v1/cryptocurrency/listings/latest`) for tests, serving the coins of the recorded CoinGecko
 * response in each provider's own shape, so the same coins and prices (with the same number
 * text) come back whichever provider answers. Like the CoinGecko fake they can be switched into
 * failure modes, and they record every request's headers.
 *
 * @module
 */

/** How a fake provider answers. */
export type FakeProviderMode =
  | "ok"
  /** HTTP 500 without `Retry-After`. */
  | "http500"
  /** HTTP 429 with `Retry-After: 30`. */
  | "rate_limited"
  /** No answer until the fake closes. */
  | "hang"
  /** An HTML page with status 200. */
  | "html"
  /** HTTP 500 whose body repeats the request's API key, as a careless proxy might. */
  | "leaky_error";

/** One coin in provider-neutral form; numbers are raw JSON so their text survives. */
export interface FakeCoin {
  id: string;
  symbol: string;
  name: string;
  rank: number;
  price: unknown;
  marketCap: unknown;
  change24h: unknown;
  updatedAt: string | null;
}

/** A request a fake received. */
export interface FakeProviderRequest {
  url: URL;
  headers: Headers;
}

/** A running fake provider. */
export interface FakeProvider extends AsyncDisposable {
  /** Base URL to pass as `--coinpaprika-url` or `--cmc-url`. */
  readonly baseUrl: string;
  /** How the next requests are answered. */
  mode: FakeProviderMode;
  /**
   * The served coins, best rank first; tests may edit, rename or remove entries (e.g. to show a
   * provider that lacks a coin or names it differently).
   */
  coins: FakeCoin[];
  /** Every request received, in order. */
  readonly requests: readonly FakeProviderRequest[];
  close(): Promise<void>;
}

/** Options of the fake providers. */
export interface FakeProviderOptions {
  /** A recorded CoinGecko `/coins/markets` response; defaults to the 2022-10-04 fixture. */
  marketsFixture?: string | URL;
  /** The initial mode; defaults to `"ok"`. */
  mode?: FakeProviderMode;
}

const FIXTURE = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);

/**
 * Starts a fake CoinPaprika on a free port of 127.0.0.1. Like the real one, `/v1/tickers` has no
 * limit and no promised order: it sends every coin, worst rank first, plus an unranked ticker
 * (rank 0) with a made-up symbol.
 */
export function startFakeCoinPaprika(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  return startFake(options, (url, _request, coins) => {
    if (url.pathname !== "/v1/tickers") return notFound();
    const tickers = [
      {
        id: "zzz-unranked",
        name: "Unranked Token",
        symbol: "ZZZ",
        rank: 0,
        last_updated: "2022-10-04T20:16:00Z",
        quotes: { USD: { price: 0.5, market_cap: 0, percent_change_24h: 0 } },
      },
      ...coins.toReversed().map((coin) => ({
        id: `${coin.symbol.toLowerCase()}-${coin.id}`,
        name: coin.name,
        symbol: coin.symbol,
        rank: coin.rank,
        circulating_supply: 0,
        beta_value: 1,
        // CoinPaprika writes whole seconds.
        last_updated: coin.updatedAt?.replace(/\.\d+Z$/, "Z") ?? null,
        quotes: {
          USD: {
            price: coin.price,
            volume_24h: 0,
            market_cap: coin.marketCap ?? 0,
            percent_change_24h: coin.change24h ?? 0,
          },
        },
      })),
    ];
    return ok(JSON.stringify(tickers));
  });
}

/**
 * Starts a fake CoinMarketCap on a free port of 127.0.0.1. It answers 401 with CoinMarketCap's
 * error object unless `X-CMC_PRO_API_KEY` carries `apiKey`, and honours `start` and `limit`.
 */
export function startFakeCoinMarketCap(
  options: FakeProviderOptions & { apiKey: string },
): Promise<FakeProvider> {
  return startFake(options, (url, request, coins) => {
    if (url.pathname !== "/v1/cryptocurrency/listings/latest") return notFound();
    if (request.headers.get("x-cmc_pro_api_key") !== options.apiKey) {
      return ok(JSON.stringify({ status: cmcStatus(1001, "This API Key is invalid.") }), 401);
    }
    const start = Number(url.searchParams.get("start") ?? 1);
    const limit = Number(url.searchParams.get("limit") ?? 100);
    const data = coins.slice(start - 1, start - 1 + limit).map((coin, i) => ({
      id: 1000 + i,
      name: coin.name,
      symbol: coin.symbol,
      slug: coin.id,
      cmc_rank: coin.rank,
      last_updated: coin.updatedAt,
      quote: {
        USD: {
          price: coin.price,
          volume_24h: 0,
          percent_change_24h: coin.change24h,
          market_cap: coin.marketCap,
          last_updated: coin.updatedAt,
        },
      },
    }));
    return ok(JSON.stringify({ status: cmcStatus(0, null), data }));
  });
}

type Handler = (url: URL, request: Request, coins: readonly FakeCoin[]) => Response;

async function startFake(options: FakeProviderOptions, handler: Handler): Promise<FakeProvider> {
  const coins = fakeCoins(await Deno.readTextFile(options.marketsFixture ?? FIXTURE));
  const { promise: closed, resolve: release } = Promise.withResolvers<void>();
  const state = { mode: options.mode ?? "ok" as FakeProviderMode, coins };
  const requests: FakeProviderRequest[] = [];

  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (request) => {
      const url = new URL(request.url);
      requests.push({ url, headers: request.headers });
      switch (state.mode) {
        case "ok":
          return handler(url, request, state.coins);
        case "http500":
          return ok(`{"error":"Internal Server Error"}`, 500);
        case "rate_limited":
          return new Response(`{"error":"Too Many Requests"}`, {
            status: 429,
            headers: { "content-type": "application/json", "retry-after": "30" },
          });
        case "hang":
          await closed;
          return ok(`{"error":"Service Unavailable"}`, 503);
        case "html":
          return new Response("<!DOCTYPE html><html><body>Maintenance</body></html>", {
            headers: { "content-type": "text/html; charset=utf-8" },
          });
        case "leaky_error": {
          const key = request.headers.get("x-cmc_pro_api_key") ?? "none";
          const status = cmcStatus(500, `Internal error while serving key ${key}`);
          return ok(JSON.stringify({ status }), 500);
        }
      }
    },
  );

  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      release();
      await server.shutdown();
    })();
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    get mode() {
      return state.mode;
    },
    set mode(mode: FakeProviderMode) {
      state.mode = mode;
    },
    get coins() {
      return state.coins;
    },
    set coins(value: FakeCoin[]) {
      state.coins = value;
    },
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The fixture's coins in neutral form, keeping each number's JSON text. */
function fakeCoins(fixture: string): FakeCoin[] {
  const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  const list = JSON.parse(
    fixture,
    ((_key: string, value: unknown, context: { source?: string }) =>
      typeof value === "number" && context.source !== undefined
        ? raw(context.source)
        : value) as Parameters<typeof JSON.parse>[1],
  ) as Record<string, unknown>[];
  return list.map((entry, index) => ({
    id: String(entry.id),
    symbol: String(entry.symbol).toUpperCase(),
    name: String(entry.name),
    rank: Number(JSON.stringify(entry.market_cap_rank ?? index + 1)),
    price: entry.current_price,
    marketCap: entry.market_cap ?? null,
    change24h: entry.price_change_percentage_24h ?? null,
    updatedAt: (entry.last_updated as string | null) ?? null,
  }));
}

function cmcStatus(code: number, message: string | null): Record<string, unknown> {
  return {
    timestamp: "2022-10-04T20:16:30.000Z",
    error_code: code,
    error_message: message,
    elapsed: 10,
    credit_count: code === 0 ? 1 : 0,
  };
}

function ok(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

function notFound(): Response {
  return ok(`{"error":"Not Found"}`, 404);
}
