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
import { brief, FailureLog } from "../ingest/failure_log.ts";
import { Market } from "./market.ts";
import { createProviders, ProviderChain } from "../ingest/provider_chain.ts";
import { pruneHistory, type Repository, type SaveOptions } from "../storage/repository.ts";
import { describeDatabase, isPostgresUrl, openRepository } from "../storage/open_repository.ts";
import { DeferredRepository } from "../cluster/deferred_repository.ts";
import { startReplica } from "./replica.ts";
import { type ClusterMember, SNAPSHOT_CHANNEL } from "../cluster/cluster.ts";
import { PriceServer, type ServedListener } from "./price_server.ts";
import { HttpResponder } from "../http/http_responder.ts";
import { httpSessions } from "../http/http_session.ts";
import { webSocketSessions } from "../http/websocket_session.ts";
import { listenTlsSockets, TLS_SOCKET_MARGIN } from "../net/tls_listener.ts";
import { renderMetrics } from "../metrics/price_metrics.ts";

/** A running service. */
export interface Service extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  /** The HTTP listener's address, or null with `--no-http`. */
  readonly httpAddr: Deno.NetAddr | null;
  readonly tls: boolean;
  readonly market: Market;
  readonly server: PriceServer;
  readonly ingestor: Ingestor;
  /** Every metric in the Prometheus text format, read at each call (`GET /metrics`). */
  readonly metrics: () => string;
  /** Stops accepting, finishes replies in flight, stops ingestion, closes the database. */
  shutdown(): Promise<void>;
  /** Resolves when the service has shut down. */
  readonly finished: Promise<void>;
}

/** What a service needs from its surroundings, injected so tests need no network. */
export interface ServiceDeps {
  log?: (line: string) => void;
  fetch?: typeof fetch;
  /** The Prometheus text of `GET /metrics`; without it `/metrics` is 404. */
  metrics?: () => string;
}

/** Starts listening at once, serving stored data, and starts ingestion in the background. */
export async function startService(config: ServerConfig, deps: ServiceDeps = {}): Promise<Service> {
  const log = deps.log ?? ((line: string) => console.log(line));
  // Cluster mode serves before PostgreSQL answers: the replica opens the database once it can.
  const clustered = isPostgresUrl(config.db);
  const repository = clustered
    ? new DeferredRepository(
      // Each snapshot's transaction ends with NOTIFY: the followers hear of it on commit.
      () => openRepository(config.db, { notifyChannel: SNAPSHOT_CHANNEL }),
      describeDatabase(config.db),
    )
    : await openRepository(config.db);
  const startedAt = Date.now();
  // Closed again when the start fails after the port was opened.
  let started: PriceServer | undefined;
  try {
    // The report needs the server and the ingestor, which need the market: bound late.
    let report = (): Record<string, unknown> => ({});
    let metrics = (): string => "";
    const market = new Market({
      staleAfterMs: config.staleAfterSeconds * 1000,
      history: (symbol, since, max) => repository.historySeries(symbol, since, max),
      info: () => report(),
    });
    // A replica loads what the database holds once it is connected (lib/cluster/replica.ts).
    const storedRates = clustered ? null : await repository.loadRates();
    if (storedRates !== null) {
      market.updateRates(ratesFrom(storedRates.rates, storedRates.fetchedAt));
    }
    const stored = clustered ? null : await repository.loadSnapshot();
    if (stored !== null) market.update(stored);
    const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
    const at = { hostname: config.host, port: config.port, ...reusePort(config.reusePort) };
    // TLS through node:tls, whose unfinished handshakes can be dropped (see tls_listener.ts).
    const open = async (at: { hostname: string; port: number; reusePort?: true }) =>
      tls
        ? listenTlsSockets({
          ...at,
          cert: await Deno.readTextFile(config.tlsCert!),
          key: await Deno.readTextFile(config.tlsKey!),
          maxSockets: config.limits.maxConnections + TLS_SOCKET_MARGIN,
          log,
        })
        : Deno.listen(at);
    const listener = await open(at);
    const listeners: ServedListener[] = [{ listener, tls }];
    if (config.http !== null) {
      const responder = new HttpResponder({
        market,
        staleAfterMs: config.staleAfterSeconds * 1000,
        refreshMs: config.refreshSeconds * 1000,
        corsOrigin: config.http.corsOrigin,
        // Bound late, as the report is: they read the server, the ingestor and the chain.
        metrics: deps.metrics ?? (() => metrics()),
      });
      const httpAt = { hostname: config.http.host, port: config.http.port };
      const http = await open(httpAt).catch((error) => {
        listener.close();
        throw error;
      });
      const webSocket = webSocketSessions(market);
      const sessions = httpSessions(responder, (_head, context) => webSocket(context));
      listeners.push({ listener: http, tls, sessions });
    }
    const server = new PriceServer(listeners, { market, tls, limits: config.limits, log });
    started = server;
    const addr = server.addr;
    // Said only once the port is open, so a start that fails (e.g. a busy port) says only its
    // error; `listening on` comes last, as scripts wait for it.
    log(
      `crypto-server ${VERSION}, database ${repository.description}, providers ` +
        `${config.providers.join(", ")}, refresh every ${config.refreshSeconds} s`,
    );
    if (stored !== null) {
      log(`serving ${stored.coins.length} stored coins fetched at ${stored.fetchedAt}`);
    }
    log(`listening on ${addr.hostname}:${addr.port} (${tls ? "tls" : "tcp"})`);
    const httpAddr = config.http === null ? null : server.addrs[1];
    if (httpAddr !== null) {
      log(`listening on ${httpAddr.hostname}:${httpAddr.port} (${tls ? "https" : "http"})`);
    }
    const finished = server.serve();

    const upstream = new URL(config.apiUrl).host;
    const request = {
      apiUrl: config.apiUrl,
      apiKey: config.apiKey,
      fetch: deps.fetch,
      maxBytes: config.maxUpstreamBytes,
      timeoutMs: config.upstreamTimeoutSeconds * 1000,
    };
    const pruner = new HistoryPruner(repository, config.historyDays, log);
    const sizer = new SizeGauge(repository);
    sizer.refresh();
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
    const ratesFailures = new FailureLog({ log });
    const ingestor = new Ingestor({
      fetchCoins: async (signal) => {
        const round = await chain.fetchCoins(signal);
        // Rates are fetched with every ingestion and stored with the snapshot; a failure keeps
        // the last ones.
        try {
          const fetchedAt = new Date().toISOString();
          const rates = await fetchExchangeRates({ ...request, signal });
          ratesFailures.succeeded(({ count }) =>
            `exchange rates fetched again after ${count} failed attempts`
          );
          return { ...round, rates: { rates, fetchedAt } };
        } catch (error) {
          if (signal.aborted) throw error;
          const kept = market.rates === null
            ? "prices stay in USD only"
            : `keeping rates of ${market.rates.fetchedAt}`;
          const reason = brief((error as Error).message);
          ratesFailures.failed(
            () => `exchange rates fetch failed: ${reason}; ${kept}`,
            ({ count }) =>
              `exchange rates still failing after ${count} attempts: ${reason}; ${kept}`,
          );
        }
        return round;
      },
      repository,
      // A leader writes through the session holding its lock; it has none when it lost it.
      saveOptions: (): SaveOptions => member === null ? {} : { session: member.writerSession() },
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
        database: {
          engine: repository.engine,
          path: repository.description,
          size_bytes: sizer.bytes,
        },
        cluster: member?.status ?? { role: "single" },
      };
    };
    const member: ClusterMember | null = repository instanceof DeferredRepository
      ? startReplica({
        url: config.db,
        refreshMs: config.refreshSeconds * 1000,
        repository,
        market,
        ingestor,
        onLoaded: (snapshot) => {
          if (snapshot.source === chain.primary) chain.rememberPrimary(snapshot.coins);
          // A follower's ingestor never runs: the database size is refreshed as snapshots load.
          sizer.refresh();
        },
        log,
      })
      : null;
    if (member === null) ingestor.start();

    let stopping: Promise<void> | null = null;
    metrics = () =>
      renderMetrics({
        transports: () => Object.entries(server.stats.byTransport),
        watchers: () => server.watchers,
        market,
        lastSuccessAt: () => ingestor.status.lastSuccessAt,
        providers: () => chain.counts,
        cluster: () => member && { role: member.role, leaderChanges: member.leaderChanges },
      });
    const shutdown = () =>
      stopping ??= (async () => {
        await server.shutdown();
        await member?.stop();
        await ingestor.stop();
        await pruner.stop();
        await sizer.settled();
        await repository.close();
      })();
    return {
      addr,
      httpAddr,
      tls,
      market,
      server,
      ingestor,
      metrics,
      shutdown,
      finished: finished.then(() => shutdown()),
      [Symbol.asyncDispose]: shutdown,
    };
  } catch (error) {
    await started?.shutdown();
    await repository.close();
    throw error;
  }
}

/**
 * `SO_REUSEPORT` for `Deno.listen`. Deno exits the process (code 70) when it is asked for without
 * `--unstable-net`, so that is checked first (the flag also brings `Deno.listenDatagram`).
 */
function reusePort(wanted: boolean): { reusePort?: true } {
  if (!wanted) return {};
  if (typeof (Deno as { listenDatagram?: unknown }).listenDatagram !== "function") {
    throw new Error("--reuse-port needs Deno's --unstable-net flag (deno task server has it)");
  }
  return { reusePort: true };
}

/**
 * Deletes history older than the retention after each ingestion, a small batch per transaction,
 * so the ingester's writes never wait long behind a big delete.
 */
class HistoryPruner {
  readonly #repository: Repository;
  readonly #retentionMs: number;
  readonly #log: (line: string) => void;
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;

  constructor(repository: Repository, days: number, log: (line: string) => void) {
    this.#repository = repository;
    this.#retentionMs = days * 86_400_000;
    this.#log = log;
  }

  schedule(): void {
    if (this.#running !== null || this.#stop.signal.aborted) return;
    this.#running = this.#run().finally(() => this.#running = null);
  }

  async #run(): Promise<void> {
    const before = new Date(Date.now() - this.#retentionMs).toISOString();
    try {
      const total = await pruneHistory(this.#repository, before, PRUNE_BATCH, this.#stop.signal);
      if (total > 0) this.#log(`pruned ${total} history rows older than ${before}`);
    } catch (error) {
      this.#log(`history pruning failed: ${(error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }
}

/** History rows deleted per batch when pruning. */
const PRUNE_BATCH = 500;

/** The database's size for `INFO`, read after each ingestion rather than on each request. */
class SizeGauge {
  readonly #repository: Repository;
  #reading: Promise<void> | null = null;
  /** The last size read, or null before the first read or when the engine cannot tell. */
  bytes: number | null = null;

  constructor(repository: Repository) {
    this.#repository = repository;
  }

  refresh(): void {
    this.#reading ??= this.#repository.sizeBytes().then(
      (bytes) => {
        this.bytes = bytes;
      },
      () => {}, // the last size stays; INFO is not the place to report storage errors
    ).finally(() => this.#reading = null);
  }

  async settled(): Promise<void> {
    await this.#reading;
  }
}
