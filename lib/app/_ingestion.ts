/**
 * The ingestion of a running service: the provider chain, the exchange rates fetched with each
 * round, the ingestor that stores them and hands them to the market, and the upkeep after each
 * snapshot (history pruning, the database size for `INFO`).
 *
 * @module
 */

import { fetchExchangeRates } from "../ingest/coingecko.ts";
import { Ingestor } from "../ingest/ingestor.ts";
import { brief, FailureLog } from "../ingest/failure_log.ts";
import { ProviderChain } from "../ingest/provider_chain.ts";
import { createProviders } from "../ingest/providers.ts";
import type { UpstreamBudget } from "../ingest/upstream_budget.ts";
import type { Repository, SaveOptions } from "../storage/repository.ts";
import type { Snapshot } from "../wire/coin.ts";
import { ratesFrom } from "../server/currency.ts";
import type { Market } from "../server/market.ts";
import type { ServerConfig } from "./config.ts";
import type { Log } from "../util/log.ts";
import { HistoryPruner } from "./_history_pruner.ts";
import { SizeGauge } from "./_size_gauge.ts";
import type { LongTailParts } from "./_long_tail.ts";

/** The parts of a service's ingestion. */
export interface Ingestion {
  readonly chain: ProviderChain;
  /** What each provider's calls a minute allow and what was spent. */
  readonly budget: UpstreamBudget;
  readonly ingestor: Ingestor;
  readonly pruner: HistoryPruner;
  readonly sizer: SizeGauge;
}

/** What {@linkcode buildIngestion} works with. */
export interface IngestionParts {
  repository: Repository;
  market: Market;
  /** The snapshot served from storage at start, if any. */
  stored: Snapshot | null;
  /** Options of each save, read at every save (a leader's writer session may change). */
  saveOptions: () => SaveOptions;
  /** Every upstream call goes through it. */
  budget: UpstreamBudget;
  log: Log;
  /** Coins beyond the top N, refreshed with each round; null when off. */
  longTail: LongTailParts | null;
}

/** Builds the ingestion of a service; nothing runs until its ingestor is started. */
export function buildIngestion(config: ServerConfig, parts: IngestionParts): Ingestion {
  const { repository, market, log } = parts;
  const pruner = new HistoryPruner(repository, config.historyDays, log);
  const sizer = new SizeGauge(repository);
  sizer.refresh();
  const { providers, notes } = createProviders(config, parts.budget.fetch("top"));
  notes.forEach((note) => log(note));
  const chain = new ProviderChain({
    providers,
    top: config.top,
    failureThreshold: config.breakerFailures,
    cooldownMs: config.breakerCooldownSeconds * 1000,
    log,
  });
  // A fallback keeps the first provider's coins, also right after a restart.
  const stored = parts.stored;
  if (stored !== null && stored.source === chain.primary) chain.rememberPrimary(stored.coins);
  const fetchRates = ratesFetcher(config, parts);
  const ingestor = new Ingestor({
    fetchCoins: async (signal) => {
      const round = await chain.fetchCoins(signal);
      const rates = await fetchRates(signal);
      await parts.longTail?.refresh(signal);
      return rates === null ? round : { ...round, rates };
    },
    repository,
    saveOptions: parts.saveOptions,
    onSnapshot: (snapshot, rates) => {
      if (rates !== null) market.updateRates(ratesFrom(rates.rates, rates.fetchedAt));
      market.update(snapshot);
      pruner.schedule();
      sizer.refresh();
    },
    refreshMs: config.refreshSeconds * 1000,
    source: chain.primary,
    log,
  });
  return { chain, budget: parts.budget, ingestor, pruner, sizer };
}

/** The options of a request to CoinGecko (`--api-url`) through `fetch`. */
export function coinGeckoRequest(config: ServerConfig, fetch: typeof globalThis.fetch) {
  return {
    apiUrl: config.apiUrl,
    apiKey: config.apiKey,
    fetch,
    maxBytes: config.maxUpstreamBytes,
    timeoutMs: config.upstreamTimeoutSeconds * 1000,
  };
}

/**
 * Fetches the exchange rates with every ingestion, to be stored with the snapshot; a failure is
 * logged by change of state and keeps the last ones (null).
 */
function ratesFetcher(config: ServerConfig, parts: IngestionParts) {
  const failures = new FailureLog({ log: parts.log });
  const request = coinGeckoRequest(config, parts.budget.fetch("top"));
  return async (signal: AbortSignal) => {
    try {
      const fetchedAt = new Date().toISOString();
      const rates = await fetchExchangeRates({ ...request, signal });
      failures.succeeded(({ count }) =>
        `exchange rates fetched again after ${count} failed attempts`
      );
      return { rates, fetchedAt };
    } catch (error) {
      if (signal.aborted) throw error;
      const kept = parts.market.rates === null
        ? "prices stay in USD only"
        : `keeping rates of ${parts.market.rates.fetchedAt}`;
      const reason = brief((error as Error).message);
      failures.failed(
        () => `exchange rates fetch failed: ${reason}; ${kept}`,
        ({ count }) => `exchange rates still failing after ${count} attempts: ${reason}; ${kept}`,
      );
      return null;
    }
  };
}
