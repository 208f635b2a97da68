/**
 * A `HISTORY` reply's prices in another currency. History is stored in USD only, so the server's
 * HTTP API and the client both show it in another currency by converting every price at the
 * current rate, through this one function.
 *
 * @module
 */

/** The fields of a `HISTORY` reply that carry prices, and the currency they are in. */
export interface HistoryPrices {
  /** Currency of the prices, e.g. `USD`. */
  currency: string;
  /** `[ISO-8601 time, price]` pairs, oldest first. */
  points: [string, number][];
  first: number | null;
  last: number | null;
  min: number | null;
  max: number | null;
}

/**
 * `history` with every price passed through `convert` and `currency` set to say which; the
 * other fields (`count`, `change_pct`: a ratio, the same in any currency) are kept as they are.
 */
export function convertHistory<H extends HistoryPrices>(
  history: H,
  currency: string,
  convert: (price: number) => number,
): H {
  const or = (price: number | null) => price === null ? null : convert(price);
  return {
    ...history,
    currency,
    points: history.points.map(([time, price]) => [time, convert(price)]),
    first: or(history.first),
    last: or(history.last),
    min: or(history.min),
    max: or(history.max),
  };
}
