import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Coin, Snapshot } from "../../lib/wire/coin.ts";
import { Repository, RepositoryError, SCHEMA_VERSION } from "../../lib/storage/repository.ts";
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

Deno.test("Repository creates, migrates and reopens a database file", async () => {
  await using tmp = await tempDb();
  {
    using repo = Repository.open(tmp.path);
    assert.equal(repo.loadSnapshot(), null);
    repo.saveSnapshot(snapshot("2022-10-04T20:16:30.000Z", [BTC, SHIB]));
  }
  assert.equal(pragma(tmp.path, "user_version"), SCHEMA_VERSION);
  assert.equal(pragma(tmp.path, "journal_mode"), "wal");
  using again = Repository.open(tmp.path);
  assert.deepEqual(again.loadSnapshot(), snapshot("2022-10-04T20:16:30.000Z", [BTC, SHIB]));
});

Deno.test("Repository refuses a database from a newer version", async () => {
  await using tmp = await tempDb();
  Repository.open(tmp.path).close();
  const db = new DatabaseSync(tmp.path);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => Repository.open(tmp.path), (error) => {
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

Deno.test("Repository round-trips a snapshot exactly, in rank order", () => {
  using repo = Repository.open(":memory:");
  const saved = snapshot("2022-10-04T20:16:30.000Z", [SHIB, ETH, BTC]);
  repo.saveSnapshot(saved);
  const loaded = repo.loadSnapshot();
  assert.deepEqual(loaded, { ...saved, coins: [BTC, ETH, SHIB] });
  assert.equal(loaded?.coins[2].priceText, "1.149e-05");
  assert.equal(loaded?.coins[2].price, 0.00001149);
});

Deno.test("saveSnapshot replaces the current coins and appends history", () => {
  using repo = Repository.open(":memory:");
  repo.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC, ETH]));
  const btc2 = { ...BTC, price: 20300.5, priceText: "20300.50" };
  repo.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [btc2, SHIB]));
  assert.deepEqual(repo.loadSnapshot(), snapshot("2024-01-01T00:01:00.000Z", [btc2, SHIB]));
  assert.deepEqual(repo.history("btc", "2024-01-01T00:00:00.000Z"), [
    { fetchedAt: "2024-01-01T00:00:00.000Z", price: 20220, priceText: "20220" },
    { fetchedAt: "2024-01-01T00:01:00.000Z", price: 20300.5, priceText: "20300.50" },
  ]);
  assert.deepEqual(repo.history("ETH", "2024-01-01T00:00:30.000Z"), []);
  assert.equal(repo.history("ETH", "2000-01-01T00:00:00.000Z").length, 1);
});

Deno.test("a failing save leaves the previous snapshot and history intact", async () => {
  await using tmp = await tempDb();
  using repo = Repository.open(tmp.path);
  const good = snapshot("2024-01-01T00:00:00.000Z", [BTC, ETH]);
  repo.saveSnapshot(good);
  // The duplicate symbol violates the primary key after some rows were already written.
  const bad = snapshot("2024-01-01T00:01:00.000Z", [SHIB, { ...ETH, price: 1 }, ETH]);
  assert.throws(() => repo.saveSnapshot(bad), /UNIQUE constraint failed: coins.symbol/);
  assert.deepEqual(repo.loadSnapshot(), good);
  assert.deepEqual(repo.history("SHIB", "2000-01-01T00:00:00.000Z"), []);
  assert.equal(repo.history("ETH", "2000-01-01T00:00:00.000Z").length, 1);
  assert.throws(() => repo.saveSnapshot(snapshot("2024-01-01T00:02:00.000Z", [])), RangeError);
  // The connection is still usable after the rollback.
  repo.saveSnapshot(snapshot("2024-01-01T00:03:00.000Z", [SHIB]));
  assert.deepEqual(repo.loadSnapshot()?.coins, [SHIB]);
});

Deno.test("a second connection reads while the first one writes (WAL)", async () => {
  await using tmp = await tempDb();
  using writer = Repository.open(tmp.path);
  writer.saveSnapshot(snapshot("2024-01-01T00:00:00.000Z", [BTC]));
  using reader = Repository.open(tmp.path);
  assert.deepEqual(reader.loadSnapshot()?.coins, [BTC]);
  writer.saveSnapshot(snapshot("2024-01-01T00:01:00.000Z", [ETH]));
  assert.deepEqual(reader.loadSnapshot()?.coins, [ETH]);
});

Deno.test("pruneHistory deletes old rows in batches", () => {
  using repo = Repository.open(":memory:");
  for (let minute = 0; minute < 10; minute++) {
    const at = `2024-01-01T00:0${minute}:00.000Z`;
    repo.saveSnapshot(snapshot(at, [BTC, ETH, SHIB]));
  }
  assert.equal(repo.pruneHistory("2024-01-01T00:07:00.000Z", 4), 21);
  assert.deepEqual(
    repo.history("BTC", "2000-01-01T00:00:00.000Z").map((p) => p.fetchedAt),
    ["2024-01-01T00:07:00.000Z", "2024-01-01T00:08:00.000Z", "2024-01-01T00:09:00.000Z"],
  );
  assert.equal(repo.pruneHistory("2024-01-01T00:07:00.000Z"), 0);
  assert.deepEqual(repo.loadSnapshot()?.coins, [BTC, ETH, SHIB], "the current snapshot stays");
  assert.throws(() => repo.pruneHistory("2030-01-01T00:00:00.000Z", 0), RangeError);
});

Deno.test("close is idempotent", () => {
  const repo = Repository.open(":memory:");
  repo.close();
  repo.close();
  assert.throws(() => repo.loadSnapshot());
});
