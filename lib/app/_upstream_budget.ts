/**
 * The upstream budget of a service: each provider's calls a minute, from `--upstream-budget` or
 * the provider's default for keyless use.
 *
 * @module
 */

import {
  COINGECKO_KEY_BUDGET,
  DEFAULT_BUDGETS,
  UpstreamBudget,
} from "../ingest/upstream_budget.ts";
import { isLoopback, type ServerConfig } from "./config.ts";

/**
 * The budget every upstream call of the service goes through. A loopback URL (the demo's
 * upstream, a local fake or proxy) has no default limit: only the public APIs' are known.
 */
export function upstreamBudget(
  config: Pick<ServerConfig, "apiUrl" | "apiKey" | "coinpaprikaUrl" | "cmcUrl" | "upstreamBudget">,
  fetch?: typeof globalThis.fetch,
): UpstreamBudget {
  const perMinute = (url: string, byDefault: number) =>
    config.upstreamBudget ?? (isLoopback(new URL(url).hostname) ? null : byDefault);
  const geckoDefault = config.apiKey === undefined
    ? DEFAULT_BUDGETS.coingecko
    : COINGECKO_KEY_BUDGET;
  return new UpstreamBudget({
    coingecko: { url: config.apiUrl, perMinute: perMinute(config.apiUrl, geckoDefault) },
    coinpaprika: {
      url: config.coinpaprikaUrl,
      perMinute: perMinute(config.coinpaprikaUrl, DEFAULT_BUDGETS.coinpaprika),
    },
    coinmarketcap: {
      url: config.cmcUrl,
      perMinute: perMinute(config.cmcUrl, DEFAULT_BUDGETS.coinmarketcap),
    },
  }, fetch);
}
