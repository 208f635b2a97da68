/**
 * The rows of the `coins` and `exchange_rates` tables as both engines return them (times as ISO
 * text on SQLite, as `Date`s on PostgreSQL), and what they become.
 *
 * @module
 */

import type { Coin, ExchangeRate, Snapshot } from "../wire/coin.ts";
import type { StoredRates, TrackedCoin } from "./repository.ts";

/** A row of `coins`. */
export interface CoinRow {
  symbol: string;
  name: string;
  rank: number;
  price: number;
  price_text: string;
  market_cap: number | null;
  market_cap_text: string | null;
  change_24h: number | null;
  updated_at: string | null;
  fetched_at: string | Date;
  source: string;
}

/** A row of `exchange_rates`. */
export interface RateRow {
  code: string;
  name: string;
  unit: string;
  value: number;
  type: string;
  fetched_at: string | Date;
}

/** A row of `tracked_coins`: a coin row with its provider id. */
export interface TrackedRow extends CoinRow {
  id: string;
}

/** A stored time as ISO-8601 text. */
function isoTime(value: string | Date): string {
  return typeof value === "string" ? value : value.toISOString();
}

/** The snapshot of the `coins` rows (in rank order), or null when there are none. */
export function snapshotFromRows(rows: readonly CoinRow[]): Snapshot | null {
  if (rows.length === 0) return null;
  return {
    coins: rows.map(coinFromRow),
    fetchedAt: isoTime(rows[0].fetched_at),
    source: rows[0].source,
  };
}

/** The exchange rates of the `exchange_rates` rows (in stored order), or null when none. */
export function ratesFromRows(rows: readonly RateRow[]): StoredRates | null {
  if (rows.length === 0) return null;
  const rates = new Map<string, ExchangeRate>();
  for (const r of rows) {
    rates.set(r.code, { name: r.name, unit: r.unit, value: r.value, type: r.type });
  }
  return { rates, fetchedAt: isoTime(rows[0].fetched_at) };
}

function coinFromRow(row: CoinRow): Coin {
  return {
    symbol: row.symbol,
    name: row.name,
    rank: row.rank,
    price: row.price,
    priceText: row.price_text,
    marketCap: row.market_cap,
    marketCapText: row.market_cap_text,
    change24h: row.change_24h,
    updatedAt: row.updated_at,
  };
}

/** The row of `coin` as stored in `coins` (and, with its id, in `tracked_coins`). */
export function coinRow(
  c: Coin,
  fetchedAt: string,
  source: string,
): CoinRow & { fetched_at: string } {
  return {
    symbol: c.symbol,
    name: c.name,
    rank: c.rank,
    price: c.price,
    price_text: c.priceText,
    market_cap: c.marketCap,
    market_cap_text: c.marketCapText,
    change_24h: c.change24h,
    updated_at: c.updatedAt,
    fetched_at: fetchedAt,
    source,
  };
}

/** The tracked coin of a `tracked_coins` row. */
export function trackedFromRow(row: TrackedRow): TrackedCoin {
  return {
    coin: { ...coinFromRow(row), id: row.id },
    fetchedAt: isoTime(row.fetched_at),
    source: row.source,
  };
}
