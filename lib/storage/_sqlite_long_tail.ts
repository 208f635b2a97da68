/**
 * The long tail's tables on SQLite (the coin directory, the coins fetched on demand and the
 * wishes of replicas), used by `SqliteStore` in its worker thread.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { StoredDirectory, TrackedCoin } from "./repository.ts";
import { coinRow, trackedFromRow, type TrackedRow } from "./_rows.ts";

/** The migration that adds the long tail's tables (shared text with PostgreSQL where it can). */
export const LONG_TAIL_MIGRATION = `CREATE TABLE coin_directories (
     provider TEXT PRIMARY KEY NOT NULL,
     fetched_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE coin_directory (
     provider TEXT NOT NULL,
     id TEXT NOT NULL,
     symbol TEXT NOT NULL,
     name TEXT NOT NULL,
     PRIMARY KEY (provider, id)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE tracked_coins (
     id TEXT PRIMARY KEY NOT NULL,
     symbol TEXT NOT NULL,
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
   CREATE TABLE coin_wishes (id TEXT PRIMARY KEY NOT NULL, wished_at TEXT NOT NULL) STRICT;`;

/** Prepared statements of the long tail's tables on one connection. */
export class SqliteLongTail {
  readonly #db: DatabaseSync;
  readonly #insertEntry: StatementSync;
  readonly #upsertTracked: StatementSync;
  readonly #insertWish: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insertEntry = db.prepare(
      "INSERT OR REPLACE INTO coin_directory (provider, id, symbol, name) VALUES (?, ?, ?, ?)",
    );
    this.#upsertTracked = db.prepare(
      `INSERT OR REPLACE INTO tracked_coins (id, symbol, name, rank, price, price_text, market_cap,
         market_cap_text, change_24h, updated_at, fetched_at, source)
       VALUES (:id, :symbol, :name, :rank, :price, :price_text, :market_cap, :market_cap_text,
         :change_24h, :updated_at, :fetched_at, :source)`,
    );
    this.#insertWish = db.prepare(
      "INSERT OR IGNORE INTO coin_wishes (id, wished_at) VALUES (?, ?)",
    );
  }

  /** Replaces a provider's directory; the caller holds the transaction. */
  saveDirectory(directory: StoredDirectory): void {
    const { provider, entries, fetchedAt } = directory;
    this.#db.prepare("DELETE FROM coin_directory WHERE provider = ?").run(provider);
    for (const e of entries) this.#insertEntry.run(provider, e.id, e.symbol, e.name);
    this.#db.prepare("INSERT OR REPLACE INTO coin_directories VALUES (?, ?)").run(
      provider,
      fetchedAt,
    );
  }

  loadDirectory(provider: string, newerThan?: string): StoredDirectory | null {
    const meta = this.#db.prepare("SELECT fetched_at FROM coin_directories WHERE provider = ?")
      .get(provider) as { fetched_at: string } | undefined;
    if (meta === undefined) return null;
    if (newerThan !== undefined && Date.parse(meta.fetched_at) <= Date.parse(newerThan)) {
      return null;
    }
    const entries = this.#db.prepare(
      "SELECT id, symbol, name FROM coin_directory WHERE provider = ? ORDER BY id",
    ).all(provider) as unknown as StoredDirectory["entries"];
    return { provider, entries, fetchedAt: meta.fetched_at };
  }

  /** Stores coins fetched on demand; the caller holds the transaction. */
  saveTracked(coins: readonly TrackedCoin[]): void {
    for (const { coin: c, fetchedAt, source } of coins) {
      if (c.id === undefined) throw new TypeError(`Cannot store ${c.symbol} without its id`);
      this.#upsertTracked.run({ id: c.id, ...coinRow(c, fetchedAt, source) });
    }
  }

  loadTracked(): TrackedCoin[] {
    const rows = this.#db.prepare("SELECT * FROM tracked_coins ORDER BY id").all();
    return (rows as unknown as TrackedRow[]).map(trackedFromRow);
  }

  dropTracked(ids: readonly string[]): void {
    const drop = this.#db.prepare("DELETE FROM tracked_coins WHERE id = ?");
    for (const id of ids) drop.run(id);
  }

  wishCoins(ids: readonly string[], now: string): void {
    for (const id of ids) this.#insertWish.run(id, now);
  }

  takeWishes(): string[] {
    const rows = this.#db.prepare("DELETE FROM coin_wishes RETURNING id").all() as {
      id: string;
    }[];
    return rows.map((row) => row.id).sort();
  }
}
