/**
 * Known prices in the hours before now, for the candle tests: saved through the real repository,
 * so the history buckets are the ones ingestion writes.
 *
 * @module
 */

import type { Snapshot } from "../lib/wire/coin.ts";
import { SqliteRepository } from "../lib/storage/sqlite_repository.ts";
import { BTC_2022 } from "./helpers.ts";

/** One hour in ms. */
export const HOUR_MS = 3_600_000;

/** The start of the current UTC hour, in ms. */
export function currentHour(): number {
  return Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
}

/** Saves BTC at each `[ms since the epoch, price]` (in time order) into the SQLite file at `path`. */
export async function seedBtcPrices(
  path: string,
  prices: readonly [number, number][],
): Promise<void> {
  await using repo = await SqliteRepository.open(path);
  for (const [ms, price] of prices) {
    const snapshot: Snapshot = {
      coins: [{ ...BTC_2022, price, priceText: String(price) }],
      fetchedAt: new Date(ms).toISOString(),
      source: "coingecko",
    };
    await repo.saveSnapshot(snapshot);
  }
}
