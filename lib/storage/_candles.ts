/**
 * Candles from the history buckets, the same on both engines: which resolution builds an
 * interval, and how its buckets combine (the first bucket's first price opens, the last one's
 * last price closes, the extremes and counts add up), so a candle is exact, not sampled.
 *
 * @module
 */

import { ROLLUP_LEVELS } from "./_history.ts";
import type { StoredCandle } from "./repository.ts";

/** A history bucket as a candle query reads it. */
export interface CandleBucketRow {
  bucket: number | bigint | string;
  first_price: number;
  price: number;
  low: number;
  high: number;
  n: number | bigint | string;
}

/**
 * The resolution (bucket width in seconds) that builds `intervalSeconds` candles back to
 * `fromSeconds`: the coarsest one whose buckets fit the interval exactly and are still kept that
 * far back from the latest snapshot.
 *
 * @throws {RangeError} when no resolution does (the interval is finer than the history keeps)
 */
export function candleStep(
  intervalSeconds: number,
  fromSeconds: number,
  latestIso: string,
): number {
  const age = Date.parse(latestIso) - fromSeconds * 1000;
  const level = ROLLUP_LEVELS.findLast((l) => intervalSeconds % l.step === 0 && l.keepMs >= age);
  if (level === undefined) {
    throw new RangeError(
      `Cannot build ${intervalSeconds} s candles from ${
        new Date(fromSeconds * 1000).toISOString()
      }: ` +
        "expected an interval the history keeps buckets for that long",
    );
  }
  return level.step;
}

/** Buckets in time order combined into one candle per `intervalSeconds` that has any. */
export function candlesOf(
  rows: readonly CandleBucketRow[],
  intervalSeconds: number,
): StoredCandle[] {
  const candles: StoredCandle[] = [];
  for (const row of rows) {
    const start = Math.floor(Number(row.bucket) / intervalSeconds) * intervalSeconds;
    const last = candles.at(-1);
    if (last === undefined || last.start !== start) {
      candles.push({
        start,
        open: row.first_price,
        high: row.high,
        low: row.low,
        close: row.price,
        count: Number(row.n),
      });
    } else {
      last.high = Math.max(last.high, row.high);
      last.low = Math.min(last.low, row.low);
      last.close = row.price;
      last.count += Number(row.n);
    }
  }
  return candles;
}
