/**
 * The price providers `--providers` names (CoinGecko, CoinPaprika, CoinMarketCap), each behind
 * one {@linkcode Provider} interface, built from the server's settings; the chain that fails over
 * between them is `provider_chain.ts`.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { DEFAULT_API_URL, fetchMarkets, MAX_TOP as COINGECKO_MAX_TOP } from "./coingecko.ts";
import { CMC_MAX_LIMIT, CMC_URL, fetchCmcListings } from "./coinmarketcap.ts";
import { COINPAPRIKA_URL, fetchPaprikaTickers } from "./coinpaprika.ts";
import { describeUrl } from "../util/describe_url.ts";
import type { ProviderRequestOptions } from "./upstream_http.ts";
import type { OnSkipped } from "./valid_coins.ts";

/** A source of the top coins by market cap in USD. */
export interface Provider {
  /** Stored as the snapshot's `source`, e.g. `coinpaprika`. */
  readonly name: string;
  /** Where it is, for log lines, e.g. `api.coinpaprika.com`; never a key. */
  readonly host: string;
  /** The most coins one call can return, when the provider has a limit. */
  readonly maxTop?: number;
  /**
   * The `top` best-ranked coins, sorted by rank, one per symbol. Records that failed validation
   * are left out and reported to `onSkipped`.
   *
   * @throws {UpstreamError} when the provider fails; an abort of `signal` rejects with its reason
   */
  fetchTop(top: number, signal: AbortSignal, onSkipped?: OnSkipped): Promise<Coin[]>;
}

/** The provider names `--providers` accepts, in the default order of preference. */
export const PROVIDER_NAMES = ["coingecko", "coinpaprika", "coinmarketcap"] as const;

/** Where each provider is and how to authenticate; `ServerConfig` has these fields. */
export interface ProviderSettings {
  /** Names in order of preference. */
  providers: readonly string[];
  /** CoinGecko base URL including `/api/v3`. */
  apiUrl: string;
  apiKey?: string | undefined;
  coinpaprikaUrl: string;
  cmcUrl: string;
  cmcKey?: string | undefined;
  /** Most bytes of one answer, decompressed; defaults to `DEFAULT_MAX_BYTES`. */
  maxUpstreamBytes?: number;
  /** Deadline of one request, body included; 10 s when omitted. */
  upstreamTimeoutSeconds?: number;
}

/** The CoinGecko `/coins/markets` provider. */
function coingeckoProvider(
  options: { apiUrl?: string; apiKey?: string } & ProviderRequestOptions = {},
): Provider {
  return {
    name: "coingecko",
    host: describeUrl(options.apiUrl ?? DEFAULT_API_URL),
    maxTop: COINGECKO_MAX_TOP,
    fetchTop: (top, signal, onSkipped) => fetchMarkets({ ...options, top, signal, onSkipped }),
  };
}

/** The keyless CoinPaprika `/v1/tickers` provider. */
function coinpaprikaProvider(
  options: { baseUrl?: string } & ProviderRequestOptions = {},
): Provider {
  return {
    name: "coinpaprika",
    host: describeUrl(options.baseUrl ?? COINPAPRIKA_URL),
    fetchTop: (top, signal, onSkipped) =>
      fetchPaprikaTickers({ ...options, top, signal, onSkipped }),
  };
}

/** The CoinMarketCap `listings/latest` provider; it needs a key. */
function coinmarketcapProvider(
  options: { apiKey: string; baseUrl?: string } & ProviderRequestOptions,
): Provider {
  return {
    name: "coinmarketcap",
    host: describeUrl(options.baseUrl ?? CMC_URL),
    maxTop: CMC_MAX_LIMIT,
    fetchTop: (top, signal, onSkipped) => fetchCmcListings({ ...options, top, signal, onSkipped }),
  };
}

/**
 * Builds the providers named in `settings.providers`, in that order. CoinMarketCap is left out
 * when no key is configured; `notes` says so, for the log.
 *
 * @throws {RangeError} for an unknown name (the flag parser rejects those first)
 */
export function createProviders(
  settings: ProviderSettings,
  fetch?: typeof globalThis.fetch,
): { providers: Provider[]; notes: string[] } {
  const providers: Provider[] = [];
  const notes: string[] = [];
  const maxBytes = settings.maxUpstreamBytes;
  const timeoutMs = settings.upstreamTimeoutSeconds === undefined
    ? undefined
    : settings.upstreamTimeoutSeconds * 1000;
  for (const name of settings.providers) {
    switch (name) {
      case "coingecko":
        providers.push(
          coingeckoProvider({
            apiUrl: settings.apiUrl,
            apiKey: settings.apiKey,
            fetch,
            timeoutMs,
            maxBytes,
          }),
        );
        break;
      case "coinpaprika":
        providers.push(
          coinpaprikaProvider({ baseUrl: settings.coinpaprikaUrl, fetch, timeoutMs, maxBytes }),
        );
        break;
      case "coinmarketcap":
        if (settings.cmcKey) {
          providers.push(
            coinmarketcapProvider({
              apiKey: settings.cmcKey,
              baseUrl: settings.cmcUrl,
              fetch,
              maxBytes,
              timeoutMs,
            }),
          );
        } else {
          notes.push("provider coinmarketcap is listed but no --cmc-key is set; leaving it out");
        }
        break;
      default:
        throw new RangeError(
          `Unknown provider ${JSON.stringify(name)}: expected one of ${PROVIDER_NAMES.join(", ")}`,
        );
    }
  }
  return { providers, notes };
}
