import assert from "node:assert/strict";
import { fetchExchangeRates, fetchMarkets } from "../../lib/ingest/coingecko.ts";
import { requestJson } from "../../lib/ingest/upstream_http.ts";
import { UpstreamError } from "../../lib/ingest/upstream_error.ts";
import { VERSION } from "../../lib/util/version.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { BTC_2022, withDeadline } from "../helpers.ts";

const KEY = "CG-s3cr3t-k3y-do-not-log";

function coin(symbol: string, rank: number | null, priceText: string): string {
  return `{"id":"${symbol}","symbol":"${symbol}","name":"Coin ${symbol}","current_price":${priceText},` +
    `"market_cap":null,"market_cap_rank":${rank},"price_change_percentage_24h":null,"last_updated":null}`;
}

async function rejectsUpstream(
  promise: Promise<unknown>,
  check: (error: UpstreamError) => void = () => {},
): Promise<UpstreamError> {
  const error = await promise.then(
    () => assert.fail("expected an UpstreamError"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${error}`);
  assert.equal(error.name, "UpstreamError");
  assert.ok(!error.message.includes(KEY), `the key leaked into: ${error.message}`);
  check(error);
  return error;
}

Deno.test("fetchMarkets parses the recorded fixture", async () => {
  await using upstream = await startFakeUpstream();
  const coins = await fetchMarkets({ apiUrl: upstream.baseUrl, top: 10 });
  assert.equal(coins.length, 10);
  assert.deepEqual(coins.map((c) => c.symbol), [
    "BTC",
    "ETH",
    "USDT",
    "BNB",
    "USDC",
    "XRP",
    "BUSD",
    "ADA",
    "SOL",
    "DOGE",
  ]);
  assert.deepEqual(coins.map((c) => c.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(coins[0], BTC_2022);
  assert.equal(coins[1].priceText, "1355.37");
  assert.equal(upstream.lastRequest?.url.searchParams.get("per_page"), "10");
  assert.equal(upstream.lastRequest?.url.searchParams.get("vs_currency"), "usd");
  assert.equal(upstream.lastRequest?.url.searchParams.get("order"), "market_cap_desc");
});

Deno.test("fetchMarkets keeps the exact number text and nulls", async () => {
  await using upstream = await startFakeUpstream();
  upstream.setCoins(
    `[${coin("shib", 1, "0.00001234")},${coin("pepe", 2, "1.149e-05")},${
      coin("x", 3, "20220.0")
    },` +
      `${coin("y", null, "0.10000000000000000555")}]`,
  );
  const coins = await fetchMarkets({ apiUrl: upstream.baseUrl, top: 10 });
  assert.deepEqual(coins.map((c) => c.priceText), [
    "0.00001234",
    "1.149e-05",
    "20220.0",
    "0.10000000000000000555",
  ]);
  assert.equal(coins[0].price, 0.00001234);
  assert.equal(coins[1].price, 0.00001149);
  assert.equal(coins[3].rank, 4, "a null rank falls back to the position");
  assert.equal(coins[0].marketCap, null);
  assert.equal(coins[0].marketCapText, null);
  assert.equal(coins[0].change24h, null);
  assert.equal(coins[0].updatedAt, null);
});

Deno.test("fetchMarkets keeps the better-ranked coin of a duplicated symbol", async () => {
  await using upstream = await startFakeUpstream();
  upstream.setCoins(`[${coin("abc", 2, "5")},${coin("ABC", 1, "7")},${coin("def", 3, "1")}]`);
  const coins = await fetchMarkets({ apiUrl: upstream.baseUrl, top: 10 });
  assert.deepEqual(coins.map((c) => [c.symbol, c.rank, c.priceText]), [
    ["ABC", 1, "7"],
    ["DEF", 3, "1"],
  ]);
});

Deno.test("fetchMarkets sends the user agent, and the key header only when given", async () => {
  await using upstream = await startFakeUpstream();
  await fetchMarkets({ apiUrl: upstream.baseUrl, top: 3 });
  assert.equal(upstream.lastRequest?.headers.get("user-agent"), `crypto-price-server/${VERSION}`);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
  assert.equal(upstream.lastRequest?.headers.has("x-cg-demo-api-key"), false);
  await fetchMarkets({ apiUrl: upstream.baseUrl + "/", top: 3, apiKey: KEY });
  assert.equal(upstream.lastRequest?.headers.get("x-cg-demo-api-key"), KEY);
  assert.equal(upstream.lastRequest?.url.pathname, "/api/v3/coins/markets");
  assert.equal(upstream.requestCount, 2);
});

Deno.test("fetchMarkets turns every upstream failure into an UpstreamError", async (t) => {
  await using upstream = await startFakeUpstream();
  const options = { apiUrl: upstream.baseUrl, top: 10, apiKey: KEY };

  await t.step("HTTP 500", async () => {
    upstream.mode = "http500";
    await rejectsUpstream(fetchMarkets(options), (e) => {
      assert.equal(e.status, 500);
      assert.equal(e.retryAfterMs, undefined);
      assert.match(e.message, /HTTP 500/);
    });
  });

  await t.step("rate limited with Retry-After seconds", async () => {
    upstream.mode = "rate_limited";
    upstream.retryAfter = "42";
    await rejectsUpstream(fetchMarkets(options), (e) => {
      assert.equal(e.status, 429);
      assert.equal(e.retryAfterMs, 42_000);
    });
  });

  await t.step("rate limited with an HTTP-date Retry-After", async () => {
    upstream.retryAfter = "Wed, 21 Oct 2015 07:28:30 GMT";
    const now = () => Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    await rejectsUpstream(fetchMarkets({ ...options, now }), (e) => {
      assert.equal(e.retryAfterMs, 30_000);
    });
  });

  await t.step("HTML instead of JSON", async () => {
    upstream.mode = "html";
    await rejectsUpstream(fetchMarkets(options), (e) => {
      assert.match(e.message, /not valid JSON/);
      assert.match(e.message, /text\/html/);
      assert.ok(e.cause instanceof SyntaxError);
    });
  });

  await t.step("truncated body", async () => {
    upstream.mode = "truncated";
    await rejectsUpstream(fetchMarkets(options), (e) => assert.match(e.message, /not valid JSON/));
  });

  await t.step("empty list", async () => {
    upstream.mode = "empty";
    await rejectsUpstream(fetchMarkets(options), (e) => assert.match(e.message, /empty list/));
  });

  await t.step(
    "an invalid price costs only its coin; the skip names the entry and the field",
    async () => {
      upstream.mode = "invalid_prices";
      const skipped: string[] = [];
      const coins = await fetchMarkets({ ...options, onSkipped: (m) => skipped.push(...m) });
      assert.equal(coins.length, 9);
      assert.ok(!coins.some((coin) => coin.symbol === "ETH"));
      assert.equal(skipped.length, 1);
      assert.match(skipped[0], /coin #2 \("eth"\): current_price must be a non-negative number/);
      assert.match(skipped[0], /got "1355\.37"/);
    },
  );

  await t.step("not a list", async () => {
    upstream.mode = "ok";
    upstream.setCoins(`{"error":"oops"}`);
    await rejectsUpstream(fetchMarkets(options), (e) => assert.match(e.message, /an object where/));
  });
});

Deno.test("fetchMarkets validates every field of every entry", async (t) => {
  await using upstream = await startFakeUpstream();
  const cases: Array<[string, string, RegExp]> = [
    ["missing symbol", `{"name":"A","current_price":1}`, /coin #1: symbol .* got nothing/],
    ["empty name", `{"symbol":"a","name":" ","current_price":1}`, /\("a"\): name/],
    ["negative price", `{"symbol":"a","name":"A","current_price":-1}`, /current_price.*got -1/],
    ["huge price", `{"symbol":"a","name":"A","current_price":1e999}`, /current_price.*got 1e999/],
    [
      "fractional rank",
      `{"symbol":"a","name":"A","current_price":1,"market_cap_rank":1.5}`,
      /market_cap_rank/,
    ],
    [
      "string market cap",
      `{"symbol":"a","name":"A","current_price":1,"market_cap":"9"}`,
      /market_cap /,
    ],
    [
      "bad date",
      `{"symbol":"a","name":"A","current_price":1,"last_updated":"yesterday"}`,
      /last_updated.*"yesterday"/,
    ],
    [
      "bad change",
      `{"symbol":"a","name":"A","current_price":1,"price_change_percentage_24h":"3%"}`,
      /price_change_percentage_24h/,
    ],
    ["entry not an object", `[1]`, /coin #1: must be an object, got a list/],
    [
      "control characters are escaped and long values shortened",
      `{"symbol":"a","name":"A","current_price":"\\u001b[31m${"x".repeat(200)}"}`,
      /got "\\u001b\[31mx+…" \(1 of 1 records invalid/,
    ],
  ];
  for (const [name, entry, pattern] of cases) {
    await t.step(name, async () => {
      upstream.setCoins(`[${entry}]`);
      const error = await rejectsUpstream(fetchMarkets({ apiUrl: upstream.baseUrl, top: 5 }));
      assert.match(error.message, pattern);
      // The upstream's value is shortened: what is left is the field's name and the count.
      assert.ok(error.message.length < 250, error.message);
    });
  }
});

Deno.test("fetchMarkets times out against a hanging upstream", async () => {
  await using upstream = await startFakeUpstream({ mode: "hang" });
  await withDeadline(
    rejectsUpstream(
      fetchMarkets({ apiUrl: upstream.baseUrl, top: 10, timeoutMs: 100, apiKey: KEY }),
      (e) => assert.match(e.message, /did not answer within 100 ms/),
    ),
    "the 100 ms upstream timeout to fire",
  );
});

Deno.test("fetchMarkets reports a refused connection", async () => {
  const upstream = await startFakeUpstream();
  const apiUrl = upstream.baseUrl;
  await upstream.close();
  await rejectsUpstream(fetchMarkets({ apiUrl, top: 10, apiKey: KEY }), (e) => {
    assert.match(e.message, /^Cannot reach 127\.0\.0\.1:\d+: .*refused/i);
    assert.equal(e.status, undefined);
    assert.ok(e.cause !== undefined);
  });
});

Deno.test("fetchMarkets passes a caller's abort through unchanged", async () => {
  await using upstream = await startFakeUpstream({ mode: "hang" });
  const controller = new AbortController();
  const reason = new Error("shutting down");
  const request = fetchMarkets({ apiUrl: upstream.baseUrl, top: 1, signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(request, (e) => e === reason);
});

Deno.test("fetchMarkets rejects an invalid top", async () => {
  for (const top of [0, 251, 1.5, NaN]) {
    await assert.rejects(fetchMarkets({ apiUrl: "http://127.0.0.1:9/api/v3", top }), RangeError);
  }
});

Deno.test("Retry-After is read as seconds or as an HTTP date", async () => {
  const now = Date.parse("2024-01-01T00:00:00Z");
  const cases: [string | null, number | undefined][] = [
    [null, undefined],
    [" 120 ", 120_000],
    ["soon", undefined],
    ["-5", undefined],
    ["Mon, 01 Jan 2024 00:01:00 GMT", 60_000],
    ["Sun, 31 Dec 2023 00:00:00 GMT", 0],
  ];
  for (const [header, ms] of cases) {
    const headers = header === null ? undefined : { "retry-after": header };
    const fetch = () => Promise.resolve(new Response("{}", { status: 429, headers }));
    const error = await requestJson("https://gecko.test/x", { fetch, now: () => now }).then(
      () => assert.fail("expected an UpstreamError"),
      (e) => e,
    );
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.retryAfterMs, ms, String(header));
  }
});

Deno.test("fetchExchangeRates parses the recorded rates", async (t) => {
  await using upstream = await startFakeUpstream();
  const rates = await fetchExchangeRates({ apiUrl: upstream.baseUrl });
  assert.deepEqual(rates.get("btc"), { name: "Bitcoin", unit: "BTC", value: 1, type: "crypto" });
  assert.equal(rates.get("usd")?.type, "fiat");
  assert.equal(upstream.lastRequest?.url.pathname, "/api/v3/exchange_rates");

  await t.step("failures are UpstreamErrors", async () => {
    upstream.mode = "http500";
    await rejectsUpstream(fetchExchangeRates({ apiUrl: upstream.baseUrl }), (e) => {
      assert.equal(e.status, 500);
    });
    upstream.mode = "empty";
    await rejectsUpstream(fetchExchangeRates({ apiUrl: upstream.baseUrl }), (e) => {
      assert.match(e.message, /without a "rates" object/);
    });
  });
});
