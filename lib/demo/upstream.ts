/**
 * The demo's local CoinGecko-compatible upstream: it answers `/coins/markets` and
 * `/exchange_rates` from data shipped with the demo, on a free port of 127.0.0.1.
 *
 * @module
 */

import markets from "./data/markets.json" with { type: "json" };
import exchangeRates from "./data/exchange_rates.json" with { type: "json" };

/** A running demo upstream. */
export interface DemoUpstream extends AsyncDisposable {
  /** Base URL including `/api/v3`, e.g. `http://127.0.0.1:41234/api/v3`. */
  readonly baseUrl: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts the demo upstream on a free port of 127.0.0.1. */
export function startDemoUpstream(): DemoUpstream {
  const handler = (request: Request): Response => {
    const url = new URL(request.url);
    if (url.pathname === "/api/v3/coins/markets") {
      const perPage = Number(url.searchParams.get("per_page") ?? 100);
      return json(markets.slice(0, Number.isInteger(perPage) ? perPage : 100));
    }
    if (url.pathname === "/api/v3/exchange_rates") return json(exchangeRates);
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
