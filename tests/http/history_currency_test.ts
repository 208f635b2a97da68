/**
 * `GET /api/v1/coins/BTC/history?currency=EUR` over a real socket, against a known stored
 * history: the USD history converted at the current rate, as `MARKET` converts prices.
 */
import assert from "node:assert/strict";
import { startTestService } from "../helpers.ts";
import { seedPreviousVersion } from "../history_seed.ts";

const RATES = JSON.parse(
  await Deno.readTextFile(
    new URL("../testdata/coingecko_exchange_rates_2021.json", import.meta.url),
  ),
).rates as Record<string, { value: number }>;

Deno.test("history in EUR over HTTP: the stored USD prices converted at the current rate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crypto-history-eur-" });
  // Ten stored BTC prices, 20000 to 20009, one a minute (each its own 24h bucket), the last
  // five minutes ago; the service's first ingestion adds 20220 now.
  seedPreviousVersion(`${dir}/crypto.sqlite`, 10, 60, Math.floor(Date.now() / 1000) - 300);
  await using env = await startTestService([], { dir });
  const base = `http://127.0.0.1:${env.service.httpAddr!.port}/api/v1/coins/BTC/history`;
  const usdResponse = await fetch(`${base}?range=24h`);
  assert.equal(usdResponse.status, 200);
  const usd = await usdResponse.json();
  const stored = [...Array.from({ length: 10 }, (_, i) => 20000 + i), 20220];
  assert.deepEqual(usd.points.map(([, price]: [string, number]) => price), stored);

  const response = await fetch(`${base}?range=24h&currency=eur`);
  assert.equal(response.status, 200);
  const eur = await response.json();
  const toEur = (price: number) => (price * RATES.eur.value) / RATES.usd.value;
  assert.deepEqual(eur, {
    symbol: "BTC",
    range: "24h",
    currency: "EUR",
    count: 11,
    points: usd.points.map(([time, price]: [string, number]) => [time, toEur(price)]),
    first: toEur(20000),
    last: toEur(20220),
    min: toEur(20000),
    max: toEur(20220),
    change_pct: usd.change_pct,
  });
  // The latest point in EUR is BTC's current EUR price, as MARKET BTC EUR answers it.
  const market = await (await fetch(`${base.replace("/history", "")}?currency=EUR`)).json();
  assert.equal(eur.last, market.price);
  assert.notEqual(response.headers.get("etag"), usdResponse.headers.get("etag"));

  const unknown = await fetch(`${base}?currency=XYZ`);
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, "UNKNOWN_CURRENCY");
  const bad = await fetch(`${base}?currency=E1`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "BAD_REQUEST");
});
