/**
 * The `HISTORY` reply of one coin's stored series.
 *
 * @module
 */

import type { Answer } from "./market.ts";
import type { HistoryRange } from "../wire/history_range.ts";
import type { HistorySeries } from "../storage/repository.ts";
import { encodeOk } from "../wire/reply.ts";

/** The `HISTORY` reply for one series. */
export function historyReply(symbol: string, range: HistoryRange, series: HistorySeries): Answer {
  const first = series.points[0]?.[1] ?? null;
  const last = series.points.at(-1)?.[1] ?? null;
  const change = first !== null && last !== null && first !== 0
    ? ((last - first) / first) * 100
    : null;
  return {
    bytes: encodeOk(
      JSON.stringify({
        symbol,
        range,
        currency: "USD",
        count: series.count,
        points: series.points,
        first,
        last,
        min: series.min,
        max: series.max,
        change_pct: change,
      }),
    ),
    close: false,
    command: "HISTORY",
    error: null,
  };
}
