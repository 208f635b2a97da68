/**
 * The long tail of a running service: the coin directory (loaded, refreshed daily), the coins
 * fetched on demand (fetched by id in batches, stored, refreshed with each ingestion round while
 * asked for) and their update events for watchers.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { coinObjectJson, encodeUpdateEvent } from "../wire/reply.ts";
import type { Repository, SaveOptions, TrackedCoin } from "../storage/repository.ts";
import { fetchCoinList, fetchMarketsByIds } from "../ingest/coingecko_directory.ts";
import { brief, FailureLog } from "../ingest/failure_log.ts";
import type { UpstreamBudget } from "../ingest/upstream_budget.ts";
import { LongTail, MAX_BATCH, type Tracked } from "../server/long_tail.ts";
import type { UpdateEvents } from "../server/market.ts";
import type { ServerConfig } from "./config.ts";
import { DirectoryKeeper } from "./_directory.ts";
import { coinGeckoRequest } from "./_ingestion.ts";
import { FollowerWishes, serveWishes } from "./_wishes.ts";

/** The provider the directory and the on-demand coins come from. */
const PROVIDER = "coingecko";
/** Coins one client address may have fetched on demand per minute. */
export const ON_DEMAND_PER_ADDRESS = 60;

/** The long tail's parts. */
export interface LongTailParts {
  readonly longTail: LongTail;
  readonly keeper: DirectoryKeeper;
  /** Serves the stored directory and tracked coins. */
  load(): Promise<void>;
  /** Refreshes the tracked coins (with each ingestion round), then the directory when due. */
  refresh(signal: AbortSignal): Promise<void>;
  /** A replica caught up with the database: newer directory, stored coins, answered wishes. */
  caughtUp(): Promise<void>;
  /** Stops serving the followers' wishes. */
  stop(): void;
}

/** What {@linkcode buildLongTail} works with. */
export interface LongTailDeps {
  repository: Repository;
  /** Tells the watchers of changed coins (the market's update listeners). */
  notify: (events: UpdateEvents) => void;
  saveOptions: () => SaveOptions;
  /** Every upstream call goes through it: on demand after the top N, the directory last. */
  budget: UpstreamBudget;
  log: (line: string) => void;
  /** How long on-demand ids are gathered into one request; defaults to the long tail's. */
  gatherMs?: number;
  /** This replica's role now: `single`, or in cluster mode `leader` or `follower`. */
  role: () => string;
  /** Cluster mode: a follower wishes, the leader serves the wishes. */
  cluster: boolean;
}

/** Builds the long tail of a service, or null with `--max-tracked 0` or without CoinGecko. */
export function buildLongTail(config: ServerConfig, deps: LongTailDeps): LongTailParts | null {
  if (config.maxTracked === 0 || !config.providers.includes(PROVIDER)) return null;
  const { repository, log } = deps;
  const request = coinGeckoRequest(config, deps.budget.fetch("on_demand"));
  const fetchAndStore = storingFetcher(request, deps);
  const wishes = new FollowerWishes(repository, config.upstreamTimeoutSeconds * 1000);
  const follows = () => deps.role() === "follower";
  const longTail = new LongTail({
    // Only the leader calls upstreams; a follower waits for the leader to store the coins.
    fetch: (ids) => follows() ? wishes.fetch(ids) : fetchAndStore(ids),
    onAsked: (id) => {
      if (follows()) wishes.asked(id);
    },
    timeoutMs: config.upstreamTimeoutSeconds * 1000,
    trackForMs: config.trackForSeconds * 1000,
    maxTracked: config.maxTracked,
    perAddressPerMinute: ON_DEMAND_PER_ADDRESS,
    gatherMs: deps.gatherMs,
  });
  const staleAfterMs = config.staleAfterSeconds * 1000;
  const publish = (changed: readonly Tracked[]) =>
    deps.notify(updateEvents(longTail, changed, staleAfterMs));
  const wishServer = deps.cluster
    ? serveWishes(repository, longTail, () => deps.role() === "leader", log)
    : null;
  const keeper = new DirectoryKeeper({
    repository,
    provider: PROVIDER,
    fetchList: (signal) =>
      fetchCoinList({ ...request, fetch: deps.budget.fetch("directory"), signal }),
    onDirectory: (entries) => longTail.setDirectory(entries),
    saveOptions: deps.saveOptions,
    log,
  });
  const refreshTracked = trackedRefresher(longTail, fetchAndStore, publish, deps);
  return {
    longTail,
    keeper,
    load: async () => {
      await keeper.load();
      longTail.refreshed(await repository.loadTracked(), true);
    },
    refresh: async (signal) => {
      await refreshTracked(signal);
      // The directory (a day old) must not hold up the round's snapshot: it is stored meanwhile.
      keeper.refresh(signal);
    },
    caughtUp: async () => {
      await keeper.load();
      const stored = await repository.loadTracked();
      wishes.arrived(stored);
      publish(longTail.refreshed(stored));
    },
    stop: () => wishServer?.stop(),
  };
}

/** Fetches coins by id and stores them (a failure to store is logged: they are served anyway). */
function storingFetcher(request: ReturnType<typeof coinGeckoRequest>, deps: LongTailDeps) {
  return async (ids: string[], signal?: AbortSignal): Promise<TrackedCoin[]> => {
    const fetchedAt = new Date().toISOString();
    const coins = await fetchMarketsByIds(ids, { ...request, signal });
    const tracked = coins.map((coin) => ({ coin, fetchedAt, source: PROVIDER }));
    try {
      await deps.repository.saveTracked(tracked, deps.saveOptions());
    } catch (error) {
      // Served all the same: storage only spares a restart or a follower a fetch.
      deps.log(`coins fetched on demand not stored: ${brief((error as Error).message)}`);
    }
    return tracked;
  };
}

/**
 * The refresh of the tracked coins with each ingestion round: those no one asked for within
 * `--track-for` are dropped, the others fetched again in batches and their watchers told.
 */
function trackedRefresher(
  longTail: LongTail,
  fetchAndStore: (ids: string[], signal: AbortSignal) => Promise<TrackedCoin[]>,
  publish: (changed: readonly Tracked[]) => void,
  deps: LongTailDeps,
) {
  const { repository } = deps;
  const failures = new FailureLog({ log: deps.log });
  return async (signal: AbortSignal) => {
    const before = longTail.trackedCount;
    const ids = longTail.trackedIds();
    if (ids.length < before) {
      await repository.dropTracked(await droppedIds(repository, ids), deps.saveOptions());
    }
    for (let i = 0; i < ids.length && !signal.aborted; i += MAX_BATCH) {
      try {
        publish(longTail.refreshed(await fetchAndStore(ids.slice(i, i + MAX_BATCH), signal)));
        failures.succeeded(({ count }) => `tracked coins fetched again after ${count} failures`);
      } catch (error) {
        if (signal.aborted) return;
        const reason = brief((error as Error).message);
        failures.failed(
          () => `tracked coins refresh failed: ${reason}; keeping their last prices`,
          ({ count }) => `tracked coins still failing after ${count} attempts: ${reason}`,
        );
      }
    }
  };
}

/** The stored ids no longer in `kept`. */
async function droppedIds(repository: Repository, kept: readonly string[]): Promise<string[]> {
  const keep = new Set(kept);
  return (await repository.loadTracked()).map((t) => t.coin.id!).filter((id) => !keep.has(id));
}

/** One update event line per key each changed coin is watched under. */
export function updateEvents(
  longTail: LongTail,
  changed: readonly Tracked[],
  staleAfterMs: number,
): Map<string, Uint8Array> {
  const events = new Map<string, Uint8Array>();
  for (const tracked of changed) {
    const stale = Date.now() - Date.parse(tracked.fetchedAt) > staleAfterMs;
    const coin: Coin = tracked.coin;
    const snapshot = { coins: [coin], fetchedAt: tracked.fetchedAt, source: tracked.source };
    const line = encodeUpdateEvent(coinObjectJson(coin, snapshot, { stale }));
    for (const key of longTail.keysOf(tracked)) events.set(key, line);
  }
  return events;
}
