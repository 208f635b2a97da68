/**
 * The PostgreSQL schema: its versioned migrations and the migration itself.
 *
 * @module
 */

import type postgres from "postgres";
import { RepositoryError } from "./repository.ts";
import { ROLLUP_LEVELS } from "./_history.ts";
import { LONG_TAIL_MIGRATION } from "./_postgres_long_tail.ts";

/** Schema migrations; migration `i` brings `schema_version` to `i + 1`. Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE coins (
     symbol text PRIMARY KEY,
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
   CREATE TABLE price_history (
     id bigserial PRIMARY KEY,
     symbol text NOT NULL,
     price double precision NOT NULL CHECK (price >= 0),
     price_text text NOT NULL,
     market_cap double precision,
     fetched_at timestamptz NOT NULL
   );
   CREATE INDEX price_history_symbol_time ON price_history (symbol, fetched_at);
   CREATE INDEX price_history_time ON price_history (fetched_at);`,
  `CREATE TABLE exchange_rates (
     code text PRIMARY KEY,
     position integer NOT NULL,
     name text NOT NULL,
     unit text NOT NULL,
     value double precision NOT NULL CHECK (value > 0),
     type text NOT NULL,
     fetched_at timestamptz NOT NULL
   );`,
  `CREATE TABLE price_rollup (
     symbol text NOT NULL,
     step integer NOT NULL,
     bucket bigint NOT NULL,
     first_at timestamptz NOT NULL,
     first_price double precision NOT NULL,
     last_at timestamptz NOT NULL,
     price double precision NOT NULL,
     n bigint NOT NULL,
     low double precision NOT NULL,
     high double precision NOT NULL,
     PRIMARY KEY (symbol, step, bucket)
   );
   CREATE INDEX price_rollup_time ON price_rollup (step, last_at);
   ${
    ROLLUP_LEVELS.map(({ step, keepMs }) =>
      `INSERT INTO price_rollup
         (symbol, step, bucket, first_at, first_price, last_at, price, n, low, high)
       SELECT symbol, ${step}, bucket, MIN(fetched_at),
              (array_agg(price ORDER BY fetched_at, id))[1],
              MAX(fetched_at), (array_agg(price ORDER BY fetched_at DESC, id DESC))[1],
              COUNT(*), MIN(price), MAX(price)
       FROM (SELECT *, floor(extract(epoch FROM fetched_at) / ${step})::bigint * ${step} AS bucket
             FROM price_history ${
        // A finer resolution only for the prices it keeps: the last 2 h, 25 h or 8 days.
        Number.isFinite(keepMs)
          ? `WHERE fetched_at >= (SELECT MAX(fetched_at) FROM price_history)
               - interval '${keepMs / 1000} seconds'`
          : ""}) h
       GROUP BY symbol, bucket;`
    ).join("\n")
  }`,
  LONG_TAIL_MIGRATION,
];

/** The schema version this code writes; the same as SQLite's. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Taken while migrating, so replicas starting together migrate once. */
const MIGRATION_LOCK = 0x63727970746f; // "crypto"

/** Brings the schema to {@linkcode SCHEMA_VERSION} in one transaction, under a lock. */
export async function migrate(sql: postgres.Sql, description: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`;
    const [row] = await tx<{ version: number }[]>`SELECT version FROM schema_version`;
    let version = row?.version ?? 0;
    if (row === undefined) await tx`INSERT INTO schema_version (version) VALUES (0)`;
    if (version > SCHEMA_VERSION) {
      throw new RepositoryError(
        `Cannot open ${description}: its schema version ${version} is newer than the ` +
          `${SCHEMA_VERSION} this program knows; use a newer program or another database`,
      );
    }
    for (; version < SCHEMA_VERSION; version++) {
      await tx.unsafe(MIGRATIONS[version]);
      await tx`UPDATE schema_version SET version = ${version + 1}`;
    }
  });
}
