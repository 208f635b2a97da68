/**
 * SQLite storage of the current snapshot and the price history (`node:sqlite`).
 *
 * The database runs in WAL mode so the server can read while an ingestion writes. The schema is
 * versioned with `PRAGMA user_version`; each migration runs in its own transaction.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import type { Coin, ExchangeRate, Snapshot } from "../wire/coin.ts";

/** A coin's history over a window, evenly thinned to at most a given number of points. */
export interface HistorySeries {
  /** `[fetchedAt, price]` pairs, oldest first; the first and last stored points always included. */
  points: [string, number][];
  /** How many points were stored in the window. */
  count: number;
  min: number | null;
  max: number | null;
}

/** The database cannot be used: e.g. it was written by a newer version of this program. */
export class RepositoryError extends Error {
  override name = "RepositoryError";
}

/** Options of {@linkcode Repository.open}. */
export interface RepositoryOptions {
  /** How long to wait for a lock held by another connection; defaults to 5000 ms. */
  busyTimeoutMs?: number;
}

/** One stored price of one coin. */
export interface HistoryPoint {
  fetchedAt: string;
  price: number;
  priceText: string;
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
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

interface CoinRow {
  symbol: string;
  name: string;
  rank: number;
  price: number;
  price_text: string;
  market_cap: number | null;
  market_cap_text: string | null;
  change_24h: number | null;
  updated_at: string | null;
  fetched_at: string;
  source: string;
}

/** The current snapshot and the price history, in one SQLite file. */
export class Repository implements Disposable {
  readonly #db: DatabaseSync;
  readonly #insertCoin: StatementSync;
  readonly #insertHistory: StatementSync;
  readonly #selectCoins: StatementSync;
  readonly #selectHistory: StatementSync;
  readonly #pruneBatch: StatementSync;
  readonly #seriesPoints: StatementSync;
  readonly #seriesStats: StatementSync;
  readonly #insertRate: StatementSync;
  readonly #selectRates: StatementSync;
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
    this.#selectHistory = db.prepare(
      `SELECT fetched_at, price, price_text FROM price_history
       WHERE symbol = ? AND fetched_at >= ? ORDER BY fetched_at, id`,
    );
    this.#pruneBatch = db.prepare(
      `DELETE FROM price_history WHERE id IN
         (SELECT id FROM price_history WHERE fetched_at < ? LIMIT ?)`,
    );
    // Picks, in SQLite, the first row of each of `max` equal slices of the window (the last row
    // always ends the last slice), so a 30-day window never becomes 40,000 JavaScript objects.
    // Parameters are cast: a JavaScript number binds as REAL, and the slicing needs integer division.
    this.#seriesPoints = db.prepare(
      `WITH h AS (
         SELECT fetched_at, price,
                ROW_NUMBER() OVER (ORDER BY fetched_at, id) - 1 AS i,
                COUNT(*) OVER () AS n
         FROM price_history WHERE symbol = :symbol AND fetched_at >= :since)
       SELECT fetched_at, price FROM h
       WHERE n <= CAST(:max AS INTEGER) OR i = 0
          OR (i * (CAST(:max AS INTEGER) - 1)) / (n - 1) > ((i - 1) * (CAST(:max AS INTEGER) - 1)) / (n - 1)
       ORDER BY i`,
    );
    this.#seriesStats = db.prepare(
      `SELECT COUNT(*) AS count, MIN(price) AS min, MAX(price) AS max
       FROM price_history WHERE symbol = ? AND fetched_at >= ?`,
    );
    this.#insertRate = db.prepare(
      `INSERT INTO exchange_rates (code, name, unit, value, type, fetched_at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#selectRates = db.prepare("SELECT * FROM exchange_rates ORDER BY rowid");
  }

  /**
   * Opens (or creates) the database at `path` and migrates it; `":memory:"` gives a private one.
   *
   * @throws {RepositoryError} when the database was written by a newer schema version.
   */
  static open(path: string, options: RepositoryOptions = {}): Repository {
    const { busyTimeoutMs = 5000 } = options;
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
      db.exec("PRAGMA journal_mode = WAL");
      // In WAL mode NORMAL is crash-safe; a power loss may only lose the latest transactions.
      db.exec("PRAGMA synchronous = NORMAL");
      migrate(db, path);
      return new Repository(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Replaces the current snapshot and appends its coins to the history, atomically. */
  saveSnapshot(snapshot: Snapshot): void {
    if (snapshot.coins.length === 0) {
      throw new RangeError("Cannot save a snapshot without coins: expected at least one coin");
    }
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
      }
    });
  }

  /** The current snapshot in rank order, or `null` when nothing was saved yet. */
  loadSnapshot(): Snapshot | null {
    const rows = this.#selectCoins.all() as unknown as CoinRow[];
    if (rows.length === 0) return null;
    const coins: Coin[] = rows.map((row) => ({
      symbol: row.symbol,
      name: row.name,
      rank: row.rank,
      price: row.price,
      priceText: row.price_text,
      marketCap: row.market_cap,
      marketCapText: row.market_cap_text,
      change24h: row.change_24h,
      updatedAt: row.updated_at,
    }));
    return { coins, fetchedAt: rows[0].fetched_at, source: rows[0].source };
  }

  /** The stored prices of `symbol` (case-insensitive) fetched at or after `sinceIso`, oldest first. */
  history(symbol: string, sinceIso: string): HistoryPoint[] {
    const rows = this.#selectHistory.all(symbol.toUpperCase(), sinceIso) as unknown as Array<
      { fetched_at: string; price: number; price_text: string }
    >;
    return rows.map((r) => ({ fetchedAt: r.fetched_at, price: r.price, priceText: r.price_text }));
  }

  /**
   * Deletes history fetched before `beforeIso`, `batchSize` rows per transaction so writers are
   * never blocked for long. Returns how many rows were deleted.
   */
  pruneHistory(beforeIso: string, batchSize = 500): number {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Cannot prune in batches of ${batchSize}: expected an integer >= 1`);
    }
    let total = 0;
    for (;;) {
      const deleted = Number(this.#pruneBatch.run(beforeIso, batchSize).changes);
      total += deleted;
      if (deleted < batchSize) return total;
    }
  }

  /**
   * The history of `symbol` since `sinceIso`, thinned evenly to at most `maxPoints` points, with
   * the minimum and maximum over every stored point.
   */
  historySeries(symbol: string, sinceIso: string, maxPoints = 200): HistorySeries {
    if (!Number.isInteger(maxPoints) || maxPoints < 2) {
      throw new RangeError(`Cannot thin history to ${maxPoints} points: expected an integer >= 2`);
    }
    const upper = symbol.toUpperCase();
    const stats = this.#seriesStats.get(upper, sinceIso) as unknown as {
      count: number;
      min: number | null;
      max: number | null;
    };
    const rows = this.#seriesPoints.all({
      symbol: upper,
      since: sinceIso,
      max: maxPoints,
    }) as unknown as {
      fetched_at: string;
      price: number;
    }[];
    return {
      points: rows.map((r) => [r.fetched_at, r.price]),
      count: Number(stats.count),
      min: stats.min,
      max: stats.max,
    };
  }

  /** Deletes at most `batchSize` history rows fetched before `beforeIso`; returns how many. */
  pruneHistoryBatch(beforeIso: string, batchSize = 500): number {
    return Number(this.#pruneBatch.run(beforeIso, batchSize).changes);
  }

  /** Replaces the stored exchange rates, keyed by the upstream's code, in one transaction. */
  saveRates(rates: ReadonlyMap<string, ExchangeRate>, fetchedAt: string): void {
    if (rates.size === 0) throw new RangeError("Cannot save empty exchange rates");
    this.#transaction(() => {
      this.#db.exec("DELETE FROM exchange_rates");
      for (const [code, r] of rates) {
        this.#insertRate.run(code, r.name, r.unit, r.value, r.type, fetchedAt);
      }
    });
  }

  /** The stored exchange rates and when they were fetched, or null when none were saved. */
  loadRates(): { rates: Map<string, ExchangeRate>; fetchedAt: string } | null {
    const rows = this.#selectRates.all() as unknown as {
      code: string;
      name: string;
      unit: string;
      value: number;
      type: string;
      fetched_at: string;
    }[];
    if (rows.length === 0) return null;
    const rates = new Map<string, ExchangeRate>();
    for (const r of rows) {
      rates.set(r.code, { name: r.name, unit: r.unit, value: r.value, type: r.type });
    }
    return { rates, fetchedAt: rows[0].fetched_at };
  }

  /** The database's size in bytes (pages in use, WAL not included). */
  sizeBytes(): number {
    const pages = this.#db.prepare("PRAGMA page_count").get() as { page_count: number };
    const size = this.#db.prepare("PRAGMA page_size").get() as { page_size: number };
    return Number(pages.page_count) * Number(size.page_size);
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
