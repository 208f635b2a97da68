/**
 * Coins of the directory outside the snapshot, for `/api/v3`: asked of the Market as
 * `MARKET id:<id>`, which answers a tracked coin at once and fetches the others on demand (one
 * batched upstream request for everything asked in the same moment, see lib/server/long_tail.ts).
 *
 * @module
 */

import type { Answer } from "../server/market.ts";
import type { Coin } from "../wire/coin.ts";
import type { IdentifiedCoin } from "./_coingecko_bodies.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Asks the Market one v2 request line and answers it (maybe later). */
export type Ask = (line: Uint8Array) => Answer;

/** The coins found (ids the upstream does not know are left out), or why they cannot be had. */
export type Outside = { coins: IdentifiedCoin[] } | { status: number; message: string };

/** The v2 coin object of a `MARKET` reply. */
interface CoinObject {
  symbol: string;
  name: string;
  price: number;
  rank: number;
  market_cap: number | null;
  change_24h: number | null;
  updated_at: string | null;
}

/** The coins of `ids` (none of them in the snapshot), asked of the Market in USD. */
export async function askOutside(ids: readonly string[], ask: Ask): Promise<Outside> {
  const answers = await Promise.all(ids.map((id) => {
    const answer = ask(encoder.encode(JSON.stringify({ v: 2, data: `MARKET id:${id}` })));
    return answer.later ?? answer;
  }));
  const coins: IdentifiedCoin[] = [];
  for (const [i, answer] of answers.entries()) {
    const reply = JSON.parse(decoder.decode(answer.bytes)) as { data: unknown };
    if (answer.error === "UNKNOWN_COIN") continue;
    if (answer.error !== null) {
      // A coin that could not be fetched now is not a coin that does not exist: no answer
      // leaves it out as unknown.
      const status = answer.error === "BUSY" ? 429 : 503;
      return { status, message: `Cannot answer for ${ids[i]} now: ${String(reply.data)}` };
    }
    coins.push({ id: ids[i], coin: coinOf(reply.data as CoinObject) });
  }
  return { coins };
}

/** A coin from its v2 object: numbers keep their value (their text is the shortest form). */
function coinOf(object: CoinObject): Coin {
  return {
    symbol: object.symbol,
    name: object.name,
    rank: object.rank,
    price: object.price,
    priceText: JSON.stringify(object.price),
    marketCap: object.market_cap,
    marketCapText: object.market_cap === null ? null : JSON.stringify(object.market_cap),
    change24h: object.change_24h,
    updatedAt: object.updated_at,
  };
}

/** Coins in CoinGecko's `market_cap_desc` order: the largest market cap first, unknown last. */
export function byMarketCap(coins: IdentifiedCoin[]): IdentifiedCoin[] {
  return coins.sort((a, b) => (b.coin.marketCap ?? -1) - (a.coin.marketCap ?? -1));
}
