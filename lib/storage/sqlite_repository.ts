/**
 * The {@linkcode Repository} on an embedded SQLite file (`node:sqlite`), the default engine.
 *
 * @module
 */

import type { Snapshot } from "../wire/coin.ts";
import type { HistorySeries, Repository, SaveOptions, StoredRates } from "./repository.ts";
import { SqliteStore, type SqliteStoreOptions } from "./_sqlite_store.ts";

export { SCHEMA_VERSION } from "./_sqlite_store.ts";

/** Options of {@linkcode SqliteRepository.open}. */
export type SqliteRepositoryOptions = SqliteStoreOptions;

/** The current snapshot, the exchange rates and the price history, in one SQLite file. */
export class SqliteRepository implements Repository {
  readonly engine = "sqlite";
  readonly description: string;
  readonly #store: SqliteStore;

  private constructor(path: string, store: SqliteStore) {
    this.description = path;
    this.#store = store;
  }

  /**
   * Opens (or creates) the database at `path` and migrates it; `":memory:"` gives a private one.
   *
   * @throws {RepositoryError} when the database was written by a newer schema version.
   */
  static open(path: string, options: SqliteRepositoryOptions = {}): Promise<SqliteRepository> {
    return Promise.resolve().then(() =>
      new SqliteRepository(path, SqliteStore.open(path, options))
    );
  }

  saveSnapshot(snapshot: Snapshot, options: SaveOptions = {}): Promise<void> {
    return this.#call(() => {
      if (options.session !== undefined && options.session.engine !== this.engine) {
        throw new TypeError(
          `Cannot write through a ${options.session.engine} session: expected a sqlite one`,
        );
      }
      this.#store.saveSnapshot(snapshot, options.rates ?? null);
    });
  }

  loadSnapshot(): Promise<Snapshot | null> {
    return this.#call(() => this.#store.loadSnapshot());
  }

  latestSnapshotTime(): Promise<string | null> {
    return this.#call(() => this.#store.latestSnapshotTime());
  }

  loadRates(): Promise<StoredRates | null> {
    return this.#call(() => this.#store.loadRates());
  }

  historySeries(symbol: string, sinceIso: string, maxPoints = 200): Promise<HistorySeries> {
    return this.#call(() => this.#store.historySeries(symbol, sinceIso, maxPoints));
  }

  pruneHistoryBatch(beforeIso: string, batchSize = 500): Promise<number> {
    return this.#call(() => this.#store.pruneHistoryBatch(beforeIso, batchSize));
  }

  sizeBytes(): Promise<number | null> {
    return this.#call(() => this.#store.sizeBytes());
  }

  close(): Promise<void> {
    return this.#call(() => this.#store.close());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #call<T>(body: () => T): Promise<T> {
    return Promise.resolve().then(body);
  }
}
