/**
 * The {@linkcode Repository} on PostgreSQL (`npm:postgres`), for several server replicas sharing
 * one database. Same tables, same versioned migrations and same answers as the SQLite engine;
 * times are `timestamptz`, prices `double precision` next to their exact decimal text.
 *
 * Writes go through the repository's own pool, or through a {@linkcode PostgresWriterSession}
 * (e.g. the connection holding the leader's advisory lock): with a `lockKey`, the transaction
 * first checks that its session still holds that lock, so a leader that lost it cannot write.
 *
 * Nothing this module logs or throws holds the password: errors are re-thrown as
 * {@linkcode RepositoryError} with the password removed, and the database is named by
 * {@linkcode describeDatabase} (host, port and name).
 *
 * @module
 */

import postgres from "postgres";
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
  type WriterSession,
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
import { describeDatabase } from "./database_url.ts";
import { type CoinRow, coinRow, type RateRow, ratesFromRows, snapshotFromRows } from "./_rows.ts";
import { redact } from "../util/redact.ts";

/** A connection of `npm:postgres`: a pool, a reserved connection or a transaction. */
export type PostgresSql = postgres.Sql;

/** A session to write through, e.g. the one holding the leader's advisory lock. */
export interface PostgresWriterSession extends WriterSession {
  readonly engine: "postgres";
  /** One connection: a client with `max: 1` (as cluster mode's lock session), or `sql.reserve()`. */
  readonly sql: PostgresSql;
  /**
   * The advisory lock (a non-negative `bigint` key, as taken with `pg_try_advisory_lock`) the
   * session must still hold: checked inside each write's transaction, before anything is written.
   */
  readonly lockKey?: bigint;
}

/** The payload of the notification that coins fetched on demand were stored. */
export const TRACKED_NOTICE = "tracked";
/** The payload of the notification that a coin directory was stored. */
export const DIRECTORY_NOTICE = "directory";

/** Options of {@linkcode PostgresRepository.open}. */
export interface PostgresRepositoryOptions {
  /** Connections in the pool; defaults to 4. */
  maxConnections?: number;
  /** Seconds to wait for a connection; defaults to 5. */
  connectTimeoutSeconds?: number;
  /**
   * When set, every saved snapshot ends its transaction with `NOTIFY channel, 'fetchedAt'`, so
   * listeners hear of it exactly when it is committed.
   */
  notifyChannel?: string;
}

import { migrate } from "./_postgres_schema.ts";
import * as longTail from "./_postgres_long_tail.ts";

export { SCHEMA_VERSION } from "./_postgres_schema.ts";

/** The current snapshot, the exchange rates and the price history, in a PostgreSQL database. */
export class PostgresRepository implements Repository {
  readonly engine = "postgres";
  readonly description: string;
  readonly #sql: PostgresSql;
  readonly #password: string;
  readonly #notifyChannel: string | undefined;
  #closed = false;

  private constructor(
    url: string,
    sql: PostgresSql,
    password: string,
    options: PostgresRepositoryOptions,
  ) {
    this.description = describeDatabase(url);
    this.#sql = sql;
    this.#password = password;
    this.#notifyChannel = options.notifyChannel;
  }

  /**
   * Connects to the database at `url` (`postgres://user:password@host:port/name`) and migrates
   * it.
   *
   * @throws {RepositoryError} when it cannot connect or the schema is newer than this program's;
   * the message names host, port and database, never the password.
   */
  static async open(
    url: string,
    options: PostgresRepositoryOptions = {},
  ): Promise<PostgresRepository> {
    let password = "";
    try {
      password = decodeURIComponent(new URL(url).password);
    } catch {
      throw new RepositoryError(`Cannot open ${describeDatabase(url)}: invalid URL`);
    }
    const sql = postgres(url, {
      max: options.maxConnections ?? 4,
      connect_timeout: options.connectTimeoutSeconds ?? 5,
      // Notices (e.g. "relation already exists, skipping") are not for the operator's log.
      onnotice: () => {},
      connection: { application_name: "crypto-price-server" },
    });
    const repository = new PostgresRepository(url, sql, password, options);
    try {
      await repository.#guard(() => migrate(sql, repository.description));
      return repository;
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw error;
    }
  }

  saveSnapshot(snapshot: Snapshot, options: SaveOptions = {}): Promise<void> {
    return this.#guard(async () => {
      checkSnapshotCoins(snapshot.coins.length);
      const rates = options.rates ?? null;
      if (rates !== null && rates.rates.size === 0) {
        throw new RangeError("Cannot save empty exchange rates");
      }
      const session = options.session;
      if (session !== undefined && session.engine !== this.engine) {
        throw new TypeError(
          `Cannot write through a ${session.engine} session: expected a postgres one`,
        );
      }
      await this.#transaction(session as PostgresWriterSession | undefined, async (tx) => {
        await writeSnapshot(tx, snapshot, rates);
        if (this.#notifyChannel !== undefined) {
          await tx`SELECT pg_notify(${this.#notifyChannel}, ${snapshot.fetchedAt})`;
        }
      });
    });
  }

  loadSnapshot(): Promise<Snapshot | null> {
    return this.#guard(async () =>
      snapshotFromRows(await this.#sql<CoinRow[]>`SELECT * FROM coins ORDER BY rank, symbol`)
    );
  }

  latestSnapshotTime(): Promise<string | null> {
    return this.#guard(() => latestTime(this.#sql));
  }

  loadRates(): Promise<StoredRates | null> {
    return this.#guard(async () =>
      ratesFromRows(await this.#sql<RateRow[]>`SELECT * FROM exchange_rates ORDER BY position`)
    );
  }

  candles(symbol: string, intervalSeconds: number, fromSeconds: number): Promise<StoredCandle[]> {
    return this.#guard(async () => {
      const latest = await latestTime(this.#sql);
      if (latest === null) return [];
      const step = candleStep(intervalSeconds, fromSeconds, latest);
      const rows = await this.#sql<CandleBucketRow[]>`
        SELECT bucket, first_price, price, low, high, n FROM price_rollup
        WHERE symbol = ${symbol.toUpperCase()} AND step = ${step} AND bucket >= ${fromSeconds}
        ORDER BY bucket`;
      return candlesOf(rows, intervalSeconds);
    });
  }

  historySeries(symbol: string, sinceIso: string, maxPoints = 200): Promise<HistorySeries> {
    return this.#guard(async () => {
      checkMaxPoints(maxPoints);
      const latest = await latestTime(this.#sql);
      if (latest === null) return { points: [], count: 0, min: null, max: null };
      const { step, afterBucket } = historyWindow(latest, sinceIso);
      const sql = this.#sql;
      const upper = symbol.toUpperCase();
      const window = sql`FROM price_rollup WHERE symbol = ${upper} AND step = ${step}
        AND bucket > ${afterBucket} AND last_at >= ${sinceIso}::timestamptz`;
      // The same even thinning as on SQLite (the first bucket of each of `max` equal slices),
      // with the window's totals on every row: one round trip.
      const rows = await sql<(BucketRow & { total: number; lo: number; hi: number })[]>`
        WITH h AS (
          SELECT first_at, first_price, last_at, price,
                 ROW_NUMBER() OVER (ORDER BY bucket) - 1 AS i, COUNT(*) OVER () AS n,
                 (SUM(n) OVER ())::float8 AS total, MIN(low) OVER () AS lo,
                 MAX(high) OVER () AS hi
          ${window})
        SELECT * FROM h
        WHERE n <= ${maxPoints}::bigint OR i = 0
           OR (i * (${maxPoints}::bigint - 1)) / (n - 1) > ((i - 1) * (${maxPoints}::bigint - 1)) / (n - 1)
        ORDER BY i`;
      if (rows.length === 0) return { points: [], count: 0, min: null, max: null };
      return {
        points: seriesPoints(rows.map((r) => ({
          ...r,
          first_at: r.first_at.toISOString(),
          last_at: r.last_at.toISOString(),
        }))),
        count: rows[0].total,
        min: rows[0].lo,
        max: rows[0].hi,
      };
    });
  }

  pruneHistoryBatch(beforeIso: string, batchSize = PRUNE_BATCH_SIZE): Promise<number> {
    return this.#guard(async () => {
      checkBatchSize(batchSize);
      return await this.#sql.begin(async (tx) => {
        const { raw, byStep } = pruneCutoffs(await latestTime(tx), beforeIso);
        let deleted = (await tx`DELETE FROM price_history WHERE id IN
          (SELECT id FROM price_history WHERE fetched_at < ${raw}::timestamptz
           LIMIT ${batchSize})`).count;
        for (const [step, cutoff] of byStep) {
          if (deleted >= batchSize) break;
          deleted += (await tx`DELETE FROM price_rollup WHERE (symbol, step, bucket) IN
            (SELECT symbol, step, bucket FROM price_rollup
             WHERE step = ${step} AND last_at < ${cutoff}::timestamptz
             LIMIT ${batchSize - deleted})`).count;
        }
        return deleted;
      });
    });
  }

  sizeBytes(): Promise<number | null> {
    return this.#guard(async () => {
      const [row] = await this.#sql<{ size: number }[]>`
        SELECT pg_database_size(current_database())::float8 AS size`;
      return row.size;
    });
  }

  /** Replaces a directory; with a notify channel, ends with `NOTIFY channel, 'directory'`. */
  saveDirectory(directory: StoredDirectory, options: SaveOptions = {}): Promise<void> {
    return this.#write(options, async (tx) => {
      await longTail.writeDirectory(tx, directory);
      await this.#notify(tx, DIRECTORY_NOTICE);
    });
  }

  loadDirectory(provider: string, newerThan?: string): Promise<StoredDirectory | null> {
    return this.#guard(() => longTail.readDirectory(this.#sql, provider, newerThan));
  }

  /** Stores coins fetched on demand; with a notify channel, ends with `NOTIFY channel, 'tracked'`. */
  saveTracked(coins: readonly TrackedCoin[], options: SaveOptions = {}): Promise<void> {
    return this.#write(options, async (tx) => {
      await longTail.writeTracked(tx, coins);
      await this.#notify(tx, TRACKED_NOTICE);
    });
  }

  loadTracked(): Promise<TrackedCoin[]> {
    return this.#guard(() => longTail.readTracked(this.#sql));
  }

  dropTracked(ids: readonly string[], options: SaveOptions = {}): Promise<void> {
    return this.#write(options, async (tx) => {
      await tx`DELETE FROM tracked_coins WHERE id = ANY(${tx.array([...ids])})`;
    });
  }

  wishCoins(ids: readonly string[]): Promise<void> {
    return this.#guard(() => longTail.writeWishes(this.#sql, ids));
  }

  takeWishes(): Promise<string[]> {
    return this.#guard(() => longTail.takeWishes(this.#sql));
  }

  async #notify(tx: Tx, payload: string): Promise<void> {
    if (this.#notifyChannel !== undefined) {
      await tx`SELECT pg_notify(${this.#notifyChannel}, ${payload})`;
    }
  }

  /** A write in a transaction, through the options' session when given. */
  #write(options: SaveOptions, body: (tx: Tx) => Promise<void>): Promise<void> {
    return this.#guard(async () => {
      const session = options.session;
      if (session !== undefined && session.engine !== this.engine) {
        throw new TypeError(
          `Cannot write through a ${session.engine} session: expected a postgres one`,
        );
      }
      await this.#transaction(session as PostgresWriterSession | undefined, body);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 5 });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Runs `body` in a transaction: on the session's connection, or on one of the pool's. */
  async #transaction(
    session: PostgresWriterSession | undefined,
    body: (tx: Tx) => Promise<void>,
  ): Promise<void> {
    if (session === undefined) {
      await this.#sql.begin(body);
      return;
    }
    const sql = session.sql as unknown as Tx;
    await sql`BEGIN`;
    try {
      if (session.lockKey !== undefined) await checkLock(sql, session.lockKey);
      await body(sql);
      await sql`COMMIT`;
    } catch (error) {
      await sql`ROLLBACK`.catch(() => {});
      throw error;
    }
  }

  /** Runs `body`; its errors lose the password, and database errors become RepositoryError. */
  async #guard<T>(body: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new RepositoryError(`Cannot use ${this.description}: the repository is closed`);
    }
    try {
      return await body();
    } catch (error) {
      if (error instanceof RangeError || error instanceof TypeError) throw error;
      if (error instanceof RepositoryError) throw this.#redacted(error);
      throw this.#redacted(
        new RepositoryError(`${this.description}: ${(error as Error)?.message ?? String(error)}`),
      );
    }
  }

  #redacted<E extends Error>(error: E): E {
    error.message = redact(error.message, this.#password);
    return error;
  }
}

/** What queries run on: a transaction, or (cast) a pool or reserved connection. */
type Tx = postgres.TransactionSql;

/** A bucket as PostgreSQL returns it: times are `Date`s. */
type BucketRow = Omit<Bucket, "first_at" | "last_at"> & { first_at: Date; last_at: Date };

async function latestTime(sql: Tx | PostgresSql): Promise<string | null> {
  const [row] = await (sql as Tx)<{ fetched_at: Date }[]>`SELECT fetched_at FROM coins LIMIT 1`;
  return row === undefined ? null : row.fetched_at.toISOString();
}

async function checkLock(sql: Tx, key: bigint): Promise<void> {
  const [row] = await sql<{ held: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
        AND ((classid::bigint << 32) | objid::bigint) = ${key.toString()}::bigint
    ) AS held`;
  if (!row.held) {
    throw new RepositoryError(
      `Cannot save the snapshot: this session no longer holds the leader lock ${key}`,
    );
  }
}

async function writeSnapshot(
  tx: Tx,
  snapshot: Snapshot,
  rates: StoredRates | null,
): Promise<void> {
  const { fetchedAt, source } = snapshot;
  await tx`DELETE FROM coins`;
  await tx`INSERT INTO coins ${tx(snapshot.coins.map((c) => coinRow(c, fetchedAt, source)))}`;
  await tx`INSERT INTO price_history ${
    tx(snapshot.coins.map((c) => ({
      symbol: c.symbol,
      price: c.price,
      price_text: c.priceText,
      market_cap: c.marketCap,
      fetched_at: fetchedAt,
    })))
  }`;
  // One statement per save: a row per coin and resolution. A price arriving out of order counts,
  // but becomes the bucket's first or last price only if it is.
  const buckets = snapshot.coins.flatMap((c) =>
    ROLLUP_LEVELS.map(({ step }) => ({
      symbol: c.symbol,
      step,
      bucket: bucketOf(fetchedAt, step),
      first_at: fetchedAt,
      first_price: c.price,
      last_at: fetchedAt,
      price: c.price,
      n: 1,
      low: c.price,
      high: c.price,
    }))
  );
  // (No table alias: `npm:postgres` reads "AS" before a helper as a select list.)
  await tx`INSERT INTO price_rollup ${tx(buckets)}
    ON CONFLICT (symbol, step, bucket) DO UPDATE SET
      n = price_rollup.n + 1, low = LEAST(price_rollup.low, EXCLUDED.low), high = GREATEST(price_rollup.high, EXCLUDED.high),
      first_price = CASE WHEN EXCLUDED.first_at < price_rollup.first_at
                    THEN EXCLUDED.first_price ELSE price_rollup.first_price END,
      first_at = LEAST(price_rollup.first_at, EXCLUDED.first_at),
      price = CASE WHEN EXCLUDED.last_at >= price_rollup.last_at THEN EXCLUDED.price ELSE price_rollup.price END,
      last_at = GREATEST(price_rollup.last_at, EXCLUDED.last_at)`;
  if (rates !== null) {
    await tx`DELETE FROM exchange_rates`;
    await tx`INSERT INTO exchange_rates ${
      tx([...rates.rates].map(([code, r], position) => ({
        code,
        position,
        name: r.name,
        unit: r.unit,
        value: r.value,
        type: r.type,
        fetched_at: rates.fetchedAt,
      })))
    }`;
  }
}
