/**
 * One set of repository tests, run against both engines: a SQLite file and a real PostgreSQL
 * (a throwaway cluster, one database per case). Where PostgreSQL cannot run, its variant is
 * reported as ignored with the reason. Engine-specific behaviour is tested below the shared set.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Coin, Snapshot } from "../../lib/wire/coin.ts";
import { pruneHistory, type Repository, RepositoryError } from "../../lib/storage/repository.ts";
import { SCHEMA_VERSION, SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import {
  PostgresRepository,
  SCHEMA_VERSION as PG_SCHEMA_VERSION,
} from "../../lib/storage/postgres_repository.ts";
import { openRepository } from "../../lib/storage/open_repository.ts";
import { describeDatabase } from "../../lib/storage/database_url.ts";
import { BTC_2022 } from "../helpers.ts";
import { POSTGRES_MISSING, PostgresCluster, postgresTest } from "../postgres_cluster.ts";

const BTC: Coin = BTC_2022;
const SHIB: Coin = {
  symbol: "SHIB",
  name: "Shiba Inu",
  rank: 12,
  price: 0.00001149,
  priceText: "1.149e-05",
  marketCap: null,
  marketCapText: null,
  change24h: null,
  updatedAt: null,
};
const ETH: Coin = {
  ...BTC,
  symbol: "ETH",
  name: "Ethereum",
  rank: 2,
  price: 1355.37,
  priceText: "1355.37",
};
const ANY = "2000-01-01T00:00:00.000Z";

function snapshot(fetchedAt: string, coins: Coin[]): Snapshot {
  return { coins, fetchedAt, source: "coingecko" };
}

/** The prices of `symbol` stored since `since`, every point. */
async function prices(repo: Repository, symbol: string, since = ANY) {
  return (await repo.historySeries(symbol, since, 100_000)).points;
}

/** A place for a fresh, empty database of one engine. */
interface Database {
  /** Opens it (again): a new repository on the same data. */
  open(): Promise<Repository>;
  /** Marks its schema as written by a newer program. */
  bumpSchema(): Promise<void>;
}

/** A shared case: gets a fresh database. */
type Case = (db: Database) => Promise<void>;

const cases: [string, Case][] = [
  ["creates, migrates and reopens a database", async (db) => {
    {
      await using repo = await db.open();
      assert.equal(await repo.loadSnapshot(), null);
      assert.equal(await repo.latestSnapshotTime(), null);
      assert.equal(await repo.loadRates(), null);
      assert.deepEqual(await repo.historySeries("BTC", ANY), {
        points: [],
        count: 0,
        min: null,
        max: null,
      });
      await repo.saveSnapshot(snapshot("2022-10-04T20:16:30.000Z", [BTC, SHIB]));
    }
    await using again = await db.open();
    assert.deepEqual(await again.loadSnapshot(), snapshot("2022-10-04T20:16:30.000Z", [BTC, SHIB]));
    assert.equal(await again.latestSnapshotTime(), "2022-10-04T20:16:30.000Z");
    assert.ok(((await again.sizeBytes()) ?? 0) > 0);
  }],

  ["refuses a database from a newer version, naming both versions", async (db) => {
    await (await db.open()).close();
    await db.bumpSchema();
    await assert.rejects(() => db.open(), (error) => {
      assert.ok(error instanceof RepositoryError, String(error));
      assert.match(
        error.message,
        new RegExp(
          `schema version ${SCHEMA_VERSION + 1} is newer than the ${SCHEMA_VERSION} this program`,
        ),
      );
      return true;
    });
  }],

  ["round-trips a snapshot exactly, in rank order", async (db) => {
    await using repo = await db.open();
    const saved = snapshot("2022-10-04T20:16:30.000Z", [SHIB, ETH, BTC]);
    await repo.saveSnapshot(saved);
    const loaded = await repo.loadSnapshot();
    assert.deepEqual(loaded, { ...saved, coins: [BTC, ETH, SHIB] });
    assert.equal(loaded?.coins[2].priceText, "1.149e-05");
    assert.equal(loaded?.coins[2].price, 0.00001149);
  }],

  ["saveSnapshot replaces the current coins and appends history", async (db) => {
    await using repo = await db.open();
    await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC, ETH]));
    const btc2 = { ...BTC, price: 20300.5, priceText: "20300.50" };
    await repo.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [btc2, SHIB]));
    assert.deepEqual(
      await repo.loadSnapshot(),
      snapshot("2024-01-01T00:01:00.000Z", [btc2, SHIB]),
    );
    assert.deepEqual(await prices(repo, "btc", "2024-01-01T00:00:00.000Z"), [
      ["2024-01-01T00:00:00.000Z", 20220],
      ["2024-01-01T00:01:00.000Z", 20300.5],
    ]);
    assert.deepEqual(await prices(repo, "ETH", "2024-01-01T00:00:30.000Z"), []);
    assert.equal((await prices(repo, "ETH")).length, 1);
  }],

  ["exchange rates are stored with the snapshot, in one transaction", async (db) => {
    await using repo = await db.open();
    const usd = { name: "US Dollar", unit: "$", value: 20220, type: "fiat" };
    const eur = { name: "Euro", unit: "€", value: 20100.5, type: "fiat" };
    const rates = { rates: new Map([["usd", usd], ["eur", eur]]), fetchedAt: ANY };
    await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]), { rates });
    assert.deepEqual(await repo.loadRates(), rates, "in the order given");
    // Without rates, the stored ones stay.
    await repo.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [BTC]));
    assert.deepEqual(await repo.loadRates(), rates);
    // A failing save stores neither the coins nor the rates.
    const other = { rates: new Map([["gbp", { ...usd, name: "Pound" }]]), fetchedAt: ANY };
    await assert.rejects(() =>
      repo.saveSnapshot(snapshot("2024-01-01T00:02:00.000Z", [BTC, BTC]), { rates: other })
    );
    assert.deepEqual(await repo.loadRates(), rates);
    assert.equal(await repo.latestSnapshotTime(), "2024-01-01T00:01:00.000Z");
    await assert.rejects(
      () =>
        repo.saveSnapshot(snapshot(ANY, [BTC]), { rates: { rates: new Map(), fetchedAt: ANY } }),
      RangeError,
    );
  }],

  ["a failing save leaves the previous snapshot and history intact", async (db) => {
    await using repo = await db.open();
    const good = snapshot("2024-01-01T00:00:00.000Z", [BTC, ETH]);
    await repo.saveSnapshot(good);
    // The duplicate symbol violates the primary key after some rows were already written.
    const bad = snapshot("2024-01-01T00:01:00.000Z", [SHIB, { ...ETH, price: 1 }, ETH]);
    await assert.rejects(() => repo.saveSnapshot(bad));
    assert.deepEqual(await repo.loadSnapshot(), good);
    assert.deepEqual(await prices(repo, "SHIB"), []);
    assert.equal((await prices(repo, "ETH")).length, 1);
    await assert.rejects(
      () => repo.saveSnapshot(snapshot("2024-01-01T00:02:00.000Z", [])),
      RangeError,
    );
    // The connection is still usable after the rollback.
    await repo.saveSnapshot(snapshot("2024-01-01T00:03:00.000Z", [SHIB]));
    assert.deepEqual((await repo.loadSnapshot())?.coins, [SHIB]);
  }],

  ["a second connection reads what the first one wrote", async (db) => {
    await using writer = await db.open();
    await writer.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]));
    await using reader = await db.open();
    assert.deepEqual((await reader.loadSnapshot())?.coins, [BTC]);
    await writer.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [ETH]));
    assert.deepEqual((await reader.loadSnapshot())?.coins, [ETH]);
  }],

  ["pruneHistory deletes old rows in batches", async (db) => {
    await using repo = await db.open();
    for (let hour = 0; hour < 10; hour++) {
      await repo.saveSnapshot(snapshot(`2024-01-01T0${hour}:00:00.000Z`, [BTC, ETH, SHIB]));
    }
    // A stop asked for during a batch ends the pruning after that batch.
    const stop = new AbortController();
    const stopping = {
      pruneHistoryBatch: async (before: string, size?: number) => {
        const deleted = await repo.pruneHistoryBatch(before, size);
        stop.abort();
        return deleted;
      },
    };
    assert.equal(await pruneHistory(stopping, "2024-01-01T07:00:00.000Z", 4, stop.signal), 4);
    // Seven snapshots of three coins: their exact prices and their bucket at each of the four
    // resolutions.
    assert.equal(await pruneHistory(repo, "2024-01-01T07:00:00.000Z", 4), 7 * 3 * 5 - 4);
    assert.deepEqual(
      (await prices(repo, "BTC")).map((p) => p[0]),
      ["2024-01-01T07:00:00.000Z", "2024-01-01T08:00:00.000Z", "2024-01-01T09:00:00.000Z"],
    );
    assert.equal(await pruneHistory(repo, "2024-01-01T07:00:00.000Z"), 0);
    assert.deepEqual((await repo.loadSnapshot())?.coins, [BTC, ETH, SHIB], "the snapshot stays");
    await assert.rejects(() => pruneHistory(repo, "2030-01-01T00:00:00.000Z", 0), RangeError);
  }],

  ["history: each range answers from its resolution, thinned evenly, exact counts", async (db) => {
    await using repo = await db.open();
    // Eight days, one price every fifteen minutes: BTC climbs a dollar each time.
    const start = Date.parse("2024-03-01T00:00:00.000Z");
    const step = 15 * 60_000;
    const total = (8 * 86_400_000) / step;
    for (let i = 0; i < total; i++) {
      const at = new Date(start + i * step).toISOString();
      await repo.saveSnapshot(
        snapshot(at, [{ ...BTC, price: 1000 + i, priceText: `${1000 + i}` }]),
      );
    }
    const latest = start + (total - 1) * step;
    const since = (ms: number) => new Date(latest - ms).toISOString();
    const hour = 3_600_000;
    for (
      const [label, ms, count] of [
        ["1h", hour, 5],
        ["24h", 24 * hour, 97],
        ["7d", 7 * 24 * hour, 7 * 96 + 1],
        ["30d", 30 * 24 * hour, total],
      ] as const
    ) {
      const series = await repo.historySeries("BTC", since(ms), 200);
      assert.equal(series.count, count, `${label}: count`);
      assert.ok(series.points.length <= 200, `${label}: ${series.points.length} points`);
      assert.equal(series.points.at(-1)?.[1], 1000 + total - 1, `${label}: the last price`);
      assert.equal(series.max, 1000 + total - 1, `${label}: max`);
      assert.equal(series.min, 1000 + total - count, `${label}: min`);
      assert.equal(series.points[0][1], series.min, `${label}: the first price`);
      const times = series.points.map((p) => Date.parse(p[0]));
      assert.ok(times.every((t, i) => i === 0 || t > times[i - 1]), `${label}: oldest first`);
    }
    // Thinning by age keeps every range's answer, from fewer rows.
    const before = await repo.historySeries("BTC", since(30 * 24 * hour), 200);
    const deleted = await pruneHistory(repo, "2000-01-01T00:00:00.000Z", 1000);
    assert.ok(deleted > 0, "the finer resolutions of old prices are dropped");
    assert.deepEqual(await repo.historySeries("BTC", since(30 * 24 * hour), 200), before);
    assert.equal((await repo.historySeries("BTC", since(hour))).count, 5);
  }],

  ["close is idempotent; a closed repository rejects", async (db) => {
    const repo = await db.open();
    await repo.close();
    await repo.close();
    await assert.rejects(() => repo.loadSnapshot());
  }],
];

Deno.test("Repository on SQLite", async (t) => {
  for (const [name, body] of cases) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "repository_test_" });
      const path = join(dir, "nested", "dir", "prices.db");
      try {
        await body({
          open: () => SqliteRepository.open(path),
          bumpSchema: () => {
            const db = new DatabaseSync(path);
            db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
            db.close();
            return Promise.resolve();
          },
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

postgresTest("Repository on PostgreSQL", async (t) => {
  assert.equal(PG_SCHEMA_VERSION, SCHEMA_VERSION, "both engines at the same schema version");
  await using pg = await PostgresCluster.start();
  let n = 0;
  for (const [name, body] of cases) {
    await t.step(name, async () => {
      const url = await pg.createDatabase(`case_${++n}`);
      await body({
        open: () => openRepository(url),
        bumpSchema: async () => {
          await pg.psql(`UPDATE schema_version SET version = ${SCHEMA_VERSION + 1}`, `case_${n}`);
        },
      });
    });
  }
});

Deno.test("SQLite: WAL mode and the schema version in user_version", async () => {
  const dir = await Deno.makeTempDir({ prefix: "repository_test_" });
  const path = join(dir, "prices.db");
  try {
    await (await SqliteRepository.open(path)).close();
    const db = new DatabaseSync(path);
    const pragma = (name: string) => Object.values({ ...db.prepare(`PRAGMA ${name}`).get() })[0];
    assert.equal(pragma("user_version"), SCHEMA_VERSION);
    assert.equal(pragma("journal_mode"), "wal");
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeDatabase names host, port and database, never the password", () => {
  assert.equal(
    describeDatabase("postgres://crypto:s3cr3t@db.example:6432/prices"),
    "postgres://db.example:6432/prices",
  );
  assert.equal(describeDatabase("postgresql://u:p%40ss@10.0.0.1/x"), "postgres://10.0.0.1:5432/x");
  assert.equal(describeDatabase("./data/crypto.sqlite"), "./data/crypto.sqlite");
  assert.ok(!describeDatabase("postgres://u:s3cr3t@[::1").includes("s3cr3t"));
});

postgresTest("PostgreSQL: no error names the password; the database is named instead", async () => {
  await using pg = await PostgresCluster.start();
  const wrong = pg.url.replace(pg.password, "not-the-password-x");
  await assert.rejects(() => openRepository(wrong, { connectTimeoutSeconds: 5 }), (error) => {
    assert.ok(error instanceof RepositoryError, String(error));
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${pg.port}/crypto`));
    assert.match(error.message, /password authentication failed/);
    assert.ok(!error.message.includes("not-the-password-x"), error.message);
    return true;
  });
  // Down: every call rejects without the password, and works again once it is back.
  await using repo = await openRepository(pg.url, { connectTimeoutSeconds: 2 });
  await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]));
  await pg.stop();
  for (const call of [() => repo.loadSnapshot(), () => repo.saveSnapshot(snapshot(ANY, [BTC]))]) {
    await assert.rejects(call, (error) => {
      assert.ok(error instanceof RepositoryError, String(error));
      assert.ok(!error.message.includes(pg.password), error.message);
      assert.ok(!String(error.stack).includes(pg.password));
      return true;
    });
  }
  await pg.start();
  assert.deepEqual((await repo.loadSnapshot())?.coins, [BTC], "nothing stored is lost");
});

postgresTest("PostgreSQL: a writer session must hold its advisory lock to write", async () => {
  await using pg = await PostgresCluster.start();
  await using repo = await PostgresRepository.open(pg.url);
  const key = 4242n;
  // A session of its own, as cluster mode's lock session is: one connection.
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  const session = { engine: "postgres", sql, lockKey: key } as const;
  try {
    const [{ locked }] = await session
      .sql`SELECT pg_try_advisory_lock(${key.toString()}::bigint) AS locked`;
    assert.equal(locked, true);
    await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]), { session });
    assert.deepEqual((await repo.loadSnapshot())?.coins, [BTC]);
    await session.sql`SELECT pg_advisory_unlock(${key.toString()}::bigint)`;
    await assert.rejects(
      () => repo.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [ETH]), { session }),
      /no longer holds the leader lock 4242/,
    );
    assert.deepEqual((await repo.loadSnapshot())?.coins, [BTC], "nothing was written");
    // Another engine's session is refused.
    await assert.rejects(
      () => repo.saveSnapshot(snapshot(ANY, [ETH]), { session: { engine: "sqlite" } }),
      TypeError,
    );
  } finally {
    await sql.end();
  }
});

postgresTest("PostgreSQL: notifyChannel sends NOTIFY when the snapshot is committed", async () => {
  await using pg = await PostgresCluster.start();
  await using repo = await PostgresRepository.open(pg.url, { notifyChannel: "snapshots" });
  const listener = postgres(pg.url, { max: 1, onnotice: () => {} });
  const heard = Promise.withResolvers<string>();
  try {
    await listener.listen("snapshots", (payload) => heard.resolve(payload));
    await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]));
    const timer = setTimeout(() => heard.reject(new Error("no NOTIFY within 10 s")), 10_000);
    try {
      assert.equal(await heard.promise, "2024-01-01T00:00:00.000Z");
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await listener.end();
  }
});

if (POSTGRES_MISSING !== null) console.error(`PostgreSQL tests ignored: ${POSTGRES_MISSING}`);
