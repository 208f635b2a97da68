/**
 * A coin as the server sends it in v2 replies (`MARKET`, `WATCH` and its update events): the
 * shape the server's encoder writes and the client's parser and formatters read.
 *
 * @module
 */

/** A coin as the server sends it in v2 replies. */
export interface CoinView {
  /** Ticker in upper case, e.g. `BTC`. */
  symbol: string;
  /** Display name, e.g. `Bitcoin`. */
  name: string;
  /** Price in {@linkcode CoinView.currency}. */
  price: number;
  /** Quote currency, e.g. `USD`. */
  currency: string;
  /** Market-cap rank, 1 = largest. */
  rank: number;
  /** Market capitalisation in {@linkcode CoinView.currency}, when the upstream gave one. */
  market_cap: number | null;
  /** Price change over 24 hours in percent. */
  change_24h: number | null;
  /** When the upstream last updated this coin (ISO-8601). */
  updated_at: string | null;
  /** When the server fetched the snapshot this coin belongs to (ISO-8601). */
  fetched_at: string;
  /** Provider of the data, e.g. `coingecko`. */
  source: string;
  /** True when the server could not refresh its data recently. */
  stale: boolean;
}

/** Whether `v` has every field of a {@linkcode CoinView}, each of its type. */
export function isCoinView(v: unknown): v is CoinView {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return typeof c.symbol === "string" && typeof c.name === "string" &&
    typeof c.price === "number" && typeof c.currency === "string" &&
    typeof c.rank === "number" && numberOrNull(c.market_cap) && numberOrNull(c.change_24h) &&
    (c.updated_at === null || typeof c.updated_at === "string") &&
    typeof c.fetched_at === "string" && typeof c.source === "string" &&
    typeof c.stale === "boolean";
}

function numberOrNull(v: unknown): boolean {
  return v === null || typeof v === "number";
}
