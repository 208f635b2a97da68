/**
 * What the server and the ingester need from storage, whatever the engine: the current snapshot,
 * the exchange rates and the price history. Every method returns a promise, so no caller ever
 * waits on the event loop for a disk, a lock held by another process or a network round trip.
 *
 * Two engines implement it: embedded SQLite (a file path, the default) and PostgreSQL (a
 * `postgres://` URL, for several replicas sharing one database).
 *
 * @module
 */

import type { Coin, DirectoryEntry, ExchangeRate, Snapshot } from "../wire/coin.ts";

/** A coin's history over a window, evenly thinned to at most a given number of points. */
export interface HistorySeries {
  /** `[fetchedAt, price]` pairs, oldest first; the first and last stored points always included. */
  points: [string, number][];
  /** How many prices were ingested in the window. */
  count: number;
  min: number | null;
  max: number | null;
}

/** One interval's prices from the history buckets (see `Repository.candles`). */
export interface StoredCandle {
  /** Start of the interval, in seconds since the epoch, a multiple of the interval. */
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** How many prices were ingested in the interval. */
  count: number;
}

/** Exchange rates as stored: keyed by the upstream's code, with when they were fetched. */
export interface StoredRates {
  rates: ReadonlyMap<string, ExchangeRate>;
  fetchedAt: string;
}

/** The database cannot be used: e.g. it was written by a newer version of this program. */
export class RepositoryError extends Error {
  override name = "RepositoryError";
}

/**
 * A connection an engine lends a caller for writing, e.g. the PostgreSQL session that holds the
 * leader's advisory lock. Opaque to everyone but the engine that made it.
 */
export interface WriterSession {
  /** The engine the session belongs to; a session of another engine is refused. */
  readonly engine: string;
}

/** Options of {@linkcode Repository.saveSnapshot}. */
export interface SaveOptions {
  /** Exchange rates to store in the same transaction; omitted keeps the stored ones. */
  rates?: StoredRates | null;
  /**
   * Write through this session instead of the repository's own connections, so that a write
   * fails when the session is gone (PostgreSQL: the session holding the leader's lock).
   */
  session?: WriterSession;
}

/** A provider's directory of every coin it lists, as stored. */
export interface StoredDirectory {
  /** The provider that listed it, e.g. `coingecko`. */
  provider: string;
  entries: DirectoryEntry[];
  /** When it was fetched (ISO-8601). */
  fetchedAt: string;
}

/** A coin outside the top N, fetched by its provider id (`coin.id` is set). */
export interface TrackedCoin {
  coin: Coin;
  /** When it was fetched (ISO-8601). */
  fetchedAt: string;
  /** Which provider served it. */
  source: string;
}

/** The long tail's tables: the coin directory, the coins fetched on demand and the wishes. */
export interface LongTailStorage {
  /** Replaces the stored directory of `directory.provider`, in one transaction. */
  saveDirectory(directory: StoredDirectory, options?: SaveOptions): Promise<void>;
  /**
   * The stored directory of `provider`, or `null` when none was saved or (with `newerThan`, an
   * ISO time) when the stored one is not newer: a cheap check for a replica that has one.
   */
  loadDirectory(provider: string, newerThan?: string): Promise<StoredDirectory | null>;
  /**
   * Stores coins fetched on demand (replacing earlier prices of the same ids); with a
   * `notifyChannel` (PostgreSQL) the followers hear of it on commit.
   */
  saveTracked(coins: readonly TrackedCoin[], options?: SaveOptions): Promise<void>;
  /** Every coin fetched on demand and not dropped. */
  loadTracked(): Promise<TrackedCoin[]>;
  /** Forgets coins no one asks for any more. */
  dropTracked(ids: readonly string[], options?: SaveOptions): Promise<void>;
  /** Records that a replica was asked for these ids, for the leader to fetch (cluster mode). */
  wishCoins(ids: readonly string[]): Promise<void>;
  /** The ids wished for since the last call, which are forgotten. */
  takeWishes(): Promise<string[]>;
}

/** The current snapshot, the exchange rates and the price history of one database. */
export interface Repository extends LongTailStorage, AsyncDisposable {
  /** `sqlite` or `postgres`. */
  readonly engine: string;
  /** Where the data lives, for logs and `INFO`: a path, or host, port and name (no password). */
  readonly description: string;

  /**
   * Replaces the current snapshot, appends its prices to the history and (when given) replaces
   * the exchange rates, in one transaction: readers see all of it or none of it.
   *
   * @throws {RangeError} when the snapshot has no coins; nothing is written then.
   */
  saveSnapshot(snapshot: Snapshot, options?: SaveOptions): Promise<void>;
  /** The current snapshot in rank order, or `null` when nothing was saved yet. */
  loadSnapshot(): Promise<Snapshot | null>;
  /** When the current snapshot was fetched, or `null` when nothing was saved yet; cheap. */
  latestSnapshotTime(): Promise<string | null>;
  /** The stored exchange rates, or `null` when none were saved. */
  loadRates(): Promise<StoredRates | null>;
  /**
   * The history of `symbol` (case-insensitive) since `sinceIso`, thinned evenly to at most
   * `maxPoints` points, with the minimum and maximum over the window.
   */
  historySeries(symbol: string, sinceIso: string, maxPoints?: number): Promise<HistorySeries>;
  /**
   * The candles of `symbol` (case-insensitive) for `intervalSeconds` from `fromSeconds` (a
   * multiple of the interval) on, oldest first, built from the history buckets: only the
   * intervals that hold prices (the caller shows the others as gaps).
   *
   * @throws {RangeError} when the history keeps no buckets fine enough that far back
   */
  candles(symbol: string, intervalSeconds: number, fromSeconds: number): Promise<StoredCandle[]>;
  /**
   * Deletes at most `batchSize` history rows fetched before `beforeIso` in one short
   * transaction; returns how many. Call again until it returns less than `batchSize`.
   */
  pruneHistoryBatch(beforeIso: string, batchSize?: number): Promise<number>;
  /** The database's size in bytes, or `null` when the engine cannot tell. */
  sizeBytes(): Promise<number | null>;
  /** Closes the database; later calls do nothing, other methods then reject. */
  close(): Promise<void>;
}

/** History rows deleted per transaction when pruning: small, so writers never wait long. */
export const PRUNE_BATCH_SIZE = 500;

/**
 * Deletes every history row fetched before `beforeIso`, one batch per transaction so writers are
 * never blocked for long, yielding to other tasks between batches. Stops after the batch in
 * flight when `signal` aborts. Returns how many rows were deleted.
 */
export async function pruneHistory(
  repository: Pick<Repository, "pruneHistoryBatch">,
  beforeIso: string,
  batchSize = PRUNE_BATCH_SIZE,
  signal?: AbortSignal,
): Promise<number> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Cannot prune in batches of ${batchSize}: expected an integer >= 1`);
  }
  let total = 0;
  while (signal?.aborted !== true) {
    const deleted = await repository.pruneHistoryBatch(beforeIso, batchSize);
    total += deleted;
    if (deleted < batchSize) break;
    // Lets the ingester's next write and waiting requests in between two deletes.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return total;
}
