/**
 * Local fakes of CoinPaprika (`/v1/tickers`) and CoinMarketCap
 * (`/v1/cryptocurrency/listings/latest`) for tests, serving each provider's own recorded response
 * from `tests/testdata/` byte for byte (see its README for where they come from). Like the
 * CoinGecko fake they can be switched into failure modes, and they record every request.
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
   * The body served in `"ok"` mode: the recorded response unless a test replaces it (e.g. to show
   * a provider that names a coin differently).
   */
  body: string;
  /** Every request received, in order. */
  readonly requests: readonly FakeProviderRequest[];
  close(): Promise<void>;
}

/** Options of the fake providers. */
export interface FakeProviderOptions {
  /** The initial mode; defaults to `"ok"`. */
  mode?: FakeProviderMode;
}

const TESTDATA = new URL("../testdata/", import.meta.url);
/** CoinPaprika's documented `/v1/tickers` example. */
export const PAPRIKA_FIXTURE = new URL("coinpaprika_tickers_docs_example.json", TESTDATA);
/** CoinMarketCap's documented `listings/latest` example. */
export const CMC_FIXTURE = new URL("coinmarketcap_listings_latest_docs_example.json", TESTDATA);

/** Starts a fake CoinPaprika on a free port of 127.0.0.1, serving the recorded tickers. */
export function startFakeCoinPaprika(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  return startFake(options, PAPRIKA_FIXTURE, (url, _request, body) => {
    if (url.pathname !== "/v1/tickers") return notFound();
    return ok(body);
  });
}

/**
 * Starts a fake CoinMarketCap on a free port of 127.0.0.1, serving the recorded listing. It
 * answers 401 with CoinMarketCap's error object unless `X-CMC_PRO_API_KEY` carries `apiKey`.
 */
export function startFakeCoinMarketCap(
  options: FakeProviderOptions & { apiKey: string },
): Promise<FakeProvider> {
  return startFake(options, CMC_FIXTURE, (url, request, body) => {
    if (url.pathname !== "/v1/cryptocurrency/listings/latest") return notFound();
    if (request.headers.get("x-cmc_pro_api_key") !== options.apiKey) {
      return ok(JSON.stringify({ status: cmcStatus(1001, "This API Key is invalid.") }), 401);
    }
    return ok(body);
  });
}

type Handler = (url: URL, request: Request, body: string) => Response;

async function startFake(
  options: FakeProviderOptions,
  fixture: URL,
  handler: Handler,
): Promise<FakeProvider> {
  const { promise: closed, resolve: release } = Promise.withResolvers<void>();
  // Tests switch `mode` and edit `body` on the returned object; the handler reads them there.
  const state = {
    mode: options.mode ?? "ok" as FakeProviderMode,
    body: await Deno.readTextFile(fixture),
  };
  const requests: FakeProviderRequest[] = [];

  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (request) => {
      const url = new URL(request.url);
      requests.push({ url, headers: request.headers });
      switch (state.mode) {
        case "ok":
          return handler(url, request, state.body);
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
  return Object.assign(state, {
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  });
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
