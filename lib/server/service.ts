/**
 * The whole server process, assembled: repository, market, ingestion and listener. `server.ts`
 * only parses flags and calls {@linkcode startService}; tests call it in-process.
 *
 * @module
 */

import { fetchExchangeRates } from "../ingest/coingecko.ts";
import type { ServerConfig } from "./config.ts";
import { VERSION } from "../util/version.ts";
import { ratesFrom } from "./currency.ts";
import { Ingestor } from "../ingest/ingestor.ts";
import { Market } from "./market.ts";
import { createProviders, ProviderChain } from "../ingest/provider_chain.ts";
import { Repository } from "../storage/repository.ts";
import { PriceServer } from "./price_server.ts";

/** A running service. */
export interface Service extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  readonly tls: boolean;
  readonly market: Market;
  readonly server: PriceServer;
  readonly ingestor: Ingestor;
  /** Stops accepting, finishes replies in flight, stops ingestion, closes the database. */
  shutdown(): Promise<void>;
  /** Resolves when the service has shut down. */
  readonly finished: Promise<void>;
}

/** What a service needs from its surroundings, injected so tests need no network. */
export interface ServiceDeps {
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

/** Starts listening at once, serving stored data, and starts ingestion in the background. */
export async function startService(config: ServerConfig, deps: ServiceDeps = {}): Promise<Service> {
  const log = deps.log ?? ((line: string) => console.log(line));
  const repository = Repository.open(config.db);
  const startedAt = Date.now();
  try {
    // The report needs the server and the ingestor, which need the market: bound late.
    let report = (): Record<string, unknown> => ({});
    const market = new Market({
      staleAfterMs: config.staleAfterSeconds * 1000,
      history: (symbol, since, max) => repository.historySeries(symbol, since, max),
      info: () => report(),
    });
    const storedRates = repository.loadRates();
    if (storedRates !== null) {
      market.updateRates(ratesFrom(storedRates.rates, storedRates.fetchedAt));
    }
    const stored = repository.loadSnapshot();
    if (stored !== null) {
      market.update(stored);
      log(`serving ${stored.coins.length} stored coins fetched at ${stored.fetchedAt}`);
    }
    const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
    const listener = tls
      ? Deno.listenTls({
        hostname: config.host,
        port: config.port,
        cert: await Deno.readTextFile(config.tlsCert!),
        key: await Deno.readTextFile(config.tlsKey!),
      })
      : Deno.listen({ hostname: config.host, port: config.port });
    const server = new PriceServer(listener, { market, tls, limits: config.limits, log });
    const addr = server.addr;
    log(`listening on ${addr.hostname}:${addr.port} (${tls ? "tls" : "tcp"})`);
    const finished = server.serve();

    const upstream = new URL(config.apiUrl).host;
    const request = {
      apiUrl: config.apiUrl,
      apiKey: config.apiKey,
      fetch: deps.fetch,
      timeoutMs: config.upstreamTimeoutSeconds * 1000,
    };
    const pruner = new HistoryPruner(repository, config.historyDays, log);
    const { providers, notes } = createProviders(config, deps.fetch);
    notes.forEach((note) => log(note));
    const chain = new ProviderChain({
      providers,
      top: config.top,
      failureThreshold: config.breakerFailures,
      cooldownMs: config.breakerCooldownSeconds * 1000,
      log,
    });
    // A fallback keeps the first provider's coins, also right after a restart.
    if (stored !== null && stored.source === chain.primary) chain.rememberPrimary(stored.coins);
    const ingestor = new Ingestor({
      fetchCoins: async (signal) => {
        const round = await chain.fetchCoins(signal);
        // Rates are fetched with every ingestion; a failure keeps the last ones.
        try {
          const fetchedAt = new Date().toISOString();
          const rates = await fetchExchangeRates({ ...request, signal });
          repository.saveRates(rates, fetchedAt);
          market.updateRates(ratesFrom(rates, fetchedAt));
        } catch (error) {
          if (signal.aborted) throw error;
          const kept = market.rates === null
            ? "prices stay in USD only"
            : `keeping rates of ${market.rates.fetchedAt}`;
          log(`exchange rates fetch failed: ${(error as Error).message}; ${kept}`);
        }
        return round;
      },
      repository,
      onSnapshot: (snapshot) => {
        market.update(snapshot);
        pruner.schedule();
      },
      refreshMs: config.refreshSeconds * 1000,
      source: chain.primary,
      log,
    });
    report = () => {
      const status = ingestor.status;
      return {
        version: VERSION,
        uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
        connections: { open: server.stats.connectionsOpen, served: server.stats.connectionsServed },
        requests: server.stats.requests,
        errors: server.stats.errors,
        ingestion: {
          last_attempt_at: status.lastAttemptAt,
          duration_ms: status.lastDurationMs,
          coins: status.lastCoins,
          result: status.lastOk === null ? null : status.lastOk ? "ok" : "failed",
          error: status.lastError,
          last_success_at: status.lastSuccessAt,
          next_refresh_at: status.nextRunAt,
          consecutive_failures: status.consecutiveFailures,
          upstream,
        },
        providers: chain.statuses,
        database: { path: config.db, size_bytes: repository.sizeBytes() },
      };
    };
    ingestor.start();

    let stopping: Promise<void> | null = null;
    const shutdown = () =>
      stopping ??= (async () => {
        await server.shutdown();
        await ingestor.stop();
        await pruner.stop();
        repository.close();
      })();
    return {
      addr,
      tls,
      market,
      server,
      ingestor,
      shutdown,
      finished: finished.then(() => shutdown()),
      [Symbol.asyncDispose]: shutdown,
    };
  } catch (error) {
    repository.close();
    throw error;
  }
}

/**
 * Deletes history older than the retention after each ingestion, a small batch at a time with
 * a turn of the event loop between batches, so requests are never stalled behind a big delete.
 */
class HistoryPruner {
  readonly #repository: Repository;
  readonly #retentionMs: number;
  readonly #log: (line: string) => void;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(repository: Repository, days: number, log: (line: string) => void) {
    this.#repository = repository;
    this.#retentionMs = days * 86_400_000;
    this.#log = log;
  }

  schedule(): void {
    if (this.#running !== null || this.#stopped) return;
    this.#running = this.#run().finally(() => this.#running = null);
  }

  async #run(): Promise<void> {
    const before = new Date(Date.now() - this.#retentionMs).toISOString();
    let total = 0;
    try {
      while (!this.#stopped) {
        const deleted = this.#repository.pruneHistoryBatch(before, PRUNE_BATCH);
        total += deleted;
        if (deleted < PRUNE_BATCH) break;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } catch (error) {
      this.#log(`history pruning failed: ${(error as Error).message}`);
    }
    if (total > 0) this.#log(`pruned ${total} history rows older than ${before}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }
}

/** History rows deleted per batch when pruning. */
const PRUNE_BATCH = 500;
