/**
 * A repository that is opened later: a replica starts serving before PostgreSQL answers, and
 * opens (and migrates) the database once it does.
 *
 * @module
 */

import type {
  HistorySeries,
  Repository,
  SaveOptions,
  StoredCandle,
  StoredDirectory,
  StoredRates,
  TrackedCoin,
} from "../storage/repository.ts";
import type { Snapshot } from "../wire/coin.ts";

/** The database was not reachable yet since this process started. */
export class NotConnectedError extends Error {
  override name = "NotConnectedError";
}

/**
 * A {@linkcode Repository} whose engine is opened by {@linkcode DeferredRepository.ready}, retried
 * by the caller until it succeeds; until then every read and write rejects at once with
 * {@linkcode NotConnectedError}, so callers keep serving from memory.
 */
export class DeferredRepository implements Repository {
  readonly engine: string;
  readonly description: string;
  readonly #open: () => Promise<Repository>;
  #repository: Repository | null = null;
  #opening: Promise<Repository> | null = null;
  #closed = false;

  /**
   * @param open opens and migrates the database; called again after a failure
   * @param description where the database is, for messages (never a password)
   */
  constructor(open: () => Promise<Repository>, description: string) {
    this.#open = open;
    this.engine = "postgres";
    this.description = description;
  }

  /** Opens the database unless it is open; rejects when it cannot be opened now. */
  async ready(): Promise<Repository> {
    if (this.#closed) throw new NotConnectedError(`Cannot open ${this.description}: closed`);
    if (this.#repository !== null) return this.#repository;
    this.#opening ??= this.#open().finally(() => this.#opening = null);
    const repository = await this.#opening;
    if (this.#closed) {
      await repository.close();
      throw new NotConnectedError(`Cannot open ${this.description}: closed`);
    }
    return this.#repository ??= repository;
  }

  #opened(): Repository {
    if (this.#repository === null) {
      throw new NotConnectedError(`Database ${this.description} not reachable yet`);
    }
    return this.#repository;
  }

  saveSnapshot(snapshot: Snapshot, options?: SaveOptions): Promise<void> {
    return this.#call((r) => r.saveSnapshot(snapshot, options));
  }

  loadSnapshot(): Promise<Snapshot | null> {
    return this.#call((r) => r.loadSnapshot());
  }

  latestSnapshotTime(): Promise<string | null> {
    return this.#call((r) => r.latestSnapshotTime());
  }

  loadRates(): Promise<StoredRates | null> {
    return this.#call((r) => r.loadRates());
  }

  historySeries(symbol: string, sinceIso: string, maxPoints?: number): Promise<HistorySeries> {
    return this.#call((r) => r.historySeries(symbol, sinceIso, maxPoints));
  }

  candles(symbol: string, intervalSeconds: number, fromSeconds: number): Promise<StoredCandle[]> {
    return this.#call((r) => r.candles(symbol, intervalSeconds, fromSeconds));
  }

  pruneHistoryBatch(beforeIso: string, batchSize?: number): Promise<number> {
    return this.#call((r) => r.pruneHistoryBatch(beforeIso, batchSize));
  }

  sizeBytes(): Promise<number | null> {
    return this.#call((r) => r.sizeBytes());
  }

  saveDirectory(directory: StoredDirectory, options?: SaveOptions): Promise<void> {
    return this.#call((r) => r.saveDirectory(directory, options));
  }

  loadDirectory(provider: string, newerThan?: string): Promise<StoredDirectory | null> {
    return this.#call((r) => r.loadDirectory(provider, newerThan));
  }

  saveTracked(coins: readonly TrackedCoin[], options?: SaveOptions): Promise<void> {
    return this.#call((r) => r.saveTracked(coins, options));
  }

  loadTracked(): Promise<TrackedCoin[]> {
    return this.#call((r) => r.loadTracked());
  }

  dropTracked(ids: readonly string[], options?: SaveOptions): Promise<void> {
    return this.#call((r) => r.dropTracked(ids, options));
  }

  wishCoins(ids: readonly string[]): Promise<void> {
    return this.#call((r) => r.wishCoins(ids));
  }

  takeWishes(): Promise<string[]> {
    return this.#call((r) => r.takeWishes());
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => {});
    await this.#repository?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #call<T>(body: (repository: Repository) => Promise<T>): Promise<T> {
    try {
      return body(this.#opened());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
