/**
 * The `CANDLES` reply: the range cut into intervals aligned to the clock (the last one holding
 * now), each interval's stored candle or a gap, in the asked currency at the current rate.
 *
 * @module
 */

import {
  type Candle,
  CANDLE_INTERVAL_SECONDS,
  type CandleInterval,
  type CandlesView,
  MAX_CANDLES,
} from "../wire/candles.ts";
import { HISTORY_RANGE_MS, type HistoryRange } from "../wire/history_range.ts";
import type { StoredCandle } from "../storage/repository.ts";

/** The intervals a reply covers: the first one's start (seconds since the epoch) and how many. */
export interface CandleWindow {
  from: number;
  count: number;
}

/** The intervals of `range` ending with the one that holds `nowMs`, at most `MAX_CANDLES`. */
export function candleWindow(
  interval: CandleInterval,
  range: HistoryRange,
  nowMs: number,
): CandleWindow {
  const seconds = CANDLE_INTERVAL_SECONDS[interval];
  const last = Math.floor(nowMs / 1000 / seconds) * seconds;
  const count = Math.min(MAX_CANDLES, Math.ceil(HISTORY_RANGE_MS[range] / 1000 / seconds));
  return { from: last - (count - 1) * seconds, count };
}

/** What a reply is about. */
export interface CandlesQuery {
  symbol: string;
  interval: CandleInterval;
  range: HistoryRange;
  currency: string;
}

/**
 * The reply's data as JSON: one candle per interval of `window`, the stored one (prices times
 * `rate`, the value of one USD in the currency) or a gap with count 0 and null prices.
 */
export function candlesJson(
  query: CandlesQuery,
  window: CandleWindow,
  stored: readonly StoredCandle[],
  rate: number,
): string {
  const seconds = CANDLE_INTERVAL_SECONDS[query.interval];
  const byStart = new Map(stored.map((c) => [c.start, c]));
  const candles: Candle[] = [];
  for (let i = 0; i < window.count; i++) {
    const start = window.from + i * seconds;
    const c = byStart.get(start);
    const time = new Date(start * 1000).toISOString();
    candles.push(
      c === undefined ? { time, open: null, high: null, low: null, close: null, count: 0 } : {
        time,
        open: c.open * rate,
        high: c.high * rate,
        low: c.low * rate,
        close: c.close * rate,
        count: c.count,
      },
    );
  }
  const view: CandlesView = {
    symbol: query.symbol,
    interval: query.interval,
    range: query.range,
    currency: query.currency,
    ...(query.currency === "USD" ? {} : { converted_from: "USD" }),
    candles,
  };
  return JSON.stringify(view);
}
