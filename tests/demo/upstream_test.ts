import assert from "node:assert/strict";
import { DemoMarket, startDemoUpstream } from "../../lib/demo/upstream.ts";
import { fetchExchangeRates, fetchMarkets } from "../../lib/ingest/coingecko.ts";
import { pricingFor, type Rates, ratesFrom } from "../../lib/server/currency.ts";
import type { Coin } from "../../lib/wire/coin.ts";

/** A coin's price in `code` as the server serves it. */
function priceIn(coin: Coin, rates: Rates, code: string): number {
  return Number(pricingFor(rates, code)!.price(coin));
}

const NOW = () => new Date("2026-01-01T00:00:00.000Z");

Deno.test("the demo serves the recording first, then moves every price a little each time", () => {
  const market = new DemoMarket({ now: NOW });
  const recorded = market.step();
  assert.equal(recorded[0].symbol, "btc");
  assert.equal(recorded[0].current_price, 20220);
  let previous = recorded;
  for (let i = 0; i < 20; i++) {
    const next = market.step();
    const moved = next.filter((c, n) => c.current_price !== previous[n].current_price);
    // Stable coins may round to the same price; the others move every time.
    assert.ok(moved.length >= 6, `only ${moved.length} prices moved at step ${i}`);
    for (const [n, coin] of next.entries()) {
      const change = Math.abs(coin.current_price / previous[n].current_price - 1);
      assert.ok(change < 0.02, `${coin.symbol} moved ${change * 100}% in one step`);
      assert.equal(coin.last_updated, "2026-01-01T00:00:00.000Z");
    }
    previous = next;
  }
});

Deno.test("the same seed gives the same walk, another seed another one", () => {
  const walk = (seed: number) => {
    const market = new DemoMarket({ seed, now: NOW });
    for (let i = 0; i < 5; i++) market.step();
    return market.coins.map((c) => c.current_price);
  };
  assert.deepEqual(walk(7), walk(7));
  assert.notDeepEqual(walk(7), walk(8));
});

Deno.test("the demo's 24h change and market cap follow the moved price", () => {
  const market = new DemoMarket({ now: NOW });
  market.step();
  const btc = market.step()[0];
  // 3.50933% up from the price of 24 hours before the recording.
  const dayAgo = 20220 / 1.0350933;
  assert.ok(
    Math.abs(btc.price_change_percentage_24h! - (btc.current_price / dayAgo - 1) * 100) < 1e-4,
  );
  assert.ok(Math.abs(btc.market_cap! / 388264926667 - btc.current_price / 20220) < 1e-9);
});

Deno.test("the demo's exchange rates agree with the prices it serves", async () => {
  await using upstream = startDemoUpstream({ seed: 3 });
  for (let round = 0; round < 3; round++) {
    const coins = await fetchMarkets({ apiUrl: upstream.baseUrl, top: 10 });
    const rates = ratesFrom(await fetchExchangeRates({ apiUrl: upstream.baseUrl }), "now");
    const btc = coins.find((c) => c.symbol === "BTC")!;
    const eth = coins.find((c) => c.symbol === "ETH")!;
    if (round === 0) assert.equal(btc.price, 20220);
    assert.equal(priceIn(btc, rates, "BTC"), 1);
    assert.equal(priceIn(btc, rates, "SATS"), 100_000_000);
    // Exact up to the last bit of a double: the server multiplies before it divides.
    assert.ok(Math.abs(priceIn(btc, rates, "BITS") / 1_000_000 - 1) < 1e-15);
    assert.ok(Math.abs(priceIn(eth, rates, "ETH") - 1) < 1e-12);
    assert.ok(Math.abs(priceIn(btc, rates, "ETH") - btc.price / eth.price) < 1e-9);
    // Fiat keeps the recorded ratio to the dollar: 52922.867 EUR and 61388.956 USD per BTC.
    const eur = priceIn(btc, rates, "EUR") / btc.price;
    assert.ok(Math.abs(eur - 52922.867 / 61388.956) < 1e-12);
    // A coin the demo does not serve has no rate, rather than a made-up one.
    assert.equal(rates.byCode.has("YFI"), false);
  }
});

Deno.test("the recordings the demo ships are the tests' fixtures: one copy of the bytes", async () => {
  const pairs = [
    ["coingecko_markets_usd_2022-10-04.json", "markets.json"],
    ["coingecko_exchange_rates_2021.json", "exchange_rates.json"],
  ];
  for (const [fixture, shipped] of pairs) {
    const link = new URL(`../testdata/${fixture}`, import.meta.url);
    assert.ok((await Deno.lstat(link)).isSymlink, `${fixture} is a link, not a second copy`);
    assert.equal(
      await Deno.realPath(link),
      await Deno.realPath(new URL(`../../lib/demo/data/${shipped}`, import.meta.url)),
    );
  }
});

Deno.test("the demo stamps its first answer with the time, and can start from given prices", () => {
  const fresh = new DemoMarket({ now: NOW }).step();
  assert.ok(fresh.every((coin) => coin.last_updated === "2026-01-01T00:00:00.000Z"));
  const market = new DemoMarket({ now: NOW, startFrom: new Map([["BTC", 21_000.5]]) });
  const first = market.step();
  assert.equal(first[0].current_price, 21_000.5);
  assert.equal(
    first[1].current_price,
    fresh[1].current_price,
    "a coin not named starts as recorded",
  );
  const moved = market.step()[0].current_price;
  assert.ok(Math.abs(moved / 21_000.5 - 1) < 0.02, `${moved}`);
});
