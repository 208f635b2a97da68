import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Coin, Snapshot } from "../../lib/wire/coin.ts";
import { pruneHistory, RepositoryError } from "../../lib/storage/repository.ts";
import { SCHEMA_VERSION, SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { BTC_2022 } from "../helpers.ts";

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

function snapshot(fetchedAt: string, coins: Coin[]): Snapshot {
  return { coins, fetchedAt, source: "coingecko" };
}

async function tempDb(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "repository_test_" });
  return {
    path: join(dir, "nested", "dir", "prices.db"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function pragma(path: string, name: string): unknown {
  const db = new DatabaseSync(path);
  try {
    return Object.values({ ...db.prepare(`PRAGMA ${name}`).get() })[0];
  } finally {
    db.close();
  }
}

const ANY = "2000-01-01T00:00:00.000Z";

/** The prices of `symbol` stored since `since`, every point. */
async function prices(repo: SqliteRepository, symbol: string, since = ANY) {
  return (await repo.historySeries(symbol, since, 100_000)).points;
}

Deno.test("Repository creates, migrates and reopens a database file", async () => {
  await using tmp = await tempDb();
  {
    await using repo = await SqliteRepository.open(tmp.path);
    assert.equal(await repo.loadSnapshot(), null);
    assert.equal(await repo.latestSnapshotTime(), null);
    await repo.saveSnapshot(snapshot("2022-10-04T20:16:30.000Z", [BTC, SHIB]));
  }
  assert.equal(pragma(tmp.path, "user_version"), SCHEMA_VERSION);
  assert.equal(pragma(tmp.path, "journal_mode"), "wal");
  await using again = await SqliteRepository.open(tmp.path);
  assert.deepEqual(await again.loadSnapshot(), snapshot("2022-10-04T20:16:30.000Z", [BTC, SHIB]));
  assert.equal(await again.latestSnapshotTime(), "2022-10-04T20:16:30.000Z");
});

Deno.test("Repository refuses a database from a newer version", async () => {
  await using tmp = await tempDb();
  await (await SqliteRepository.open(tmp.path)).close();
  const db = new DatabaseSync(tmp.path);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  await assert.rejects(() => SqliteRepository.open(tmp.path), (error) => {
    assert.ok(error instanceof RepositoryError);
    assert.match(
      error.message,
      new RegExp(
        `schema version ${
          SCHEMA_VERSION + 1
        } is newer than the ${SCHEMA_VERSION} this program knows`,
      ),
    );
    return true;
  });
});

Deno.test("Repository round-trips a snapshot exactly, in rank order", async () => {
  await using repo = await SqliteRepository.open(":memory:");
  const saved = snapshot("2022-10-04T20:16:30.000Z", [SHIB, ETH, BTC]);
  await repo.saveSnapshot(saved);
  const loaded = await repo.loadSnapshot();
  assert.deepEqual(loaded, { ...saved, coins: [BTC, ETH, SHIB] });
  assert.equal(loaded?.coins[2].priceText, "1.149e-05");
  assert.equal(loaded?.coins[2].price, 0.00001149);
});

Deno.test("saveSnapshot replaces the current coins and appends history", async () => {
  await using repo = await SqliteRepository.open(":memory:");
  await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC, ETH]));
  const btc2 = { ...BTC, price: 20300.5, priceText: "20300.50" };
  await repo.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [btc2, SHIB]));
  assert.deepEqual(await repo.loadSnapshot(), snapshot("2024-01-01T00:01:00.000Z", [btc2, SHIB]));
  assert.deepEqual(await prices(repo, "btc", "2024-01-01T00:00:00.000Z"), [
    ["2024-01-01T00:00:00.000Z", 20220],
    ["2024-01-01T00:01:00.000Z", 20300.5],
  ]);
  assert.deepEqual(await prices(repo, "ETH", "2024-01-01T00:00:30.000Z"), []);
  assert.equal((await prices(repo, "ETH")).length, 1);
});

Deno.test("saveSnapshot stores exchange rates in the same transaction", async () => {
  await using repo = await SqliteRepository.open(":memory:");
  assert.equal(await repo.loadRates(), null);
  const usd = { name: "US Dollar", unit: "$", value: 20220, type: "fiat" };
  const rates = { rates: new Map([["usd", usd]]), fetchedAt: "2024-01-01T00:00:00.000Z" };
  await repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]), { rates });
  assert.deepEqual(await repo.loadRates(), rates);
  // Without rates, the stored ones stay.
  await repo.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [BTC]));
  assert.deepEqual(await repo.loadRates(), rates);
  // A failing save stores neither the coins nor the rates.
  const other = { rates: new Map([["eur", { ...usd, name: "Euro" }]]), fetchedAt: ANY };
  await assert.rejects(() => repo.saveSnapshot(snapshot(ANY, [BTC, BTC]), { rates: other }));
  assert.deepEqual(await repo.loadRates(), rates);
});

Deno.test("a failing save leaves the previous snapshot and history intact", async () => {
  await using tmp = await tempDb();
  await using repo = await SqliteRepository.open(tmp.path);
  const good = snapshot("2024-01-01T00:00:00.000Z", [BTC, ETH]);
  await repo.saveSnapshot(good);
  // The duplicate symbol violates the primary key after some rows were already written.
  const bad = snapshot("2024-01-01T00:01:00.000Z", [SHIB, { ...ETH, price: 1 }, ETH]);
  await assert.rejects(() => repo.saveSnapshot(bad), /UNIQUE constraint failed: coins.symbol/);
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
});

Deno.test("a second connection reads while the first one writes (WAL)", async () => {
  await using tmp = await tempDb();
  await using writer = await SqliteRepository.open(tmp.path);
  await writer.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]));
  await using reader = await SqliteRepository.open(tmp.path);
  assert.deepEqual((await reader.loadSnapshot())?.coins, [BTC]);
  await writer.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [ETH]));
  assert.deepEqual((await reader.loadSnapshot())?.coins, [ETH]);
});

Deno.test("pruneHistory deletes old rows in batches", async () => {
  await using repo = await SqliteRepository.open(":memory:");
  for (let hour = 0; hour < 10; hour++) {
    await repo.saveSnapshot(snapshot(`2024-01-01T0${hour}:00:00.000Z`, [BTC, ETH, SHIB]));
  }
  // Seven snapshots of three coins: their exact prices and their bucket at each of the four
  // resolutions.
  assert.equal(await pruneHistory(repo, "2024-01-01T07:00:00.000Z", 4), 7 * 3 * 5);
  assert.deepEqual(
    (await prices(repo, "BTC")).map((p) => p[0]),
    ["2024-01-01T07:00:00.000Z", "2024-01-01T08:00:00.000Z", "2024-01-01T09:00:00.000Z"],
  );
  assert.equal(await pruneHistory(repo, "2024-01-01T07:00:00.000Z"), 0);
  assert.deepEqual(
    (await repo.loadSnapshot())?.coins,
    [BTC, ETH, SHIB],
    "the current snapshot stays",
  );
  await assert.rejects(() => pruneHistory(repo, "2030-01-01T00:00:00.000Z", 0), RangeError);
});

Deno.test("close is idempotent", async () => {
  const repo = await SqliteRepository.open(":memory:");
  await repo.close();
  await repo.close();
  await assert.rejects(() => repo.loadSnapshot());
});
