/**
 * Candles from the stored history buckets, on both engines: exact open, high, low, close and
 * count per interval from known prices, intervals built from the resolution that divides them,
 * and a refusal for an interval finer than the history keeps that far back.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Coin, Snapshot } from "../../lib/wire/coin.ts";
import type { Repository } from "../../lib/storage/repository.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { openRepository } from "../../lib/storage/open_repository.ts";
import { BTC_2022 } from "../helpers.ts";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";

const HOUR = 3600;
/** 2024-01-01 10:00 UTC, in seconds. */
const BASE = Date.UTC(2024, 0, 1, 10) / 1000;

function snapshot(secondsAfterBase: number, btc: number, eth = 1000): Snapshot {
  const coin = (symbol: string, rank: number, price: number): Coin => ({
    ...BTC_2022,
    symbol,
    rank,
    price,
    priceText: String(price),
  });
  return {
    coins: [coin("BTC", 1, btc), coin("ETH", 2, eth)],
    fetchedAt: new Date((BASE + secondsAfterBase) * 1000).toISOString(),
    source: "coingecko",
  };
}

/** BTC's prices: four in the 10:00 hour, one at 11:10, none at 12:00, two at 13:05. */
const PRICES: [number, number][] = [
  [0, 100],
  [20 * 60, 120],
  [40 * 60, 90],
  [HOUR - 1, 110],
  [HOUR + 10 * 60, 111],
  [3 * HOUR + 5 * 60, 130],
  [3 * HOUR + 6 * 60, 125],
];

const candle = (
  start: number,
  open: number,
  high: number,
  low: number,
  close: number,
  count: number,
) => ({
  start: BASE + start,
  open,
  high,
  low,
  close,
  count,
});

async function checkCandles(repo: Repository): Promise<void> {
  for (const [at, price] of PRICES) await repo.saveSnapshot(snapshot(at, price));
  assert.deepEqual(await repo.candles("btc", HOUR, BASE), [
    candle(0, 100, 120, 90, 110, 4),
    candle(HOUR, 111, 111, 111, 111, 1),
    candle(3 * HOUR, 130, 130, 125, 125, 2),
  ]);
  // From 10-minute buckets: 10:00-10:30 and 10:30-11:00.
  assert.deepEqual((await repo.candles("BTC", 1800, BASE)).slice(0, 2), [
    candle(0, 100, 120, 100, 120, 2),
    candle(1800, 90, 110, 90, 110, 2),
  ]);
  // From 1-minute buckets, starting later: the 13:05 and 13:06 minutes.
  assert.deepEqual(await repo.candles("BTC", 60, BASE + 2 * HOUR), [
    candle(3 * HOUR + 5 * 60, 130, 130, 130, 130, 1),
    candle(3 * HOUR + 6 * 60, 125, 125, 125, 125, 1),
  ]);
  assert.deepEqual(await repo.candles("BTC", 86_400, BASE - 10 * HOUR), [
    candle(-10 * HOUR, 100, 130, 90, 125, 7),
  ]);
  assert.deepEqual((await repo.candles("ETH", 86_400, BASE - 10 * HOUR))[0].count, 7);
  assert.deepEqual(await repo.candles("XRP", HOUR, BASE), []);
  // Minute buckets are kept 25 hours back from the latest price.
  await assert.rejects(
    () => repo.candles("BTC", 60, BASE - 2 * 86_400),
    /Cannot build 60 s candles/,
  );
}

Deno.test("SQLite: candles from the history buckets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "candles_test_" });
  try {
    await using repo = await SqliteRepository.open(`${dir}/prices.db`);
    assert.deepEqual(await repo.candles("BTC", HOUR, BASE), [], "an empty database has none");
    await checkCandles(repo);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

postgresTest("PostgreSQL: candles from the history buckets", async () => {
  await using pg = await PostgresCluster.start();
  await using repo = await openRepository(await pg.createDatabase("candles"));
  await checkCandles(repo);
});
