/**
 * `/api/v3` in process, where the ids come from: the ingestion's (in memory), or the coin
 * directory for a snapshot loaded from storage, which keeps no ids.
 */

import assert from "node:assert/strict";
import { HttpResponder } from "../../lib/http/http_responder.ts";
import type { CoinCatalog, ListedCoin } from "../../lib/http/coingecko_api.ts";
import { Market } from "../../lib/server/market.ts";
import type { Snapshot } from "../../lib/wire/coin.ts";
import { fixtureSnapshot } from "../helpers.ts";
import { askInProcess, text } from "./_http.ts";

/** A directory over a list, searched by symbol then name, as the real one orders its results. */
class ListCatalog implements CoinCatalog {
  constructor(readonly entries: readonly ListedCoin[]) {}
  list() {
    return this.entries;
  }
  byId(id: string) {
    return this.entries.find((entry) => entry.id === id);
  }
  bySymbol(symbol: string) {
    return this.entries.filter((entry) => entry.symbol === symbol);
  }
  search(query: string, limit: number) {
    const q = query.toUpperCase();
    return this.entries.filter((e) => e.symbol === q || e.name.toUpperCase().startsWith(q))
      .slice(0, limit);
  }
}

async function served(catalog: CoinCatalog | null) {
  const snapshot = await fixtureSnapshot(10);
  // As loadSnapshot returns it: the ids are not stored.
  const stored: Snapshot = { ...snapshot, coins: snapshot.coins.map(({ id: _, ...coin }) => coin) };
  const now = Date.parse(snapshot.fetchedAt) + 1000;
  const market = new Market({ staleAfterMs: 60_000, now: () => now });
  market.update(stored);
  const responder = new HttpResponder({
    market,
    staleAfterMs: 60_000,
    refreshMs: 60_000,
    corsOrigin: "*",
    coinCatalog: () => catalog,
  });
  const get = async (path: string) => {
    const { responses } = await askInProcess(
      responder,
      `GET /api/v3/${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
      now,
    );
    const [response] = responses;
    return {
      status: response.status,
      etag: response.headers.get("etag"),
      body: JSON.parse(text(response)),
    };
  };
  return { snapshot, market, get };
}

Deno.test("a snapshot loaded from storage without a directory serves no coin by id", async () => {
  const { get } = await served(null);
  assert.deepEqual((await get("coins/list")).body, []);
  assert.deepEqual((await get("simple/price?ids=bitcoin&vs_currencies=usd")).body, {});
  assert.deepEqual((await get("coins/markets?vs_currency=usd")).body, []);
});

Deno.test("the directory names stored coins, lists every coin and answers searches", async () => {
  const entries: ListedCoin[] = [
    { id: "bitcoin", symbol: "BTC", name: "Bitcoin" },
    { id: "ethereum", symbol: "ETH", name: "Ethereum" },
    { id: "ethereum-wormhole", symbol: "ETH", name: "Ethereum (Wormhole)" },
    { id: "tether", symbol: "USDT", name: "Tether" },
    { id: "pepe", symbol: "PEPE", name: "Pepe" },
  ];
  const { snapshot, get } = await served(new ListCatalog(entries));
  const markets = (await get("coins/markets?vs_currency=usd")).body as { id: string }[];
  assert.deepEqual(
    markets.map((coin) => coin.id),
    ["bitcoin", "ethereum", "tether"],
    "named by symbol and name; coins the directory does not list are left out",
  );
  const prices = (await get("simple/price?ids=ethereum&vs_currencies=usd")).body;
  assert.deepEqual(prices, { ethereum: { usd: snapshot.coins[1].price } });
  const list = (await get("coins/list")).body as { id: string; symbol: string }[];
  assert.deepEqual(list.map((coin) => coin.id), entries.map((entry) => entry.id));
  assert.equal(list[4].symbol, "pepe");
  const found = (await get("search?query=pepe")).body;
  assert.deepEqual(found.coins, [
    { id: "pepe", name: "Pepe", api_symbol: "pepe", symbol: "PEPE", market_cap_rank: null },
  ]);
  const eth = (await get("search?query=eth")).body.coins as {
    id: string;
    market_cap_rank: number;
  }[];
  assert.deepEqual(eth.map((coin) => [coin.id, coin.market_cap_rank]), [
    ["ethereum", 2],
    ["ethereum-wormhole", null],
  ]);
});

Deno.test("a new snapshot is answered at once, with a new ETag", async () => {
  const catalog = new ListCatalog([{ id: "bitcoin", symbol: "BTC", name: "Bitcoin" }]);
  const { snapshot, market, get } = await served(catalog);
  const first = await get("simple/price?ids=bitcoin&vs_currencies=usd");
  assert.deepEqual(first.body, { bitcoin: { usd: 20220 } });
  const coins = snapshot.coins.map((coin, i) =>
    i === 0 ? { ...coin, price: 21000, priceText: "21000" } : coin
  );
  market.update({
    ...snapshot,
    coins,
    fetchedAt: new Date(Date.parse(snapshot.fetchedAt) + 1).toISOString(),
  });
  const second = await get("simple/price?ids=bitcoin&vs_currencies=usd");
  assert.deepEqual(second.body, { bitcoin: { usd: 21000 } });
  assert.notEqual(second.etag, first.etag);
});
