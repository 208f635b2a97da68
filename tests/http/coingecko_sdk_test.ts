/**
 * The CoinGecko-compatible API through CoinGecko's own, unmodified SDK: a real server ingesting
 * the recorded 2022-10-04 markets from a local fake upstream, asked over real sockets; every value
 * is compared with the recorded fixture and with what `/api/v1` says.
 */

import assert from "node:assert/strict";
import Coingecko, { BadRequestError, NotFoundError } from "@coingecko/coingecko-typescript";
import { startTestService } from "../helpers.ts";

const FIXTURE_URL = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
const RATES_URL = new URL("../testdata/coingecko_exchange_rates_2021.json", import.meta.url);

interface Recorded {
  id: string;
  symbol: string;
  name: string;
  current_price: number;
  market_cap: number;
  market_cap_rank: number;
  price_change_percentage_24h: number;
  last_updated: string;
}

interface V1Coin {
  symbol: string;
  price: number;
  market_cap: number;
  rank: number;
  change_24h: number;
}

async function setUp() {
  const t = await startTestService();
  // Coins are named by the directory, fetched once the first snapshot is served.
  await t.logs.waitFor(/^coin directory: \d+ coins/);
  const base = `http://127.0.0.1:${t.service.httpAddr!.port}`;
  const client = new Coingecko({
    baseURL: `${base}/api/v3`,
    demoAPIKey: "CG-test-demo-key",
    maxRetries: 0,
  });
  const recorded: Recorded[] = JSON.parse(await Deno.readTextFile(FIXTURE_URL));
  const v1 = async (path: string) => await (await fetch(`${base}/api/v1/${path}`)).json();
  return { t, base, client, recorded, v1 };
}

Deno.test("the SDK reads ping, simple price, supported currencies and exchange rates", async () => {
  const { t, client, recorded, v1 } = await setUp();
  await using _ = t;
  assert.deepEqual(await client.ping.get(), { gecko_says: "(V3) To the Moon!" });
  const btc = recorded[0];
  const prices = await client.simple.price.get({
    ids: "bitcoin,ethereum,no-such-coin",
    vs_currencies: "usd,eur",
    include_market_cap: true,
    include_24hr_change: true,
    include_last_updated_at: true,
  });
  assert.deepEqual(Object.keys(prices), ["bitcoin", "ethereum"], "an unknown id is left out");
  const eur: V1Coin = await v1("coins/btc?currency=EUR");
  assert.deepEqual(prices.bitcoin, {
    usd: btc.current_price,
    usd_market_cap: btc.market_cap,
    usd_24h_change: btc.price_change_percentage_24h,
    eur: eur.price,
    eur_market_cap: eur.market_cap,
    eur_24h_change: eur.change_24h,
    last_updated_at: Math.floor(Date.parse(btc.last_updated) / 1000),
  });
  assert.equal(prices.ethereum.usd, recorded[1].current_price);
  const rounded = await client.simple.price.get({
    ids: "ethereum",
    vs_currencies: "usd",
    precision: "0",
  });
  assert.deepEqual(rounded, { ethereum: { usd: Math.round(recorded[1].current_price) } });
  const supported = await client.simple.supportedVsCurrencies.get();
  const currencies: { code: string }[] = await v1("currencies");
  assert.deepEqual(
    [...supported].sort(),
    currencies.map(({ code }) => code.toLowerCase()).sort(),
  );
  assert.ok(supported.includes("usd") && supported.includes("eur"));
  const rates = await client.exchangeRates.get();
  assert.deepEqual(rates, JSON.parse(await Deno.readTextFile(RATES_URL)));
});

Deno.test("the SDK reads coins/markets pages, coins/list, search and a market chart", async () => {
  const { t, client, recorded, v1 } = await setUp();
  await using _ = t;
  const page = await client.coins.markets.get({ vs_currency: "eur", per_page: 3, page: 2 });
  const eur: V1Coin[] = await v1("coins?currency=EUR");
  assert.deepEqual(page.map((coin) => coin.market_cap_rank), [4, 5, 6]);
  for (const [i, coin] of page.entries()) {
    const want = recorded[i + 3];
    assert.equal(coin.id, want.id);
    assert.equal(coin.symbol, want.symbol);
    assert.equal(coin.name, want.name);
    assert.equal(coin.current_price, eur[i + 3].price);
    assert.equal(coin.market_cap, eur[i + 3].market_cap);
    assert.equal(coin.price_change_percentage_24h, want.price_change_percentage_24h);
    assert.equal(coin.last_updated, want.last_updated);
    assert.equal(coin.total_volume, null, "a field we do not store is null, not made up");
  }
  const picked = await client.coins.markets.get({
    vs_currency: "usd",
    ids: "tether,bitcoin",
    order: "market_cap_desc",
    sparkline: false,
    locale: "en",
  });
  assert.deepEqual(picked.map((coin) => [coin.id, coin.current_price]), [
    ["bitcoin", recorded[0].current_price],
    ["tether", recorded.find((coin) => coin.id === "tether")!.current_price],
  ]);
  const listed = await client.coins.list.get();
  assert.deepEqual(
    listed,
    recorded.map(({ id, symbol, name }) => ({ id, symbol, name })),
    "the directory: every coin the upstream lists, beyond the 10 served",
  );
  const served: V1Coin[] = await v1("coins");
  const all = await client.coins.markets.get({ vs_currency: "usd" });
  assert.deepEqual(
    all.map((coin) => [coin.id, coin.market_cap_rank, coin.current_price]),
    served.map((coin) => [
      recorded.find((r) => r.symbol.toUpperCase() === coin.symbol)!.id,
      coin.rank,
      coin.price,
    ]),
  );
  const found = await client.search.get({ query: "eth" });
  assert.equal(found.coins[0].id, "ethereum");
  assert.equal(found.coins[0].symbol, "ETH");
  assert.equal(found.coins[0].market_cap_rank, 2);
  assert.deepEqual(found.exchanges, []);
  const chart = await client.coins.marketChart.get("bitcoin", { vs_currency: "usd", days: "1" });
  const history: { points: [string, number][] } = await v1("coins/BTC/history?range=24h");
  assert.ok(history.points.length > 0, "the ingestion stored a price");
  assert.deepEqual(chart.prices, history.points.map(([at, price]) => [Date.parse(at), price]));
  assert.deepEqual(chart.market_caps, []);
});

Deno.test("the SDK gets coins of the directory beyond the top N, fetched on demand", async () => {
  const { t, client, recorded, v1 } = await setUp();
  await using _ = t;
  const far = recorded[20];
  const before = t.upstream.requestCount;
  const prices = await client.simple.price.get({
    ids: `${far.id},bitcoin`,
    vs_currencies: "usd,eur",
    include_market_cap: true,
  });
  assert.equal(t.upstream.requestCount, before + 1, "one upstream request for the coin");
  const eur: V1Coin = await v1(`coins/id:${far.id}?currency=EUR`);
  assert.deepEqual(prices[far.id], {
    usd: far.current_price,
    usd_market_cap: far.market_cap,
    eur: eur.price,
    eur_market_cap: eur.market_cap,
  });
  assert.equal(prices.bitcoin.usd, recorded[0].current_price);
  const page = await client.coins.markets.get({ vs_currency: "usd", ids: `${far.id},bitcoin` });
  assert.deepEqual(page.map((coin) => [coin.id, coin.current_price, coin.market_cap_rank]), [
    ["bitcoin", recorded[0].current_price, 1],
    [far.id, far.current_price, far.market_cap_rank],
  ]);
  assert.equal(t.upstream.requestCount, before + 1, "tracked since: no second request");
  await assert.rejects(
    client.coins.marketChart.get(far.id, { vs_currency: "usd", days: "1" }),
    (error) =>
      error instanceof NotFoundError && /kept for the top N coins only/.test(error.message),
  );
});

Deno.test("unsupported parameters get CoinGecko's error shape and a 400, never a wrong answer", async () => {
  const { t, base, client } = await setUp();
  await using _ = t;
  const refusals: [string, RegExp][] = [
    ["coins/markets?vs_currency=usd&order=volume_desc", /order=volume_desc is not supported/],
    ["coins/markets?vs_currency=usd&sparkline=true", /sparkline=true is not supported/],
    [
      "coins/markets?vs_currency=usd&price_change_percentage=1h",
      /price_change_percentage=1h is not supported/,
    ],
    ["coins/markets?vs_currency=usd&x_cg_pro_api_key=abc", /x_cg_pro_api_key is not used/],
    ["coins/markets?vs_currency=usd&category=meme", /Unsupported parameter category=meme/],
    ["coins/markets?vs_currency=usd&locale=fr", /Unsupported parameter locale=fr/],
    ["coins/markets?vs_currency=xyz", /Unknown vs_currency xyz/],
    ["coins/markets?vs_currency=usd&per_page=251", /per_page=251: expected an integer/],
    ["coins/markets", /Missing parameter vs_currency/],
    ["simple/price?ids=bitcoin&vs_currencies=usd&include_24hr_vol=true", /volumes are not stored/],
    ["simple/price?ids=bitcoin&vs_currencies=usd&precision=19", /precision=19/],
    ["coins/bitcoin/market_chart?vs_currency=eur&days=1", /kept in USD only/],
    ["coins/bitcoin/market_chart?vs_currency=usd&days=max", /days=max is not supported/],
    ["coins/list?include_platform=true", /Unsupported parameter include_platform/],
  ];
  for (const [path, message] of refusals) {
    const response = await fetch(`${base}/api/v3/${path}`);
    assert.equal(response.status, 400, path);
    const body = await response.json();
    assert.deepEqual(Object.keys(body), ["error"], path);
    assert.match(body.error, message, path);
  }
  await assert.rejects(
    client.coins.markets.get({ vs_currency: "usd", order: "volume_desc" }),
    (error) => error instanceof BadRequestError && /order=volume_desc/.test(error.message),
  );
  await assert.rejects(
    client.coins.marketChart.get("no-such-coin", { vs_currency: "usd", days: "1" }),
    NotFoundError,
  );
  const unknown = await fetch(`${base}/api/v3/coins/bitcoin/tickers`);
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error, /No such path/);
});

Deno.test("/api/v3 caches, compresses and allows origins as /api/v1 does", async () => {
  const { t, base } = await setUp();
  await using _ = t;
  const url = `${base}/api/v3/coins/markets?vs_currency=usd`;
  const first = await fetch(url, { headers: { "accept-encoding": "gzip" } });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-encoding"), "gzip");
  assert.equal(first.headers.get("access-control-allow-origin"), "*");
  assert.match(first.headers.get("cache-control")!, /^public, max-age=\d+$/);
  assert.equal((await first.json()).length, 10);
  const again = await fetch(url, { headers: { "if-none-match": first.headers.get("etag")! } });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  const refused = await fetch(`${base}/api/v3/coins/markets?vs_currency=usd&sparkline=true`);
  assert.equal(refused.headers.get("cache-control"), "no-cache");
  await refused.body?.cancel();
});
