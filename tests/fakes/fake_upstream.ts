/**
 * A local CoinGecko-compatible HTTP server for tests and the offline demo.
 *
 * It serves recorded responses with their exact number text, and can be switched into the
 * failure modes a real upstream shows (errors, rate limiting, hanging, garbage).
 *
 * @module
 */

/** How the fake upstream answers. `"refused"` is simulated by closing the server. */
export type FakeMode =
  | "ok"
  | "http500"
  | "rate_limited"
  | "hang"
  | "html"
  | "truncated"
  | "empty"
  | "invalid_prices";

/** Options of {@linkcode startFakeUpstream}. */
export interface FakeUpstreamOptions {
  /** A recorded `/coins/markets` response; defaults to the 2022-10-04 fixture. */
  marketsFixture?: string | URL;
  /** A recorded `/exchange_rates` response; defaults to the 2021 fixture. */
  ratesFixture?: string | URL;
  /** The initial mode; defaults to `"ok"`. */
  mode?: FakeMode;
  /** The `Retry-After` value sent in `"rate_limited"` mode; defaults to `"30"`. */
  retryAfter?: string;
}

/** A request the fake upstream received. */
export interface FakeRequest {
  url: URL;
  headers: Headers;
}

/** A running fake upstream. */
export interface FakeUpstream extends AsyncDisposable {
  /** Base URL including `/api/v3`, e.g. `http://127.0.0.1:41234/api/v3`. */
  readonly baseUrl: string;
  /** How the next requests are answered. */
  mode: FakeMode;
  /** The `Retry-After` value sent in `"rate_limited"` mode. */
  retryAfter: string;
  /** How `/exchange_rates` is answered, when it should differ from {@linkcode mode}; null = same. */
  ratesMode: FakeMode | null;
  /** How many requests were received, in any mode. */
  readonly requestCount: number;
  /** The last request received, or `null`. */
  readonly lastRequest: FakeRequest | null;
  /**
   * Replaces the served coins. An array is serialized with `JSON.stringify`; a string is served
   * with its numbers written exactly as given, so a test controls the number text. A string that
   * is not a JSON array (e.g. an error object) is served as is.
   */
  setCoins(coins: readonly unknown[] | string): void;
  /** Stops the server; requests hanging in `"hang"` mode are released first. */
  close(): Promise<void>;
}

const FIXTURES = new URL("../testdata/", import.meta.url);

/** Starts a fake upstream on a free port of 127.0.0.1. */
export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const marketsText = await Deno.readTextFile(
    options.marketsFixture ?? new URL("coingecko_markets_usd_2022-10-04.json", FIXTURES),
  );
  const ratesText = await Deno.readTextFile(
    options.ratesFixture ?? new URL("coingecko_exchange_rates_2021.json", FIXTURES),
  );
  let coins = parseExact(marketsText);
  let closing = false;
  const { promise: closed, resolve: release } = Promise.withResolvers<void>();

  const state = {
    mode: options.mode ?? "ok" as FakeMode,
    retryAfter: options.retryAfter ?? "30",
    requestCount: 0,
    lastRequest: null as FakeRequest | null,
    ratesMode: null as FakeMode | null,
  };

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    state.requestCount++;
    state.lastRequest = { url, headers: request.headers };

    let body: string;
    if (url.pathname === "/api/v3/coins/markets") {
      const perPage = Number(url.searchParams.get("per_page") ?? 100);
      const limit = Number.isInteger(perPage) ? perPage : 100;
      body = JSON.stringify(Array.isArray(coins) ? coins.slice(0, limit) : coins);
    } else if (url.pathname === "/api/v3/exchange_rates") {
      body = ratesText;
    } else if (url.pathname === "/api/v3/coins/list") {
      // The directory of the coins it serves, as CoinGecko lists every coin it knows.
      const list = Array.isArray(coins) ? coins : [];
      body = JSON.stringify(list.map(({ id, symbol, name }) => ({ id, symbol, name })));
    } else {
      return json(`{"error":"Not Found"}`, 404);
    }

    const rates = url.pathname === "/api/v3/exchange_rates";
    switch (rates && state.ratesMode !== null ? state.ratesMode : state.mode) {
      case "ok":
        return json(body);
      case "http500":
        return json(`{"error":"Internal Server Error"}`, 500);
      case "rate_limited":
        return json(
          `{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}`,
          429,
          { "retry-after": state.retryAfter },
        );
      case "hang":
        // Answer only once the server closes, so a closed server leaves nothing pending.
        await closed;
        return json(`{"error":"Service Unavailable"}`, 503);
      case "html":
        return new Response(
          "<!DOCTYPE html><html><body>Cloudflare: checking your browser</body></html>",
          {
            headers: { "content-type": "text/html; charset=utf-8" },
          },
        );
      case "truncated":
        return json(body.slice(0, Math.floor(body.length / 2)));
      case "empty":
        return json("[]");
      case "invalid_prices": {
        const list = JSON.parse(body);
        if (Array.isArray(list) && list.length > 1) list[1].current_price = "1355.37";
        return json(JSON.stringify(list));
      }
    }
  };

  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  const { port } = server.addr;

  const close = async () => {
    if (closing) return server.finished;
    closing = true;
    release();
    await server.shutdown();
  };

  return {
    baseUrl: `http://127.0.0.1:${port}/api/v3`,
    get mode() {
      return state.mode;
    },
    set mode(mode: FakeMode) {
      state.mode = mode;
    },
    get ratesMode() {
      return state.ratesMode;
    },
    set ratesMode(mode: FakeMode | null) {
      state.ratesMode = mode;
    },
    get retryAfter() {
      return state.retryAfter;
    },
    set retryAfter(value: string) {
      state.retryAfter = value;
    },
    get requestCount() {
      return state.requestCount;
    },
    get lastRequest() {
      return state.lastRequest;
    },
    setCoins(value) {
      coins = parseExact(typeof value === "string" ? value : JSON.stringify(value));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A JSON response with the upstream's content type. */
export function json(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** Parses JSON so that `JSON.stringify` writes every number back with its original text. */
function parseExact(text: string): unknown {
  const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.parse(
    text,
    ((_key: string, value: unknown, context: { source?: string }) =>
      typeof value === "number" && context.source !== undefined
        ? raw(context.source)
        : value) as Parameters<typeof JSON.parse>[1],
  );
}
