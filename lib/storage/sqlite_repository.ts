/**
 * The {@linkcode Repository} on an embedded SQLite file (`node:sqlite`), the default engine.
 *
 * `node:sqlite` is synchronous, so every statement runs in a worker: one connection writes
 * (saves and prunes) and another reads (snapshot, rates, history), each in its own worker. A
 * write waiting on a lock held by another process (up to the busy timeout) then stalls neither
 * the server's event loop nor the reads, which WAL mode lets go on meanwhile.
 *
 * @module
 */

import type { Snapshot } from "../wire/coin.ts";
import {
  type HistorySeries,
  PRUNE_BATCH_SIZE,
  type Repository,
  RepositoryError,
  type SaveOptions,
  type StoredCandle,
  type StoredDirectory,
  type StoredRates,
  type TrackedCoin,
} from "./repository.ts";
import type { SqliteStoreOptions } from "./_sqlite_store.ts";
import type { StoreCall, StoreReply } from "./_sqlite_protocol.ts";

export { SCHEMA_VERSION } from "./_sqlite_store.ts";

/** Options of {@linkcode SqliteRepository.open}. */
export type SqliteRepositoryOptions = SqliteStoreOptions;

/** Distributes `Omit` over a union, so each call keeps its own arguments. */
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** One SQLite connection in its own worker. */
class StoreWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #nextId = 0;
  #broken: Error | null = null;

  constructor() {
    this.#worker = new Worker(new URL("./_sqlite_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<StoreReply>) => {
      const reply = event.data;
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(rebuildError(reply.name, reply.message));
    };
    this.#worker.onerror = (event) => {
      // A crashed worker fails its calls; it must not take the server down with it.
      event.preventDefault();
      this.#broken = new RepositoryError(`The SQLite worker failed: ${event.message}`);
      for (const pending of this.#pending.values()) pending.reject(this.#broken);
      this.#pending.clear();
    };
  }

  call<T>(call: WithoutId<StoreCall>): Promise<T> {
    if (this.#broken !== null) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    this.#worker.postMessage({ ...call, id });
    return promise;
  }

  /** Closes the connection (after the calls already posted) and ends the worker. */
  async close(): Promise<void> {
    try {
      await this.call({ method: "close", args: [] });
    } finally {
      this.#worker.terminate();
    }
  }
}

/** The error a worker reported, as the same class where it is one of ours. */
function rebuildError(name: string, message: string): Error {
  switch (name) {
    case "RepositoryError":
      return new RepositoryError(message);
    case "RangeError":
      return new RangeError(message);
    case "TypeError":
      return new TypeError(message);
    default: {
      const error = new Error(message);
      error.name = name;
      return error;
    }
  }
}

/** The current snapshot, the exchange rates and the price history, in one SQLite file. */
export class SqliteRepository implements Repository {
  readonly engine = "sqlite";
  readonly description: string;
  readonly #writer: StoreWorker;
  readonly #reader: StoreWorker;
  #closing: Promise<void> | null = null;

  private constructor(path: string, writer: StoreWorker, reader: StoreWorker) {
    this.description = path;
    this.#writer = writer;
    this.#reader = reader;
  }

  /**
   * Opens (or creates) the database at `path` and migrates it; `":memory:"` gives a private one
   * (then a single connection both writes and reads).
   *
   * @throws {RepositoryError} when the database was written by a newer schema version.
   */
  static async open(
    path: string,
    options: SqliteRepositoryOptions = {},
  ): Promise<SqliteRepository> {
    const writer = new StoreWorker();
    const workers = [writer];
    try {
      // The writer migrates first, so the reader opens an up-to-date schema.
      await writer.call({ method: "open", args: [path, options] });
      let reader = writer;
      if (path !== ":memory:") {
        reader = new StoreWorker();
        workers.push(reader);
        await reader.call({ method: "open", args: [path, options] });
      }
      return new SqliteRepository(path, writer, reader);
    } catch (error) {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      throw error;
    }
  }

  saveSnapshot(snapshot: Snapshot, options: SaveOptions = {}): Promise<void> {
    if (options.session !== undefined && options.session.engine !== this.engine) {
      return Promise.reject(
        new TypeError(
          `Cannot write through a ${options.session.engine} session: expected a sqlite one`,
        ),
      );
    }
    return this.#use(this.#writer, {
      method: "saveSnapshot",
      args: [snapshot, options.rates ?? null],
    });
  }

  loadSnapshot(): Promise<Snapshot | null> {
    return this.#use(this.#reader, { method: "loadSnapshot", args: [] });
  }

  latestSnapshotTime(): Promise<string | null> {
    return this.#use(this.#reader, { method: "latestSnapshotTime", args: [] });
  }

  loadRates(): Promise<StoredRates | null> {
    return this.#use(this.#reader, { method: "loadRates", args: [] });
  }

  historySeries(symbol: string, sinceIso: string, maxPoints = 200): Promise<HistorySeries> {
    return this.#use(this.#reader, {
      method: "historySeries",
      args: [symbol, sinceIso, maxPoints],
    });
  }

  candles(symbol: string, intervalSeconds: number, fromSeconds: number): Promise<StoredCandle[]> {
    return this.#use(this.#reader, {
      method: "candles",
      args: [symbol, intervalSeconds, fromSeconds],
    });
  }

  pruneHistoryBatch(beforeIso: string, batchSize = PRUNE_BATCH_SIZE): Promise<number> {
    return this.#use(this.#writer, { method: "pruneHistoryBatch", args: [beforeIso, batchSize] });
  }

  sizeBytes(): Promise<number | null> {
    return this.#use(this.#reader, { method: "sizeBytes", args: [] });
  }

  saveDirectory(directory: StoredDirectory): Promise<void> {
    return this.#use(this.#writer, { method: "saveDirectory", args: [directory] });
  }

  loadDirectory(provider: string, newerThan?: string): Promise<StoredDirectory | null> {
    return this.#use(this.#reader, { method: "loadDirectory", args: [provider, newerThan] });
  }

  saveTracked(coins: readonly TrackedCoin[]): Promise<void> {
    return this.#use(this.#writer, { method: "saveTracked", args: [coins] });
  }

  loadTracked(): Promise<TrackedCoin[]> {
    return this.#use(this.#reader, { method: "loadTracked", args: [] });
  }

  dropTracked(ids: readonly string[]): Promise<void> {
    return this.#use(this.#writer, { method: "dropTracked", args: [ids] });
  }

  wishCoins(ids: readonly string[]): Promise<void> {
    return this.#use(this.#writer, { method: "wishCoins", args: [ids] });
  }

  takeWishes(): Promise<string[]> {
    return this.#use(this.#writer, { method: "takeWishes", args: [] });
  }

  /** Closes both connections once the calls already made have finished. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      const workers = this.#reader === this.#writer ? [this.#writer] : [this.#writer, this.#reader];
      const results = await Promise.allSettled(workers.map((worker) => worker.close()));
      const failed = results.find((r) => r.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #use<T>(worker: StoreWorker, call: WithoutId<StoreCall>): Promise<T> {
    if (this.#closing !== null) {
      return Promise.reject(
        new RepositoryError(`Cannot use ${this.description}: the repository is closed`),
      );
    }
    return worker.call<T>(call);
  }
}
