/**
 * The long tail's tables on PostgreSQL (the coin directory, the coins fetched on demand and the
 * wishes of followers), used by `PostgresRepository`.
 *
 * @module
 */

import type postgres from "postgres";
import type { StoredDirectory, TrackedCoin } from "./repository.ts";
import { coinRow, trackedFromRow, type TrackedRow } from "./_rows.ts";

type Tx = postgres.TransactionSql;

/** The migration that adds the long tail's tables. */
export const LONG_TAIL_MIGRATION = `CREATE TABLE coin_directories (
     provider text PRIMARY KEY,
     fetched_at timestamptz NOT NULL
   );
   CREATE TABLE coin_directory (
     provider text NOT NULL,
     id text NOT NULL,
     symbol text NOT NULL,
     name text NOT NULL,
     PRIMARY KEY (provider, id)
   );
   CREATE TABLE tracked_coins (
     id text PRIMARY KEY,
     symbol text NOT NULL,
     name text NOT NULL,
     rank integer NOT NULL,
     price double precision NOT NULL CHECK (price >= 0),
     price_text text NOT NULL,
     market_cap double precision,
     market_cap_text text,
     change_24h double precision,
     updated_at text,
     fetched_at timestamptz NOT NULL,
     source text NOT NULL
   );
   CREATE TABLE coin_wishes (id text PRIMARY KEY, wished_at timestamptz NOT NULL);`;

/**
 * Rows per INSERT of the directory: 4 parameters a row stays far below PostgreSQL's 65,535
 * parameters per statement, and each statement is a short round trip.
 */
const DIRECTORY_BATCH = 2000;

/** Replaces a provider's directory, inside the caller's transaction, in batches. */
export async function writeDirectory(tx: Tx, directory: StoredDirectory): Promise<void> {
  const { provider, entries, fetchedAt } = directory;
  await tx`DELETE FROM coin_directory WHERE provider = ${provider}`;
  for (let i = 0; i < entries.length; i += DIRECTORY_BATCH) {
    const rows = entries.slice(i, i + DIRECTORY_BATCH).map((e) => ({
      provider,
      id: e.id,
      symbol: e.symbol,
      name: e.name,
    }));
    await tx`INSERT INTO coin_directory ${tx(rows)} ON CONFLICT (provider, id) DO UPDATE
      SET symbol = EXCLUDED.symbol, name = EXCLUDED.name`;
  }
  await tx`INSERT INTO coin_directories (provider, fetched_at) VALUES (${provider}, ${fetchedAt})
    ON CONFLICT (provider) DO UPDATE SET fetched_at = EXCLUDED.fetched_at`;
}

/** A provider's stored directory, or null. */
export async function readDirectory(
  sql: postgres.Sql,
  provider: string,
  newerThan?: string,
): Promise<StoredDirectory | null> {
  const [meta] = await sql<{ fetched_at: Date }[]>`
    SELECT fetched_at FROM coin_directories WHERE provider = ${provider}`;
  if (meta === undefined) return null;
  if (newerThan !== undefined && meta.fetched_at.getTime() <= Date.parse(newerThan)) return null;
  const entries = await sql<StoredDirectory["entries"]>`
    SELECT id, symbol, name FROM coin_directory WHERE provider = ${provider} ORDER BY id`;
  return { provider, entries: [...entries], fetchedAt: meta.fetched_at.toISOString() };
}

/** Stores coins fetched on demand, inside the caller's transaction. */
export async function writeTracked(tx: Tx, coins: readonly TrackedCoin[]): Promise<void> {
  if (coins.length === 0) return;
  const rows = coins.map(({ coin: c, fetchedAt, source }) => {
    if (c.id === undefined) throw new TypeError(`Cannot store ${c.symbol} without its id`);
    return { id: c.id, ...coinRow(c, fetchedAt, source) };
  });
  await tx`INSERT INTO tracked_coins ${tx(rows)} ON CONFLICT (id) DO UPDATE SET
    symbol = EXCLUDED.symbol, name = EXCLUDED.name, rank = EXCLUDED.rank, price = EXCLUDED.price,
    price_text = EXCLUDED.price_text, market_cap = EXCLUDED.market_cap,
    market_cap_text = EXCLUDED.market_cap_text, change_24h = EXCLUDED.change_24h,
    updated_at = EXCLUDED.updated_at, fetched_at = EXCLUDED.fetched_at, source = EXCLUDED.source`;
}

/** Every coin fetched on demand. */
export async function readTracked(sql: postgres.Sql): Promise<TrackedCoin[]> {
  const rows = await sql<TrackedRow[]>`SELECT * FROM tracked_coins ORDER BY id`;
  return rows.map(trackedFromRow);
}

/** Records ids wished for by a follower. */
export async function writeWishes(sql: postgres.Sql, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const rows = ids.map((id) => ({ id, wished_at: new Date() }));
  await sql`INSERT INTO coin_wishes ${sql(rows)} ON CONFLICT (id) DO NOTHING`;
}

/** The ids wished for, forgotten. */
export async function takeWishes(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`DELETE FROM coin_wishes RETURNING id`;
  return rows.map((row) => row.id).sort();
}
