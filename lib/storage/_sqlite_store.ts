/**
 * SQLite storage of the current snapshot and the price history (`node:sqlite`), synchronous:
 * `SqliteRepository` runs it behind the asynchronous `Repository` interface.
 *
 * The database runs in WAL mode so the server can read while an ingestion writes. The schema is
 * versioned with `PRAGMA user_version`; each migration runs in its own transaction.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import type { Snapshot } from "../wire/coin.ts";
import {
  type HistorySeries,
  PRUNE_BATCH_SIZE,
  RepositoryError,
  type StoredCandle,
  type StoredDirectory,
  type StoredRates,
  type TrackedCoin,
} from "./repository.ts";
import { type CandleBucketRow, candlesOf, candleStep } from "./_candles.ts";
import {
  type Bucket,
  bucketOf,
  checkBatchSize,
  checkMaxPoints,
  checkSnapshotCoins,
  historyWindow,
  pruneCutoffs,
  ROLLUP_LEVELS,
  seriesPoints,
} from "./_history.ts";
import { type CoinRow, type RateRow, ratesFromRows, snapshotFromRows } from "./_rows.ts";
import { LONG_TAIL_MIGRATION, SqliteLongTail } from "./_sqlite_long_tail.ts";

/** Options of {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** How long to wait for a lock held by another connection; defaults to 5000 ms. */
  busyTimeoutMs?: number;
}

/** Schema migrations; migration `i` brings the database to `user_version = i + 1`. Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE coins (
     symbol TEXT PRIMARY KEY NOT NULL,
     name TEXT NOT NULL,
     rank INTEGER NOT NULL,
     price REAL NOT NULL CHECK (price >= 0),
     price_text TEXT NOT NULL,
     market_cap REAL,
     market_cap_text TEXT,
     change_24h REAL,
     updated_at TEXT,
     fetched_at TEXT NOT NULL,
     source TEXT NOT NULL
   ) STRICT;
   CREATE TABLE price_history (
     id INTEGER PRIMARY KEY,
     symbol TEXT NOT NULL,
     price REAL NOT NULL CHECK (price >= 0),
     price_text TEXT NOT NULL,
     market_cap REAL,
     fetched_at TEXT NOT NULL
   ) STRICT;
   CREATE INDEX price_history_symbol_time ON price_history (symbol, fetched_at);
   CREATE INDEX price_history_time ON price_history (fetched_at);`,
  `CREATE TABLE exchange_rates (
     code TEXT PRIMARY KEY NOT NULL,
     name TEXT NOT NULL,
     unit TEXT NOT NULL,
     value REAL NOT NULL CHECK (value > 0),
     type TEXT NOT NULL,
     fetched_at TEXT NOT NULL
   ) STRICT;`,
  // History by resolution (see _history.ts): the step-second bucket starting at `bucket` (seconds
  // since the epoch) holds `n` prices from `low` to `high`, the first one `first_price` at
  // `first_at`, the last one `price` at `last_at`. Filled from the exact prices already stored.
  `CREATE TABLE price_rollup (
     symbol TEXT NOT NULL,
     step INTEGER NOT NULL,
     bucket INTEGER NOT NULL,
     first_at TEXT NOT NULL,
     first_price REAL NOT NULL,
     last_at TEXT NOT NULL,
     price REAL NOT NULL,
     n INTEGER NOT NULL,
     low REAL NOT NULL,
     high REAL NOT NULL,
     PRIMARY KEY (symbol, step, bucket)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX price_rollup_time ON price_rollup (step, last_at);
   ${
    ROLLUP_LEVELS.map(({ step, keepMs }) =>
      `INSERT INTO price_rollup
         (symbol, step, bucket, first_at, first_price, last_at, price, n, low, high)
       SELECT symbol, ${step}, bucket, first_at,
              (SELECT h.price FROM price_history h
               WHERE h.symbol = g.symbol AND h.fetched_at = g.first_at ORDER BY h.id LIMIT 1),
              last_at,
              (SELECT h.price FROM price_history h
               WHERE h.symbol = g.symbol AND h.fetched_at = g.last_at ORDER BY h.id DESC LIMIT 1),
              n, low, high
       FROM (SELECT symbol, (unixepoch(fetched_at) / ${step}) * ${step} AS bucket,
                    MIN(fetched_at) AS first_at, MAX(fetched_at) AS last_at, COUNT(*) AS n,
                    MIN(price) AS low, MAX(price) AS high
             FROM price_history ${
        // A finer resolution only for the prices it keeps: the last 2 h, 25 h or 8 days.
        Number.isFinite(keepMs)
          ? `WHERE fetched_at >= strftime('%Y-%m-%dT%H:%M:%fZ',
               (SELECT unixepoch(MAX(fetched_at)) FROM price_history) - ${keepMs / 1000},
               'unixepoch')`
          : ""}
             GROUP BY symbol, bucket) g;`
    ).join("\n")
  }`,
  LONG_TAIL_MIGRATION,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The current snapshot and the price history, in one SQLite file. */
export class SqliteStore implements Disposable {
  readonly #db: DatabaseSync;
  readonly #insertCoin: StatementSync;
  readonly #insertHistory: StatementSync;
  readonly #upsertRollup: StatementSync;
  readonly #selectCoins: StatementSync;
  readonly #selectLatest: StatementSync;
  readonly #pruneRaw: StatementSync;
  readonly #pruneRollup: StatementSync;
  readonly #seriesPoints: StatementSync;
  readonly #seriesStats: StatementSync;
  readonly #candleBuckets: StatementSync;
  readonly #insertRate: StatementSync;
  readonly #selectRates: StatementSync;
  readonly #longTail: SqliteLongTail;
  #open = true;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insertCoin = db.prepare(
      `INSERT INTO coins (symbol, name, rank, price, price_text, market_cap, market_cap_text,
         change_24h, updated_at, fetched_at, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertHistory = db.prepare(
      `INSERT INTO price_history (symbol, price, price_text, market_cap, fetched_at)
       VALUES (?, ?, ?, ?, ?)`,
    );
    this.#selectCoins = db.prepare("SELECT * FROM coins ORDER BY rank, symbol");
    this.#selectLatest = db.prepare("SELECT fetched_at FROM coins LIMIT 1");
    this.#pruneRaw = db.prepare(
      `DELETE FROM price_history WHERE id IN
         (SELECT id FROM price_history WHERE fetched_at < ? LIMIT ?)`,
    );
    this.#pruneRollup = db.prepare(
      `DELETE FROM price_rollup WHERE (symbol, step, bucket) IN
         (SELECT symbol, step, bucket FROM price_rollup WHERE step = ? AND last_at < ? LIMIT ?)`,
    );
    // Unqualified columns are the stored row's: a price arriving out of order (an older
    // fetched_at) counts, but becomes the first or last price only if it is.
    this.#upsertRollup = db.prepare(
      `INSERT INTO price_rollup
         (symbol, step, bucket, first_at, first_price, last_at, price, n, low, high)
       VALUES (:symbol, :step, :bucket, :at, :price, :at, :price, 1, :price, :price)
       ON CONFLICT (symbol, step, bucket) DO UPDATE SET
         n = n + 1, low = MIN(low, excluded.low), high = MAX(high, excluded.high),
         first_price = CASE WHEN excluded.first_at < first_at
                       THEN excluded.first_price ELSE first_price END,
         first_at = MIN(first_at, excluded.first_at),
         price = CASE WHEN excluded.last_at >= last_at THEN excluded.price ELSE price END,
         last_at = MAX(last_at, excluded.last_at)`,
    );
    // Picks, in SQLite, the first bucket of each of `max` equal slices of the window (the last
    // one always ends the last slice), so a window never becomes thousands of JavaScript objects.
    // Parameters are cast: a JavaScript number binds as REAL, and the slicing needs integer division.
    const window = `FROM price_rollup
       WHERE symbol = :symbol AND step = :step AND bucket > :after AND last_at >= :since`;
    this.#seriesPoints = db.prepare(
      `WITH h AS (
         SELECT first_at, first_price, last_at, price,
                ROW_NUMBER() OVER (ORDER BY bucket) - 1 AS i, COUNT(*) OVER () AS n
         ${window})
       SELECT first_at, first_price, last_at, price, i, n FROM h
       WHERE n <= CAST(:max AS INTEGER) OR i = 0
          OR (i * (CAST(:max AS INTEGER) - 1)) / (n - 1) > ((i - 1) * (CAST(:max AS INTEGER) - 1)) / (n - 1)
       ORDER BY i`,
    );
    this.#seriesStats = db.prepare(
      `SELECT TOTAL(n) AS count, MIN(low) AS min, MAX(high) AS max ${window}`,
    );
    this.#candleBuckets = db.prepare(
      `SELECT bucket, first_price, price, low, high, n FROM price_rollup
       WHERE symbol = ? AND step = ? AND bucket >= ? ORDER BY bucket`,
    );
    this.#insertRate = db.prepare(
      `INSERT INTO exchange_rates (code, name, unit, value, type, fetched_at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#selectRates = db.prepare("SELECT * FROM exchange_rates ORDER BY rowid");
    this.#longTail = new SqliteLongTail(db);
  }

  /**
   * Opens (or creates) the database at `path` and migrates it; `":memory:"` gives a private one.
   *
   * @throws {RepositoryError} when the database was written by a newer schema version.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const { busyTimeoutMs = 5000 } = options;
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
      db.exec("PRAGMA journal_mode = WAL");
      // In WAL mode NORMAL is crash-safe; a power loss may only lose the latest transactions.
      db.exec("PRAGMA synchronous = NORMAL");
      migrate(db, path);
      return new SqliteStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * Replaces the current snapshot, appends its coins to the history and (when given) replaces the
   * exchange rates, atomically.
   */
  saveSnapshot(snapshot: Snapshot, rates: StoredRates | null = null): void {
    checkSnapshotCoins(snapshot.coins.length);
    this.#transaction(() => {
      this.#db.exec("DELETE FROM coins");
      const { fetchedAt, source } = snapshot;
      for (const c of snapshot.coins) {
        this.#insertCoin.run(
          c.symbol,
          c.name,
          c.rank,
          c.price,
          c.priceText,
          c.marketCap,
          c.marketCapText,
          c.change24h,
          c.updatedAt,
          fetchedAt,
          source,
        );
        this.#insertHistory.run(c.symbol, c.price, c.priceText, c.marketCap, fetchedAt);
        for (const { step } of ROLLUP_LEVELS) {
          this.#upsertRollup.run({
            symbol: c.symbol,
            step,
            bucket: bucketOf(fetchedAt, step),
            at: fetchedAt,
            price: c.price,
          });
        }
      }
      if (rates !== null) {
        if (rates.rates.size === 0) throw new RangeError("Cannot save empty exchange rates");
        this.#db.exec("DELETE FROM exchange_rates");
        for (const [code, r] of rates.rates) {
          this.#insertRate.run(code, r.name, r.unit, r.value, r.type, rates.fetchedAt);
        }
      }
    });
  }

  /** When the current snapshot was fetched, or `null` when nothing was saved yet. */
  latestSnapshotTime(): string | null {
    const row = this.#selectLatest.get() as { fetched_at: string } | undefined;
    return row?.fetched_at ?? null;
  }

  /** The current snapshot in rank order, or `null` when nothing was saved yet. */
  loadSnapshot(): Snapshot | null {
    return snapshotFromRows(this.#selectCoins.all() as unknown as CoinRow[]);
  }

  /**
   * The history of `symbol` since `sinceIso`, thinned evenly to at most `maxPoints` points, with
   * the number of prices, the minimum and the maximum over the window.
   */
  historySeries(symbol: string, sinceIso: string, maxPoints = 200): HistorySeries {
    checkMaxPoints(maxPoints);
    const latest = this.latestSnapshotTime();
    if (latest === null) return { points: [], count: 0, min: null, max: null };
    const { step, afterBucket } = historyWindow(latest, sinceIso);
    const params = { symbol: symbol.toUpperCase(), step, after: afterBucket, since: sinceIso };
    const stats = this.#seriesStats.get(params) as { count: number; min: number; max: number };
    const rows = this.#seriesPoints.all({ ...params, max: maxPoints }) as unknown as Bucket[];
    return {
      points: seriesPoints(rows),
      count: Number(stats.count),
      min: stats.min,
      max: stats.max,
    };
  }

  /** The candles of `symbol` from `fromSeconds` on (see `Repository.candles`). */
  candles(symbol: string, intervalSeconds: number, fromSeconds: number): StoredCandle[] {
    const latest = this.latestSnapshotTime();
    if (latest === null) return [];
    const step = candleStep(intervalSeconds, fromSeconds, latest);
    const rows = this.#candleBuckets.all(symbol.toUpperCase(), step, fromSeconds);
    return candlesOf(rows as unknown as CandleBucketRow[], intervalSeconds);
  }

  /**
   * Deletes at most `batchSize` rows older than the retention (`beforeIso`) or than their
   * resolution is kept; returns how many.
   */
  pruneHistoryBatch(beforeIso: string, batchSize = PRUNE_BATCH_SIZE): number {
    checkBatchSize(batchSize);
    const { raw, byStep } = pruneCutoffs(this.latestSnapshotTime(), beforeIso);
    let deleted = 0;
    this.#transaction(() => {
      deleted += Number(this.#pruneRaw.run(raw, batchSize).changes);
      for (const [step, cutoff] of byStep) {
        if (deleted >= batchSize) break;
        deleted += Number(this.#pruneRollup.run(step, cutoff, batchSize - deleted).changes);
      }
    });
    return deleted;
  }

  /** The stored exchange rates and when they were fetched, or null when none were saved. */
  loadRates(): StoredRates | null {
    return ratesFromRows(this.#selectRates.all() as unknown as RateRow[]);
  }

  /** The database's size in bytes (pages in use, WAL not included). */
  sizeBytes(): number {
    const pages = this.#db.prepare("PRAGMA page_count").get() as { page_count: number };
    const size = this.#db.prepare("PRAGMA page_size").get() as { page_size: number };
    return Number(pages.page_count) * Number(size.page_size);
  }

  /** Replaces a provider's coin directory, in one transaction. */
  saveDirectory(directory: StoredDirectory): void {
    this.#transaction(() => this.#longTail.saveDirectory(directory));
  }

  /** A provider's stored coin directory, or null. */
  loadDirectory(provider: string, newerThan?: string): StoredDirectory | null {
    return this.#longTail.loadDirectory(provider, newerThan);
  }

  /** Stores coins fetched on demand. */
  saveTracked(coins: readonly TrackedCoin[]): void {
    this.#transaction(() => this.#longTail.saveTracked(coins));
  }

  /** Every coin fetched on demand and not dropped. */
  loadTracked(): TrackedCoin[] {
    return this.#longTail.loadTracked();
  }

  /** Forgets coins fetched on demand. */
  dropTracked(ids: readonly string[]): void {
    this.#transaction(() => this.#longTail.dropTracked(ids));
  }

  /** Records ids wished for by a replica. */
  wishCoins(ids: readonly string[]): void {
    this.#transaction(() => this.#longTail.wishCoins(ids, new Date().toISOString()));
  }

  /** The ids wished for, forgotten. */
  takeWishes(): string[] {
    let ids: string[] = [];
    this.#transaction(() => ids = this.#longTail.takeWishes());
    return ids;
  }

  /** Closes the database; later calls do nothing. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #transaction(body: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      body();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

function userVersion(db: DatabaseSync): number {
  return Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
}

function migrate(db: DatabaseSync, path: string): void {
  for (;;) {
    // Checked inside the write lock so two processes opening a fresh file do not both migrate.
    db.exec("BEGIN IMMEDIATE");
    try {
      const version = userVersion(db);
      if (version > SCHEMA_VERSION) {
        throw new RepositoryError(
          `Cannot open ${path}: its schema version ${version} is newer than the ${SCHEMA_VERSION} ` +
            `this program knows; use a newer program or another database file`,
        );
      }
      if (version === SCHEMA_VERSION) {
        db.exec("COMMIT");
        return;
      }
      db.exec(MIGRATIONS[version]);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
}
