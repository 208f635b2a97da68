/**
 * The whole server process, assembled in named steps: the repository, the market serving what
 * is stored, the listener, the ingestion and, with PostgreSQL, the cluster membership.
 * `server.ts` only parses flags and calls {@linkcode startService}; tests call it in-process.
 *
 * @module
 */

import type { ServerConfig } from "./config.ts";
import { VERSION } from "../util/version.ts";
import { createLog, type Log } from "../util/log.ts";
import { ratesFrom } from "../server/currency.ts";
import type { Ingestor } from "../ingest/ingestor.ts";
import { Market } from "../server/market.ts";
import type { Repository } from "../storage/repository.ts";
import type { Snapshot } from "../wire/coin.ts";
import { openRepository } from "../storage/open_repository.ts";
import { describeDatabase, isPostgresUrl } from "../storage/database_url.ts";
import { DeferredRepository } from "../cluster/deferred_repository.ts";
import { type ClusterMember, SNAPSHOT_CHANNEL } from "../cluster/cluster.ts";
import type { PriceServer } from "../server/price_server.ts";
import { renderMetrics } from "../metrics/price_metrics.ts";
import { httpAddress, openListeners, usesTls } from "./_listeners.ts";
import { startReplica } from "./replica.ts";
import { buildIngestion, type Ingestion } from "./_ingestion.ts";
import { infoReport, noPricesYet, type ReportedParts } from "./_info_report.ts";
import { buildLongTail, type LongTailParts } from "./_long_tail.ts";
import type { CoinDirectory } from "../server/coin_directory.ts";
import { upstreamBudget } from "./_upstream_budget.ts";
import type { UpstreamBudget } from "../ingest/upstream_budget.ts";
import type { LongTail } from "../server/long_tail.ts";

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
  /** Calls made and left per provider, for `/metrics` (read at scrape time). */
  readonly budget: UpstreamBudget;
  /** Coins beyond the top N (directory size, tracked coins), for `/metrics`; null when off. */
  readonly longTail: LongTail | null;
  /** Stops accepting, finishes replies in flight, stops ingestion, closes the database. */
  shutdown(): Promise<void>;
  /** Resolves when the service has shut down. */
  readonly finished: Promise<void>;
}

/** What a service needs from its surroundings, injected so tests need no network. */
export interface ServiceDeps {
  /** Where the log lines that `--log-level` lets through go; standard output when absent. */
  log?: (line: string) => void;
  fetch?: typeof fetch;
  /** The Prometheus text of `GET /metrics`, in place of the service's own. */
  metrics?: () => string;
  /** How long on-demand look-ups are gathered into one upstream request (tests widen it). */
  gatherMs?: number;
}

/** Starts listening at once, serving stored data, and starts ingestion in the background. */
export async function startService(config: ServerConfig, deps: ServiceDeps = {}): Promise<Service> {
  // In cluster mode lines name the replica, by default the address it listens on (known below).
  let name = config.log.name ?? "";
  const log = createLog({ ...config.log, prefix: () => name, write: deps.log });
  const repository = await openStorage(config.db);
  const startedAt = Date.now();
  // Closed again when the start fails after the port was opened.
  let server: PriceServer | undefined;
  try {
    // INFO and NO_DATA read every part of the service, which all need the market: set once they
    // exist.
    const reported: { parts?: ReportedParts } = {};
    // A leader writes through the session holding its lock (none once it lost it); the member
    // joins below, as it starts and stops the ingestor.
    let member: ClusterMember | null = null;
    const saveOptions = () => member === null ? {} : { session: member.writerSession() };
    const notify: { market?: Market } = {};
    const budget = upstreamBudget(config, deps.fetch);
    const longTail = buildLongTail(config, {
      repository,
      notify: (events) => notify.market?.notify(events),
      saveOptions,
      budget,
      log,
      gatherMs: deps.gatherMs,
      role: () => member?.role ?? "single",
      cluster: repository instanceof DeferredRepository,
    });
    const market = notify.market = buildMarket(config, repository, reported, longTail);
    const stored = await serveStored(repository, market);
    if (!(repository instanceof DeferredRepository)) await longTail?.load();
    const metrics = deps.metrics ??
      (() => reported.parts === undefined ? "" : serviceMetrics(reported.parts, market));
    server = await openListeners(config, market, log, metrics, catalogOf(longTail));
    if (config.log.name === undefined && repository instanceof DeferredRepository) {
      name = `${server.addr.hostname}:${server.addr.port}`;
    }
    announce(config, repository, stored, server, log);
    const finished = server.serve();
    const ingestion = buildIngestion(config, {
      repository,
      market,
      stored,
      saveOptions,
      budget,
      log,
      longTail,
    });
    member = joinCluster(config, repository, market, ingestion, longTail, log);
    if (member === null) ingestion.ingestor.start();
    const upstream = new URL(config.apiUrl).host;
    reported.parts = {
      startedAt,
      upstream,
      server,
      ingestion,
      repository,
      member,
      longTail,
      name: () => name,
    };
    return running({
      server,
      finished,
      market,
      ingestion,
      member,
      repository,
      config,
      metrics,
      longTail,
    });
  } catch (error) {
    await server?.shutdown();
    await repository.close();
    throw error;
  }
}

/** The market: storage answers HISTORY and CANDLES, the service's report INFO and NO_DATA. */
function buildMarket(
  config: ServerConfig,
  repository: Repository,
  reported: { parts?: ReportedParts },
  longTail: LongTailParts | null,
): Market {
  return new Market({
    staleAfterMs: config.staleAfterSeconds * 1000,
    history: (symbol, since, max) => repository.historySeries(symbol, since, max),
    candles: (symbol, interval, from) => repository.candles(symbol, interval, from),
    info: () => reported.parts === undefined ? {} : infoReport(reported.parts),
    noDataText: () => noPricesYet(reported.parts),
    longTail: longTail?.longTail,
  });
}

/** What `/api/v3` names coins by: the coin directory, once one is loaded. */
function catalogOf(longTail: LongTailParts | null): () => CoinDirectory | null {
  const tail = longTail?.longTail;
  return () => tail !== undefined && tail.directory.size > 0 ? tail.directory : null;
}

/**
 * Opens the database `--db` names. Cluster mode serves before PostgreSQL answers: the replica
 * opens the database once it can.
 */
async function openStorage(db: string): Promise<Repository> {
  if (!isPostgresUrl(db)) return await openRepository(db);
  return new DeferredRepository(
    // Each snapshot's transaction ends with NOTIFY: the followers hear of it on commit.
    () => openRepository(db, { notifyChannel: SNAPSHOT_CHANNEL }),
    describeDatabase(db),
  );
}

/**
 * Serves the stored rates and snapshot at once; returns the snapshot. A replica loads what the
 * database holds once it is connected (`replica.ts`).
 */
async function serveStored(repository: Repository, market: Market): Promise<Snapshot | null> {
  if (repository instanceof DeferredRepository) return null;
  const storedRates = await repository.loadRates();
  if (storedRates !== null) {
    market.updateRates(ratesFrom(storedRates.rates, storedRates.fetchedAt));
  }
  const stored = await repository.loadSnapshot();
  if (stored !== null) market.update(stored);
  return stored;
}

/**
 * Says what runs. Said only once the port is open, so a start that fails (e.g. a busy port) says
 * only its error; `listening on` comes last, as scripts wait for it.
 */
function announce(
  config: ServerConfig,
  repository: Repository,
  stored: Snapshot | null,
  server: PriceServer,
  log: Log,
): void {
  log(
    `crypto-server ${VERSION}, database ${repository.description}, providers ` +
      `${config.providers.join(", ")}, refresh every ${config.refreshSeconds} s`,
  );
  if (stored !== null) {
    log(`serving ${stored.coins.length} stored coins fetched at ${stored.fetchedAt}`);
  }
  const { addr } = server;
  log(`listening on ${addr.hostname}:${addr.port} (${usesTls(config) ? "tls" : "tcp"})`);
  const http = httpAddress(config, server);
  if (http !== null) {
    log(`listening on ${http.hostname}:${http.port} (${usesTls(config) ? "https" : "http"})`);
  }
}

/** With PostgreSQL, joins the cluster, which starts the ingestor while it leads; else null. */
function joinCluster(
  config: ServerConfig,
  repository: Repository,
  market: Market,
  ingestion: Ingestion,
  longTail: LongTailParts | null,
  log: Log,
): ClusterMember | null {
  if (!(repository instanceof DeferredRepository)) return null;
  const { chain, sizer } = ingestion;
  return startReplica({
    url: config.db,
    refreshMs: config.refreshSeconds * 1000,
    repository,
    market,
    ingestor: ingestion.ingestor,
    onLoaded: (snapshot) => {
      if (snapshot.source === chain.primary) chain.rememberPrimary(snapshot.coins);
      // A follower's ingestor never runs: the database size is refreshed as snapshots load.
      sizer.refresh();
    },
    afterCatchUp: longTail?.caughtUp,
    log,
  });
}

/** The running service, whose shutdown stops the parts in the reverse order of their start. */
function running(parts: {
  server: PriceServer;
  finished: Promise<void>;
  market: Market;
  ingestion: Ingestion;
  longTail: LongTailParts | null;
  member: ClusterMember | null;
  repository: Repository;
  config: ServerConfig;
  metrics: () => string;
}): Service {
  const { server, ingestion, member, repository } = parts;
  let stopping: Promise<void> | null = null;
  const shutdown = () =>
    stopping ??= (async () => {
      await server.shutdown();
      await member?.stop();
      await ingestion.ingestor.stop();
      await ingestion.pruner.stop();
      parts.longTail?.stop();
      await ingestion.sizer.settled();
      await repository.close();
    })();
  return {
    addr: server.addr,
    httpAddr: httpAddress(parts.config, server),
    tls: usesTls(parts.config),
    market: parts.market,
    server,
    ingestor: ingestion.ingestor,
    metrics: parts.metrics,
    budget: ingestion.budget,
    longTail: parts.longTail?.longTail ?? null,
    shutdown,
    finished: parts.finished.then(() => shutdown()),
    [Symbol.asyncDispose]: shutdown,
  };
}

/** The service's metrics, gathered from its parts at each scrape. */
function serviceMetrics(parts: ReportedParts, market: Market): string {
  const { server, ingestion, member } = parts;
  return renderMetrics({
    transports: () => Object.entries(server.stats.byTransport),
    watchers: () => server.watchers,
    market,
    lastSuccessAt: () => ingestion.ingestor.status.lastSuccessAt,
    providers: () => ingestion.chain.counts,
    cluster: () => member && { role: member.role, leaderChanges: member.leaderChanges },
    budget: () => ingestion.budget.statuses(),
    longTail: () => {
      const tail = parts.longTail?.longTail;
      if (tail === undefined) return null;
      return { directory: tail.directory.size, tracked: tail.trackedCount, batches: tail.batches };
    },
  });
}
