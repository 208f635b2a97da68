/**
 * Long price histories for tests and measurements, written with SQL so that millions of rows
 * take seconds.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/**
 * Writes a SQLite file as the previous version (schema 2, every price kept) left it: `count` BTC
 * prices, one every `stepSeconds`, the last at `endSec` (seconds since the epoch), cycling from
 * 20000 to 20999; the current snapshot is the last of them.
 */
export function seedPreviousVersion(
  path: string,
  count: number,
  stepSeconds: number,
  endSec: number,
) {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA journal_mode = WAL;
      CREATE TABLE coins (symbol TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
        rank INTEGER NOT NULL, price REAL NOT NULL CHECK (price >= 0), price_text TEXT NOT NULL,
        market_cap REAL, market_cap_text TEXT, change_24h REAL, updated_at TEXT,
        fetched_at TEXT NOT NULL, source TEXT NOT NULL) STRICT;
      CREATE TABLE price_history (id INTEGER PRIMARY KEY, symbol TEXT NOT NULL,
        price REAL NOT NULL CHECK (price >= 0), price_text TEXT NOT NULL, market_cap REAL,
        fetched_at TEXT NOT NULL) STRICT;
      CREATE TABLE exchange_rates (code TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
        unit TEXT NOT NULL, value REAL NOT NULL CHECK (value > 0), type TEXT NOT NULL,
        fetched_at TEXT NOT NULL) STRICT;
      BEGIN;
      WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${count - 1})
      INSERT INTO price_history (symbol, price, price_text, market_cap, fetched_at)
      SELECT 'BTC', 20000 + i % 1000, CAST(20000 + i % 1000 AS TEXT), NULL,
             strftime('%Y-%m-%dT%H:%M:%fZ', ${endSec} - (${count - 1} - i) * ${stepSeconds},
                      'unixepoch')
      FROM s;
      INSERT INTO coins SELECT 'BTC', 'Bitcoin', 1, price, price_text, NULL, NULL, NULL, NULL,
        fetched_at, 'coingecko' FROM price_history ORDER BY id DESC LIMIT 1;
      COMMIT;
      CREATE INDEX price_history_symbol_time ON price_history (symbol, fetched_at);
      CREATE INDEX price_history_time ON price_history (fetched_at);
      PRAGMA user_version = 2;`);
  } finally {
    db.close();
  }
}
