/**
 * Snapshots as a new ingestion would make them, for tests that need WATCH update events.
 *
 * @module
 */

import type { Snapshot } from "../lib/wire/coin.ts";

/** The snapshot with BTC's price moved by `cents`, as if a new ingestion had happened. */
export function movedBtc(snapshot: Snapshot, cents: number): Snapshot {
  return moved(snapshot, cents, "BTC");
}

/** The snapshot with prices (of `only`, or all) moved by `cents`. */
export function moved(snapshot: Snapshot, cents: number, only?: string): Snapshot {
  return {
    ...snapshot,
    fetchedAt: new Date(Date.parse(snapshot.fetchedAt) + 1000).toISOString(),
    coins: snapshot.coins.map((coin) => {
      if (only !== undefined && coin.symbol !== only) return coin;
      const price = Math.round(coin.price * 100 + cents) / 100;
      return { ...coin, price, priceText: String(price) };
    }),
  };
}
