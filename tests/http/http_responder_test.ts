import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { HttpResponder } from "../../lib/http/http_responder.ts";
import { Market } from "../../lib/server/market.ts";
import { ratesFrom } from "../../lib/server/currency.ts";
import type { Coin } from "../../lib/wire/coin.ts";
import type { HistorySeries } from "../../lib/storage/repository.ts";
import { BTC_2022 } from "../helpers.ts";
import { askInProcess, text } from "./_http.ts";

const FETCHED_AT = "2022-10-04T20:17:00.000Z";
const NOW = Date.parse(FETCHED_AT) + 10_000;
const encoder = new TextEncoder();

const HOSTILE: Coin = {
  ...BTC_2022,
  symbol: "EVIL",
  name: '<script>alert(1)</script>\x1b[31mRED\u202eevil"\\',
  rank: 2,
  price: 1,
  priceText: "1",
};

function marketWith(coins: Coin[] = [BTC_2022, HOSTILE], now = NOW) {
  const market = new Market({
    staleAfterMs: 60_000,
    now: () => now,
    history: (): Promise<HistorySeries> =>
      Promise.resolve({ points: [[FETCHED_AT, 20220]], count: 1, min: 20220, max: 20220 }),
  });
  market.updateRates(ratesFrom(
    new Map([
      ["usd", { name: "US Dollar", unit: "$", value: 20000, type: "fiat" }],
      ["eur", { name: "Euro", unit: "€", value: 10000, type: "fiat" }],
    ]),
    FETCHED_AT,
  ));
  market.update({ coins, fetchedAt: FETCHED_AT, source: "coingecko" });
  return market;
}

function responder(market = marketWith(), corsOrigin = "*", metrics?: () => string) {
  return new HttpResponder({
    market,
    staleAfterMs: 60_000,
    refreshMs: 60_000,
    corsOrigin,
    metrics,
  });
}

async function get(r: HttpResponder, target: string, headers = "", method = "GET") {
  const { responses, close } = await askInProcess(
    r,
    `${method} ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`,
    NOW,
  );
  assert.equal(responses.length, 1);
  return { ...responses[0], close };
}

/** The v2 protocol's reply data for `data`, from the same market. */
async function v2Data(market: Market, data: string): Promise<unknown> {
  const answer = market.respond(encoder.encode(JSON.stringify({ v: 2, data })), NOW);
  return JSON.parse(new TextDecoder().decode((await answer.later ?? answer).bytes)).data;
}

Deno.test("the JSON API answers the v2 protocol's data, in rank order and converted", async () => {
  const market = marketWith();
  const r = responder(market);
  const all = await get(r, "/api/v1/coins");
  assert.equal(all.status, 200);
  assert.equal(all.headers.get("content-type"), "application/json; charset=utf-8");
  assert.deepEqual(JSON.parse(text(all)), await v2Data(market, "MARKET ALL"));
  const eur = await get(r, "/api/v1/coins/btc?currency=eur");
  assert.deepEqual(JSON.parse(text(eur)), await v2Data(market, "MARKET BTC EUR"));
  assert.equal(JSON.parse(text(eur)).price, 10110);
  const currencies = await get(r, "/api/v1/currencies");
  assert.deepEqual(JSON.parse(text(currencies)), await v2Data(market, "CURRENCIES"));
  const history = await get(r, "/api/v1/coins/BTC/history?range=24h");
  assert.equal(history.status, 200);
  assert.deepEqual(JSON.parse(text(history)), await v2Data(market, "HISTORY BTC 24h"));
  assert.equal(JSON.parse(text(history)).count, 1);
  const info = await get(r, "/api/v1/info");
  assert.equal(JSON.parse(text(info)).data.coins, 2);
  assert.equal(all.headers.get("access-control-allow-origin"), "*");
});

Deno.test("API errors carry the protocol's codes with fitting statuses", async () => {
  const r = responder();
  const cases: [string, number, string][] = [
    ["/api/v1/coins/NOPE", 404, "UNKNOWN_COIN"],
    ["/api/v1/coins?currency=XYZ", 404, "UNKNOWN_CURRENCY"],
    ["/api/v1/coins?currency=E1", 400, "BAD_REQUEST"],
    ["/api/v1/coins/BTC/history?range=2y", 400, "BAD_REQUEST"],
    ["/api/v1/nothing", 404, "NOT_FOUND"],
    ["/nope/nope", 404, "NOT_FOUND"],
    ["/a/%2e%2e/b", 400, "BAD_REQUEST"],
  ];
  for (const [target, status, code] of cases) {
    const response = await get(r, target);
    assert.equal(response.status, status, target);
    const body = JSON.parse(text(response));
    assert.equal(body.error.code, code, target);
    assert.equal(typeof body.error.message, "string");
  }
  const empty = new Market({ staleAfterMs: 60_000 });
  const noData = await get(responder(empty), "/api/v1/coins/BTC");
  assert.equal(noData.status, 503);
  assert.equal(JSON.parse(text(noData)).error.code, "NO_DATA");
});

Deno.test("ETag, 304, Cache-Control to the next refresh, HEAD without a body", async () => {
  const r = responder();
  const first = await get(r, "/api/v1/coins");
  const etag = first.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.equal(first.headers.get("cache-control"), "public, max-age=50");
  const again = await get(r, "/api/v1/coins", `If-None-Match: ${etag}\r\n`);
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.equal(again.headers.get("etag"), etag);
  const other = await get(r, "/api/v1/coins?currency=EUR");
  assert.notEqual(other.headers.get("etag"), etag, "one ETag per currency");
  const head = await get(r, "/api/v1/coins", "", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers.get("content-length"), first.headers.get("content-length"));
});

Deno.test("gzip when accepted, the same body once decompressed", async () => {
  const r = responder();
  const plain = await get(r, "/api/v1/coins");
  const zipped = await get(r, "/api/v1/coins", "Accept-Encoding: br, gzip\r\n");
  assert.equal(zipped.headers.get("content-encoding"), "gzip");
  assert.deepEqual(new Uint8Array(gunzipSync(zipped.body)), plain.body);
  const refused = await get(r, "/api/v1/coins", "Accept-Encoding: gzip;q=0\r\n");
  assert.equal(refused.headers.get("content-encoding"), undefined);
});

Deno.test("health: /healthz always, /readyz by data age; /metrics from the injected source", async () => {
  assert.equal((await get(responder(), "/healthz")).status, 200);
  assert.equal((await get(responder(), "/readyz")).status, 200);
  const empty = await get(responder(new Market({ staleAfterMs: 60_000 })), "/readyz");
  assert.equal(empty.status, 503);
  assert.match(text(empty), /no data/);
  const old = await get(responder(marketWith(undefined, NOW + 120_000)), "/readyz");
  assert.equal(old.status, 503);
  assert.match(text(old), /older than --stale-after 60 s/);
  assert.equal((await get(responder(), "/metrics")).status, 404);
  const metrics = await get(responder(marketWith(), "*", () => "up 1\n"), "/metrics");
  assert.equal(text(metrics), "up 1\n");
});

Deno.test("curl gets text views; hostile names are escaped in JSON and inert in text", async () => {
  const r = responder(marketWith(), "");
  const list = await get(r, "/", "Accept: */*\r\n");
  assert.equal(list.status, 200);
  assert.match(list.headers.get("content-type")!, /^text\/plain/);
  assert.match(text(list), /BTC\s+Bitcoin/);
  assert.equal(list.headers.get("access-control-allow-origin"), undefined, "empty = none");
  const price = await get(r, "/btc?currency=EUR", "Accept: */*\r\n");
  assert.match(text(price), /Bitcoin \(BTC\)/);
  assert.match(text(price), /10,110/);
  for (const body of [text(list), text(await get(r, "/EVIL"))]) {
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(body, /[\x00-\x08\x0b-\x1f\x7f\u202e]/, "no control or bidi bytes");
  }
  const json = text(await get(r, "/api/v1/coins/EVIL"));
  assert.equal(JSON.parse(json).name, HOSTILE.name, "JSON keeps the name, escaped");
  assert.ok(!json.includes("\x1b"), "the escape byte is escaped");
  const unknown = await get(r, "/NOPE", "Accept: */*\r\n");
  assert.equal(unknown.status, 404);
  const page = await get(r, "/", "Accept: text/html\r\n");
  assert.match(page.headers.get("content-type")!, /^text\/html/);
});

Deno.test("a refused head is answered with its status and closes; pipelined answers keep order", async () => {
  const r = responder();
  const refused = await askInProcess(r, "PUT / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(refused.responses[0].status, 405);
  assert.equal(refused.responses[0].headers.get("allow"), "GET, HEAD");
  assert.equal(refused.close, true);
  const one = "GET /api/v1/coins/BTC HTTP/1.1\r\nHost: x\r\n\r\n";
  const two = "GET /api/v1/coins/BTC/history HTTP/1.1\r\nHost: x\r\n\r\n";
  const single = (await askInProcess(r, one, NOW)).responses[0].raw;
  const piped = await askInProcess(r, one + two + one, NOW);
  assert.deepEqual(piped.responses.map((x) => x.status), [200, 200, 200]);
  assert.deepEqual(piped.responses[0].raw, single);
  assert.deepEqual(piped.responses[2].raw, single);
});
