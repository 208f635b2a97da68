/**
 * The windows a `HISTORY` request can ask for.
 *
 * @module
 */

/** The windows `HISTORY` accepts, shortest first, as replies name them (requests in any case). */
export const HISTORY_RANGES = ["1h", "24h", "7d", "30d"] as const;

/** A `HISTORY` window. */
export type HistoryRange = typeof HISTORY_RANGES[number];

/** The length of each `HISTORY` window in milliseconds. */
export const HISTORY_RANGE_MS: Readonly<Record<HistoryRange, number>> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

/** Whether `text` names a `HISTORY` window exactly (lower case). */
export function isHistoryRange(text: string): text is HistoryRange {
  return (HISTORY_RANGES as readonly string[]).includes(text);
}
