/**
 * `CANDLES`: a coin's open, high, low and close per interval, read from the stored history
 * buckets. The intervals, the ranges each can cover, and the reply's shape, shared by the
 * server (which answers) and the client (which checks and draws).
 *
 * @module
 */

import { HISTORY_RANGE_MS, type HistoryRange } from "./history_range.ts";

/** The candle intervals, shortest first. */
export const CANDLE_INTERVALS = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"] as const;

/** A candle interval. */
export type CandleInterval = typeof CANDLE_INTERVALS[number];

/** The length of each interval in seconds. */
export const CANDLE_INTERVAL_SECONDS: Readonly<Record<CandleInterval, number>> = {
  "1m": 60,
  "5m": 300,
  "15m": 900,
  "30m": 1800,
  "1h": 3600,
  "4h": 14_400,
  "1d": 86_400,
};

/**
 * The longest range of each interval. The history keeps 1-minute buckets for 25 hours and
 * 10-minute ones for 8 days (see the storage's resolutions): an interval can only be built for as
 * long as a resolution dividing it is kept.
 */
export const CANDLE_MAX_RANGE: Readonly<Record<CandleInterval, HistoryRange>> = {
  "1m": "24h",
  "5m": "24h",
  "15m": "24h",
  "30m": "7d",
  "1h": "30d",
  "4h": "30d",
  "1d": "30d",
};

/** The range of a request that names none: about a hundred to three hundred candles. */
export const CANDLE_DEFAULT_RANGE: Readonly<Record<CandleInterval, HistoryRange>> = {
  "1m": "1h",
  "5m": "24h",
  "15m": "24h",
  "30m": "7d",
  "1h": "7d",
  "4h": "30d",
  "1d": "30d",
};

/** Candles in one reply at most: 1-minute candles over 24 hours. */
export const MAX_CANDLES = 1440;

/** Whether `text` names a candle interval exactly (lower case). */
export function isCandleInterval(text: string): text is CandleInterval {
  return (CANDLE_INTERVALS as readonly string[]).includes(text);
}

/** Whether `range` is no longer than `interval` can cover. */
export function candleRangeAllowed(interval: CandleInterval, range: HistoryRange): boolean {
  return HISTORY_RANGE_MS[range] <= HISTORY_RANGE_MS[CANDLE_MAX_RANGE[interval]];
}

/**
 * One interval: its start, and the first, highest, lowest and last price in it, with how many
 * prices were stored. An interval without prices is a gap: `count` 0 and the prices null.
 */
export interface Candle {
  /** Start of the interval (ISO-8601, UTC, aligned to the interval). */
  time: string;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  count: number;
}

/** The `CANDLES` reply's data. */
export interface CandlesView {
  symbol: string;
  interval: CandleInterval;
  range: HistoryRange;
  /** The currency of the prices; converted at the current rate when not USD. */
  currency: string;
  /** Set when the prices were converted from the stored currency (USD). */
  converted_from?: string;
  /** The candles, oldest first: one per interval of the range, the last one still open. */
  candles: Candle[];
}

/** Whether `v` has the shape of a {@linkcode CandlesView}. */
export function isCandlesView(v: unknown): v is CandlesView {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.symbol === "string" && typeof c.interval === "string" &&
    typeof c.range === "string" && typeof c.currency === "string" && Array.isArray(c.candles) &&
    c.candles.every(isCandle);
}

function isCandle(v: unknown): v is Candle {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  const price = (x: unknown) => x === null || typeof x === "number";
  return typeof c.time === "string" && price(c.open) && price(c.high) && price(c.low) &&
    price(c.close) && typeof c.count === "number";
}
