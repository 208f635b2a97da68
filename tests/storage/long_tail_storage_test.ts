/**
 * The long tail's tables on both engines: a SQLite file and a real PostgreSQL (a throwaway
 * cluster; ignored with the reason where PostgreSQL cannot run). The directory is the generated
 * ~17,000 coins, stored and read back whole.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Coin } from "../../lib/wire/coin.ts";
import type { Repository, TrackedCoin } from "../../lib/storage/repository.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { PostgresRepository } from "../../lib/storage/postgres_repository.ts";
import { directoryEntry } from "../../lib/ingest/coingecko_directory.ts";
import { BTC_2022 } from "../helpers.ts";
import { coinList } from "../fakes/coin_list.ts";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";

const PEPE: Coin = {
  ...BTC_2022,
  symbol: "PEPE",
  name: "Pepe",
  rank: 0,
  price: 0.0000012,
  priceText: "0.0000012",
  marketCap: 3_500_000_000,
  marketCapText: "3500000000",
  id: "pepe",
};

async function exercise(repo: Repository): Promise<void> {
  assert.equal(await repo.loadDirectory("coingecko"), null);
  const entries = (await coinList()).map(directoryEntry).filter((e) => e !== null);
  assert.ok(entries.length >= 16_900, `${entries.length} entries`);
  const fetchedAt = "2026-12-06T03:00:00.000Z";
  await repo.saveDirectory({ provider: "coingecko", entries, fetchedAt });
  const stored = await repo.loadDirectory("coingecko");
  assert.equal(stored?.fetchedAt, fetchedAt);
  assert.equal(stored?.entries.length, entries.length);
  const byId = new Map(stored!.entries.map((e) => [e.id, e]));
  assert.deepEqual(byId.get("pepe"), { id: "pepe", symbol: "PEPE", name: "Pepe" });
  assert.deepEqual(byId.get("bitcoin"), { id: "bitcoin", symbol: "BTC", name: "Bitcoin" });
  assert.equal(await repo.loadDirectory("coingecko", fetchedAt), null, "not newer");
  assert.equal(
    (await repo.loadDirectory("coingecko", "2026-12-06T02:59:59.999Z"))?.entries.length,
    entries.length,
  );
  // A second save replaces the first.
  await repo.saveDirectory({ provider: "coingecko", entries: entries.slice(0, 10), fetchedAt });
  assert.equal((await repo.loadDirectory("coingecko"))?.entries.length, 10);

  const tracked: TrackedCoin = { coin: PEPE, fetchedAt, source: "coingecko" };
  await repo.saveTracked([tracked]);
  const moved = { ...tracked, coin: { ...PEPE, priceText: "0.0000013", price: 0.0000013 } };
  await repo.saveTracked([moved]);
  assert.deepEqual(await repo.loadTracked(), [moved]);
  await repo.dropTracked(["pepe"]);
  assert.deepEqual(await repo.loadTracked(), []);
  await assert.rejects(repo.saveTracked([{ ...tracked, coin: BTC_2022 }]), TypeError);

  await repo.wishCoins(["pepe", "bonk"]);
  await repo.wishCoins(["pepe"]);
  assert.deepEqual(await repo.takeWishes(), ["bonk", "pepe"]);
  assert.deepEqual(await repo.takeWishes(), []);
}

Deno.test("long tail tables on a SQLite file: directory of 17k coins, tracked coins, wishes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "long-tail-" });
  try {
    await using repo = await SqliteRepository.open(join(dir, "crypto.sqlite"));
    await exercise(repo);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

postgresTest(
  "long tail tables on PostgreSQL: directory of 17k coins, tracked coins, wishes",
  async () => {
    await using pg = await PostgresCluster.start();
    await using repo = await PostgresRepository.open(pg.url);
    await exercise(repo);
  },
);
