/**
 * A realistic CoinGecko `/coins/list` of about 17,000 coins, generated at test time from a seed
 * plus the recorded coins (the 2021, 2022 and 2025 market recordings), so the repository keeps
 * no 1.5 MB file. Real lists have lower-case symbols, many symbols shared by several coins, and
 * ids of up to ~80 characters; so does this one. Also the market record CoinGecko would send for
 * any listed id, made from the id so every test sees the same prices.
 *
 * @module
 */

import { mulberry32 } from "../../lib/demo/upstream.ts";

/** One `/coins/list` entry as CoinGecko sends it. */
export interface ListedCoin {
  id: string;
  symbol: string;
  name: string;
}

/** Long-tail coins tests ask for by name: outside every recorded top 100. */
export const LONG_TAIL: readonly ListedCoin[] = [
  { id: "pepe", symbol: "pepe", name: "Pepe" },
  { id: "pepecoin-network", symbol: "pepecoin", name: "PepeCoin" },
  { id: "based-pepe", symbol: "pepe", name: "Based Pepe" },
  { id: "dogwifcoin", symbol: "wif", name: "dogwifhat" },
  { id: "bonk", symbol: "bonk", name: "Bonk" },
  { id: "floki", symbol: "floki", name: "FLOKI" },
];

const RECORDINGS = [
  "../testdata/coingecko_markets_usd_2022-10-04.json",
  "../testdata/coingecko_markets_usd_2021-06-24.json",
];

const SYLLABLES = ["ba", "ko", "zen", "ri", "mo", "chi", "lu", "xa", "qua", "vo", "ti", "nex"];
const WORDS = ["Protocol", "Finance", "Token", "Network", "Inu", "Swap", "DAO", "Chain", "AI"];

/** The recorded coins, then the long tail, then generated coins up to `count`. */
export async function coinList(count = 17_000, seed = 22): Promise<ListedCoin[]> {
  const list: ListedCoin[] = [];
  const ids = new Set<string>();
  const add = (coin: ListedCoin) => {
    if (ids.has(coin.id)) return;
    ids.add(coin.id);
    list.push(coin);
  };
  for (const path of RECORDINGS) {
    const records = JSON.parse(await Deno.readTextFile(new URL(path, import.meta.url)));
    for (const r of records) add({ id: r.id, symbol: r.symbol, name: r.name });
  }
  LONG_TAIL.forEach(add);
  const next = mulberry32(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  while (list.length < count) {
    const stem = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(SYLLABLES)).join(
      "",
    );
    const name = `${stem[0].toUpperCase()}${stem.slice(1)} ${pick(WORDS)}`;
    // A third of the symbols are shared, as in the real list (bridged and copy-cat tokens).
    const symbol = next() < 0.3 ? pick(list).symbol : stem.slice(0, 3 + Math.floor(next() * 4));
    add({ id: `${name.toLowerCase().replaceAll(" ", "-")}-${list.length}`, symbol, name });
  }
  return list;
}

/** A number from an id, the same on every run. */
function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The `/coins/markets` record CoinGecko would send for `coin`, as JSON text: prices and market
 * caps made from its id (prices move by 1% a `generation`); `pepe` has the largest cap of the coins called PEPE.
 */
export function marketRecordJson(coin: ListedCoin, fetchedAt: string, generation = 0): string {
  const h = hash(coin.id);
  const price = (((h % 100_000) / 1e7 + 1e-8) * (1 + generation / 100)).toFixed(12)
    .replace(/0+$/, "");
  const cap = coin.id === "pepe" ? 3_500_000_000 : 1000 + (h % 900_000_000);
  return JSON.stringify({
    id: coin.id,
    symbol: coin.symbol,
    name: coin.name,
    market_cap_rank: coin.id === "pepe" ? 120 : null,
    market_cap: 0,
    price_change_percentage_24h: ((h % 2000) - 1000) / 100,
    last_updated: fetchedAt,
    current_price: 0,
  }).replace('"market_cap":0', `"market_cap":${cap}`).replace(
    '"current_price":0',
    `"current_price":${price}`,
  );
}
