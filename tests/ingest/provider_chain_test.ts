import assert from "node:assert/strict";
import type { Coin } from "../../lib/wire/coin.ts";
import { fetchCmcListings } from "../../lib/ingest/coinmarketcap.ts";
import { fetchPaprikaTickers } from "../../lib/ingest/coinpaprika.ts";
import { parseServerArgs, type ServerConfig } from "../../lib/app/config.ts";
import { serverHelp } from "../../lib/app/server_flags.ts";
import { UsageError } from "../../lib/util/usage_error.ts";
import { CMC_FIXTURE, PAPRIKA_FIXTURE } from "../fakes/fake_providers.ts";
import { ProviderChain, type ProviderChainOptions } from "../../lib/ingest/provider_chain.ts";
import { createProviders, type Provider } from "../../lib/ingest/providers.ts";
import { UpstreamError } from "../../lib/ingest/upstream_error.ts";
import { fixtureSnapshot } from "../helpers.ts";

const CMC_KEY = "cmc-0123-secret-key-never-logged";

/** A fetch that answers every request with `body` and records the request. */
function answer(body: string, status = 200) {
  const requests: Request[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    requests.push(new Request(input, init));
    return Promise.resolve(
      new Response(body, { status, headers: { "content-type": "application/json" } }),
    );
  };
  return { fetch: fetch as typeof globalThis.fetch, requests };
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(() => assert.fail("expected an UpstreamError"), (e) => e);
  assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${error}`);
  return error;
}

// Shaped like a real /v1/tickers answer (fields trimmed), out of rank order, with an unranked
// ticker and a second, smaller coin with the symbol BTC.
const PAPRIKA_TICKERS = `[
  {"id":"eth-ethereum","name":"Ethereum","symbol":"ETH","rank":2,"circulating_supply":120806471,
   "total_supply":120806471,"max_supply":0,"beta_value":1.04,"first_data_at":"2015-08-07T00:00:00Z",
   "last_updated":"2022-10-04T20:16:05Z","quotes":{"USD":{"price":1355.3701234,"volume_24h":8353740841.2,
   "market_cap":163848773001,"percent_change_24h":2.91,"ath_price":4864.1}}},
  {"id":"new-unranked","name":"Fresh Coin","symbol":"NEW","rank":0,"last_updated":"2022-10-04T20:16:05Z",
   "quotes":{"USD":{"price":"broken","market_cap":0,"percent_change_24h":null}}},
  {"id":"btc-bitcoin","name":"Bitcoin","symbol":"BTC","rank":1,"last_updated":"2022-10-04T20:16:05Z",
   "quotes":{"USD":{"price":20220.00,"market_cap":388264926667,"percent_change_24h":3.5,"ath_price":68692.1}}},
  {"id":"btc-bitcoin-token","name":"Bitcoin Token","symbol":"btc","rank":3,"last_updated":"2022-10-04T20:16:05Z",
   "quotes":{"USD":{"price":0.00001234,"market_cap":12,"percent_change_24h":-1}}},
  {"id":"bad-coin","name":"Bad","symbol":"BAD","rank":900,"last_updated":"2022-10-04T20:16:05Z",
   "quotes":{"USD":{"price":-1,"market_cap":0,"percent_change_24h":0}}}
]`;

Deno.test("fetchPaprikaTickers ranks, dedupes and keeps the number text", async (t) => {
  await t.step("top 2 of an unordered list", async () => {
    const { fetch, requests } = answer(PAPRIKA_TICKERS);
    const coins = await fetchPaprikaTickers({ top: 2, baseUrl: "https://paprika.test/", fetch });
    assert.equal(requests[0].url, "https://paprika.test/v1/tickers?quotes=USD");
    assert.match(requests[0].headers.get("user-agent")!, /^crypto-price-server\//);
    assert.deepEqual(coins, [
      {
        symbol: "BTC",
        name: "Bitcoin",
        rank: 1,
        price: 20220,
        priceText: "20220.00",
        marketCap: 388264926667,
        marketCapText: "388264926667",
        change24h: 3.5,
        updatedAt: "2022-10-04T20:16:05Z",
      },
      {
        symbol: "ETH",
        name: "Ethereum",
        rank: 2,
        price: 1355.3701234,
        priceText: "1355.3701234",
        marketCap: 163848773001,
        marketCapText: "163848773001",
        change24h: 2.91,
        updatedAt: "2022-10-04T20:16:05Z",
      },
    ]);
  });

  await t.step(
    "a smaller coin with a taken symbol is skipped; the next one fills the place",
    async () => {
      const { fetch } = answer(PAPRIKA_TICKERS);
      const skipped: string[] = [];
      const onSkipped = (messages: readonly string[]) => skipped.push(...messages);
      const coins = await fetchPaprikaTickers({
        top: 3,
        baseUrl: "https://paprika.test",
        fetch,
        onSkipped,
      });
      // btc (rank 3) is a taken symbol, so the 3rd place goes to the rank-900 coin, which is
      // invalid: it costs only itself.
      assert.deepEqual(coins.map((coin) => coin.symbol), ["BTC", "ETH"]);
      assert.deepEqual(skipped, [
        'paprika.test sent an invalid coin #5 ("BAD"): quotes.USD.price must be a non-negative number, got -1',
      ]);
    },
  );

  await t.step("CoinPaprika's documented example, as recorded", async () => {
    const { fetch } = answer(await Deno.readTextFile(PAPRIKA_FIXTURE));
    const coins = await fetchPaprikaTickers({ top: 10, baseUrl: "https://paprika.test", fetch });
    assert.deepEqual(coins, [
      {
        symbol: "BTC",
        name: "Bitcoin",
        rank: 1,
        price: 5162.15941296,
        priceText: "5162.15941296",
        marketCap: 91094433242,
        marketCapText: "91094433242",
        change24h: 1.59,
        updatedAt: "2018-11-14T07:20:41Z",
      },
    ]);
  });

  await t.step("failures are UpstreamErrors with clear messages", async () => {
    const cases: [string, number, string][] = [
      [
        '{"error":"invalid"}',
        200,
        "paprika.test sent an object where a list of tickers was expected",
      ],
      ["[]", 200, "paprika.test sent no ranked tickers"],
      [
        '[{"symbol":"X","rank":1,"name":"X"}]',
        200,
        "paprika.test sent an invalid ticker #1: quotes.USD must be an object, got nothing" +
        " (1 of 1 records invalid, too many to trust the rest)",
      ],
      [
        '{"error":"id not found"}',
        404,
        'paprika.test answered HTTP 404 ("{\\"error\\":\\"id not found\\"}")',
      ],
    ];
    for (const [body, status, message] of cases) {
      const { fetch } = answer(body, status);
      const error = await rejection(
        fetchPaprikaTickers({ top: 5, baseUrl: "https://paprika.test", fetch }),
      );
      assert.equal(error.message, message);
    }
  });
});

// Shaped like a real listings/latest answer (fields trimmed).
const CMC_LISTINGS =
  `{"status":{"timestamp":"2022-10-04T20:16:40.123Z","error_code":0,"error_message":null,
  "elapsed":12,"credit_count":1,"notice":null,"total_count":9000},
  "data":[
   {"id":1,"name":"Bitcoin","symbol":"BTC","slug":"bitcoin","num_market_pairs":9800,"cmc_rank":1,
    "last_updated":"2022-10-04T20:16:00.000Z","quote":{"USD":{"price":20220.3847261,"volume_24h":2.9e10,
    "percent_change_1h":0.1,"percent_change_24h":3.50933,"market_cap":388264926667.12,
    "market_cap_dominance":39.1,"fully_diluted_market_cap":424608087474,"last_updated":"2022-10-04T20:15:00.000Z"}}},
   {"id":1027,"name":"Ethereum","symbol":"ETH","slug":"ethereum","cmc_rank":2,
    "last_updated":"2022-10-04T20:16:00.000Z","quote":{"USD":{"price":1355.37,"percent_change_24h":2.9,
    "market_cap":163848773001,"last_updated":"2022-10-04T20:15:00.000Z"}}}
  ]}`;

Deno.test("fetchCmcListings sends the key only in its header and never shows it", async (t) => {
  await t.step("parses a real-shaped listing", async () => {
    const { fetch, requests } = answer(CMC_LISTINGS);
    const coins = await fetchCmcListings({
      top: 2,
      apiKey: CMC_KEY,
      baseUrl: "https://cmc.test",
      fetch,
    });
    const [request] = requests;
    assert.equal(
      request.url,
      "https://cmc.test/v1/cryptocurrency/listings/latest?start=1&limit=2&convert=USD",
    );
    assert.equal(request.headers.get("X-CMC_PRO_API_KEY"), CMC_KEY);
    assert.ok(!request.url.includes(CMC_KEY));
    assert.deepEqual(coins.map((c) => [c.symbol, c.rank, c.priceText, c.marketCapText]), [
      ["BTC", 1, "20220.3847261", "388264926667.12"],
      ["ETH", 2, "1355.37", "163848773001"],
    ]);
    assert.equal(coins[0].updatedAt, "2022-10-04T20:15:00.000Z");
    assert.equal(coins[0].change24h, 3.50933);
  });

  await t.step("an error status and an echoed key are reported without the key", async () => {
    const echo =
      `{"status":{"error_code":1001,"error_message":"This API Key is invalid: ${CMC_KEY}"}}`;
    for (const status of [200, 401]) {
      const { fetch } = answer(echo, status);
      const error = await rejection(
        fetchCmcListings({ top: 2, apiKey: CMC_KEY, baseUrl: "https://cmc.test", fetch }),
      );
      assert.ok(!error.message.includes(CMC_KEY), error.message);
      assert.match(error.message, /\*\*\*/);
      assert.match(error.message, status === 200 ? /reported error 1001/ : /answered HTTP 401/);
    }
  });

  await t.step("CoinMarketCap's documented example, as recorded", async () => {
    const { fetch } = answer(await Deno.readTextFile(CMC_FIXTURE));
    const coins = await fetchCmcListings({
      top: 10,
      apiKey: CMC_KEY,
      baseUrl: "https://cmc.test",
      fetch,
    });
    // Bitcoin says cmc_rank 5; Ethereum has no rank and takes its place in the list, 2.
    assert.deepEqual(coins.map((c) => [c.symbol, c.rank, c.priceText, c.marketCapText]), [
      ["ETH", 2, "1283.92", "158055024432"],
      ["BTC", 5, "9283.92", "852164659250.2758"],
    ]);
    assert.equal(coins[1].change24h, 0.518894);
    assert.equal(coins[1].updatedAt, "2018-08-09T22:53:32.000Z");
  });
});

Deno.test("createProviders leaves out coinmarketcap without a key", () => {
  const settings = {
    providers: ["coinmarketcap", "coinpaprika", "coingecko"],
    apiUrl: "https://gecko.test/api/v3",
    coinpaprikaUrl: "https://paprika.test",
    cmcUrl: "https://cmc.test",
  };
  const without = createProviders(settings);
  assert.deepEqual(without.providers.map((p) => p.name), ["coinpaprika", "coingecko"]);
  assert.match(without.notes[0], /coinmarketcap is listed but no --cmc-key/);
  const withKey = createProviders({ ...settings, cmcKey: CMC_KEY });
  assert.deepEqual(withKey.providers.map((p) => p.name), settings.providers);
  assert.deepEqual(withKey.notes, []);
});

class Clock {
  ms = Date.parse("2024-01-01T00:00:00.000Z");
  readonly now = () => this.ms;
}

/** An in-memory provider whose answers a test scripts, one per call. */
class ScriptedProvider implements Provider {
  readonly calls: number[] = [];
  #next: (() => Coin[]) | null = null;
  readonly host: string;
  constructor(readonly name: string, public coins: Coin[]) {
    this.host = `${name}.test`;
  }

  /** Fails every call with this error until {@linkcode heal}. */
  failWith(error: Error): void {
    this.#next = () => {
      throw error;
    };
  }

  heal(): void {
    this.#next = null;
  }

  fetchTop(top: number, signal: AbortSignal): Promise<Coin[]> {
    this.calls.push(top);
    signal.throwIfAborted();
    return Promise.resolve().then(() => (this.#next ?? (() => this.coins.slice(0, top)))());
  }
}

async function chainSetup(overrides: Partial<ProviderChainOptions> = {}) {
  const coins = (await fixtureSnapshot(20)).coins as Coin[];
  // The fallback names two coins differently and ranks some differently: its own top 10 has
  // DOT (11th for the first provider) instead of DOGE (10th).
  const changes: Record<string, Partial<Coin>> = {
    BNB: { name: "Binance Coin", rank: 5 },
    USDC: { name: "USD Coin (PoS)", rank: 4 },
    DOGE: { rank: 11 },
    DOT: { rank: 10 },
  };
  const renamed = coins.map((c) => ({ ...c, ...changes[c.symbol], price: c.price * 1.001 }))
    .sort((a, b) => a.rank - b.rank);
  const first = new ScriptedProvider("first", coins);
  const second = new ScriptedProvider("second", renamed);
  const clock = new Clock();
  const logs: string[] = [];
  const sleeps: number[] = [];
  const chain = new ProviderChain({
    providers: [first, second],
    top: 10,
    failureThreshold: 3,
    cooldownMs: 60_000,
    now: clock.now,
    log: (line) => logs.push(line),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...overrides,
  });
  return { coins, first, second, clock, logs, sleeps, chain };
}

const signal = new AbortController().signal;
const http500 = () => new UpstreamError("first.test answered HTTP 500", { status: 500 });

Deno.test("ProviderChain asks providers in order and fails over within one round", async (t) => {
  await t.step("the first provider answers: the second is not asked", async () => {
    const { chain, first, second, coins, logs } = await chainSetup();
    const round = await chain.fetchCoins(signal);
    assert.equal(round.source, "first");
    assert.equal(round.describeSource, "first.test");
    assert.deepEqual(round.coins, coins.slice(0, 10));
    assert.deepEqual(first.calls, [10]);
    assert.deepEqual(second.calls, []);
    assert.deepEqual(logs, []);
    assert.deepEqual(chain.statuses.map((s) => s.state), ["closed", "closed"]);
  });

  await t.step("a 5xx is retried once quickly, then the next provider serves", async () => {
    const { chain, first, second, coins, logs, sleeps } = await chainSetup();
    await chain.fetchCoins(signal); // remembers first's top 10
    first.failWith(http500());
    const round = await chain.fetchCoins(signal);
    assert.equal(round.source, "second");
    assert.equal(round.describeSource, "second.test");
    assert.deepEqual(first.calls, [10, 10, 10], "one attempt and one quick retry");
    assert.deepEqual(sleeps, [250]);
    assert.deepEqual(second.calls, [20], "a fallback is asked for headroom");
    assert.deepEqual(logs, [
      "provider first failed: first.test answered HTTP 500; trying second",
    ]);
    // Same coins, names and ranks as the first provider's, with the fallback's prices.
    assert.deepEqual(
      round.coins.map((c) => [c.symbol, c.name, c.rank]),
      coins.slice(0, 10).map((c) => [c.symbol, c.name, c.rank]),
    );
    const status = chain.statuses[0];
    assert.equal(status.consecutive_failures, 1);
    assert.equal(status.last_error, "first.test answered HTTP 500");
  });

  await t.step("a 4xx, a timeout or bad data is not retried", async () => {
    for (
      const error of [
        new UpstreamError("first.test answered HTTP 401", { status: 401 }),
        new UpstreamError("first.test did not answer within 10000 ms"),
        new UpstreamError("first.test sent an empty list of coins"),
      ]
    ) {
      const { chain, first, sleeps } = await chainSetup();
      first.failWith(error);
      assert.equal((await chain.fetchCoins(signal)).source, "second");
      assert.deepEqual(first.calls, [10]);
      assert.deepEqual(sleeps, []);
    }
  });

  await t.step("a coin the fallback lacks is left out, and said so", async () => {
    const { chain, first, second, logs } = await chainSetup();
    await chain.fetchCoins(signal);
    first.failWith(http500());
    second.coins = second.coins.filter((c) => c.symbol !== "XRP" && c.symbol !== "ADA");
    const round = await chain.fetchCoins(signal);
    assert.equal(round.coins.length, 8);
    assert.ok(!round.coins.some((c) => c.symbol === "XRP" || c.symbol === "ADA"));
    assert.equal(
      logs.at(-1),
      "provider second lacks 2 of first's top 10 coins (XRP, ADA); they are left out of its snapshots",
    );
  });

  await t.step("before the first provider ever answered, the fallback's own top N", async () => {
    const { chain, first, second } = await chainSetup();
    first.failWith(http500());
    const round = await chain.fetchCoins(signal);
    assert.deepEqual(second.calls, [10]);
    assert.deepEqual(round.coins, second.coins.slice(0, 10));
  });

  await t.step("a list remembered from the store is used like a fresh one", async () => {
    const { chain, first, coins } = await chainSetup();
    chain.rememberPrimary(coins.slice(0, 10));
    first.failWith(http500());
    const round = await chain.fetchCoins(signal);
    assert.equal(round.coins.find((c) => c.symbol === "BNB")!.name, "BNB");
  });

  await t.step("all failing: one error naming each provider", async () => {
    const { chain, first, second } = await chainSetup();
    first.failWith(http500());
    second.failWith(new UpstreamError("second.test sent an empty list of coins"));
    const error = await rejection(chain.fetchCoins(signal));
    assert.equal(
      error.message,
      "all providers failed: first: first.test answered HTTP 500; second: second.test sent an empty list of coins",
    );
  });

  await t.step("a single provider's own error is passed on as it is", async () => {
    const only = new ScriptedProvider("only", []);
    const limited = new UpstreamError("only.test answered HTTP 429", {
      status: 429,
      retryAfterMs: 30_000,
    });
    only.failWith(limited);
    const logs: string[] = [];
    const chain = new ProviderChain({ providers: [only], top: 5, log: (l) => logs.push(l) });
    assert.equal(await chain.fetchCoins(signal).catch((e) => e), limited);
    assert.deepEqual(logs, [], "the Ingestor logs it");
  });

  await t.step("an abort rejects with its reason and counts as no failure", async () => {
    const { chain, first } = await chainSetup();
    const abort = new AbortController();
    first.failWith(http500());
    const reason = new DOMException("stop", "AbortError");
    abort.abort(reason);
    assert.equal(await chain.fetchCoins(abort.signal).catch((e) => e), reason);
    assert.equal(chain.statuses[0].consecutive_failures, 0);
  });
});

Deno.test("ProviderChain skips an open circuit, probes it when half-open, closes it", async () => {
  const { chain, first, second, clock, logs } = await chainSetup();
  await chain.fetchCoins(signal);
  first.failWith(http500());
  for (let round = 1; round <= 3; round++) {
    assert.equal((await chain.fetchCoins(signal)).source, "second");
  }
  assert.deepEqual(chain.statuses[0], {
    name: "first",
    state: "open",
    consecutive_failures: 3,
    last_error: "first.test answered HTTP 500",
    retry_at: new Date(clock.ms + 60_000).toISOString(),
    wait_until: null,
  });
  // One line when it started failing, one when its circuit opened: not one per round.
  assert.deepEqual(logs, [
    "provider first failed: first.test answered HTTP 500; trying second",
    `provider first circuit open after 3 failed rounds; other providers are preferred until ${
      new Date(clock.ms + 60_000).toISOString()
    }`,
  ]);

  // Open: not asked at all.
  const calls = first.calls.length;
  assert.equal((await chain.fetchCoins(signal)).source, "second");
  assert.equal(first.calls.length, calls);

  // Half-open: one probe, no quick retry; it fails, so open again.
  clock.ms += 60_000;
  assert.equal(chain.statuses[0].state, "half-open");
  assert.equal((await chain.fetchCoins(signal)).source, "second");
  assert.equal(first.calls.length, calls + 1);
  assert.equal(chain.statuses[0].state, "open");

  // Half-open again, and this time the probe succeeds: closed, and the first serves again.
  clock.ms += 60_000;
  first.heal();
  const round = await chain.fetchCoins(signal);
  assert.equal(round.source, "first");
  assert.equal(logs.at(-1), "provider first answered again after 4 failed rounds; circuit closed");
  assert.equal(logs.length, 3, logs.join("\n"));
  assert.deepEqual(chain.statuses[0], {
    name: "first",
    state: "closed",
    consecutive_failures: 0,
    last_error: "first.test answered HTTP 500",
    retry_at: null,
    wait_until: null,
  });
  assert.ok(second.calls.length >= 5);
});

Deno.test("ProviderChain asks open circuits when no other provider answers", async () => {
  const { chain, first, second, clock, logs } = await chainSetup({ failureThreshold: 1 });
  first.failWith(http500());
  second.failWith(http500());
  await rejection(chain.fetchCoins(signal));
  assert.deepEqual(chain.statuses.map((s) => s.state), ["open", "open"]);
  clock.ms += 1000;
  second.heal();
  // Both circuits are open and the first fails again: the second is asked in the same round.
  const round = await chain.fetchCoins(signal);
  assert.equal(round.source, "second");
  assert.equal(second.calls.length, 3, "one attempt and one quick retry in round 1, one probe");
  assert.ok(!logs.some((line) => /every provider/.test(line)), logs.join("\n"));
});

Deno.test("a recovered primary is used by the next round while the fallback stays dead", async () => {
  // The report: after a minute of faults with a dead fallback, probes alternated between the
  // two and recovery took over 60 s. Now every round that gets no data asks the primary too.
  const { chain, first, second, clock } = await chainSetup({ cooldownMs: 300_000 });
  await chain.fetchCoins(signal);
  first.failWith(http500());
  second.failWith(new UpstreamError("second.test: connection refused", { cause: new TypeError() }));
  for (let round = 0; round < 20; round++) {
    await rejection(chain.fetchCoins(signal));
    clock.ms += 3000;
  }
  assert.deepEqual(chain.statuses.map((s) => s.state), ["open", "open"]);
  first.heal();
  const round = await chain.fetchCoins(signal);
  assert.equal(round.source, "first", "the primary serves the very next round");
});

Deno.test("a provider's Retry-After is honoured by the chain, and carried to the ingestor", async () => {
  const { chain, first, second, clock } = await chainSetup();
  await chain.fetchCoins(signal);
  const limited = () =>
    new UpstreamError("first.test answered HTTP 429", { status: 429, retryAfterMs: 120_000 });
  first.failWith(limited());
  second.failWith(limited());
  const error = await rejection(chain.fetchCoins(signal));
  assert.equal(error.retryAfterMs, 120_000, "every provider asked to wait: the shortest wait");
  assert.equal(chain.statuses[0].wait_until, new Date(clock.ms + 120_000).toISOString());
  const calls = first.calls.length;
  clock.ms += 60_000;
  const waiting = await rejection(chain.fetchCoins(signal));
  assert.match(waiting.message, /first skipped \(asked to wait until /);
  assert.equal(first.calls.length, calls, "not asked before its Retry-After");
  assert.equal(waiting.retryAfterMs, 60_000);
  clock.ms += 60_000;
  first.heal();
  assert.equal((await chain.fetchCoins(signal)).source, "first");
});

Deno.test("a provider that stays down is summarised at most every few minutes", async () => {
  const { chain, first, clock, logs } = await chainSetup({ summaryEveryMs: 300_000 });
  await chain.fetchCoins(signal);
  first.failWith(http500());
  // An hour of rounds every 10 s, with the fallback serving.
  for (let round = 0; round < 360; round++) {
    await chain.fetchCoins(signal);
    clock.ms += 10_000;
  }
  const about = logs.filter((line) => line.startsWith("provider first"));
  assert.equal(about[0], "provider first failed: first.test answered HTTP 500; trying second");
  assert.match(about[1], /^provider first circuit open after 3 failed rounds/);
  const summaries = about.filter((line) => line.includes("still failing"));
  // Once its circuit is open it is asked once per cool-down, and summarised at most every 5 min.
  assert.ok(summaries.length <= 12, about.join("\n"));
  assert.match(summaries[0], /^provider first still failing: \d+ failed rounds since .*, last: /);
  assert.ok(about.length <= 14, about.join("\n"));
  first.heal();
  clock.ms += 60_000;
  await chain.fetchCoins(signal);
  assert.match(
    logs.at(-1)!,
    /^provider first answered again after \d+ failed rounds; circuit closed$/,
  );
});

Deno.test("provider flags: order, keys from the environment, URLs and names checked", () => {
  const serve = (args: string[], env: Record<string, string> = {}) => {
    const command = parseServerArgs(args, (name) => env[name]);
    assert.equal(command.action, "serve");
    return (command as { config: ServerConfig }).config;
  };
  const defaults = serve([]);
  assert.deepEqual(defaults.providers, ["coingecko", "coinpaprika"]);
  assert.equal(defaults.coinpaprikaUrl, "https://api.coinpaprika.com");
  assert.equal(defaults.cmcUrl, "https://pro-api.coinmarketcap.com");
  assert.equal(defaults.cmcKey, undefined);
  assert.equal(defaults.breakerFailures, 3);
  assert.equal(defaults.breakerCooldownSeconds, 300);

  const custom = serve(
    ["--providers", " CoinPaprika, coinmarketcap ", "--coinpaprika-url", "http://127.0.0.1:9/"],
    { CMC_PRO_API_KEY: CMC_KEY, CRYPTO_BREAKER_COOLDOWN: "30" },
  );
  assert.deepEqual(custom.providers, ["coinpaprika", "coinmarketcap"]);
  assert.equal(custom.coinpaprikaUrl, "http://127.0.0.1:9");
  assert.equal(custom.cmcKey, CMC_KEY);
  assert.equal(custom.breakerCooldownSeconds, 30);
  assert.equal(serve([], { CRYPTO_CMC_KEY: "a", CMC_PRO_API_KEY: "b" }).cmcKey, "a");

  const refused: [string[], RegExp][] = [
    [["--providers", "coingecko,binance"], /unknown provider "binance"/],
    [["--providers", "coingecko,coingecko"], /coingecko is listed twice/],
    [["--providers", " , "], /expected at least one/],
    [["--providers", "coinmarketcap"], /needs --cmc-key/],
    [["--cmc-url", "http://cmc.example.com"], /Refusing plain http:\/\/ --cmc-url/],
    [["--coinpaprika-url", "ftp://x"], /Invalid --coinpaprika-url/],
    [["--breaker-failures", "0"], /Invalid --breaker-failures/],
  ];
  for (const [args, message] of refused) {
    assert.throws(() => parseServerArgs(args, () => undefined), (error: Error) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  const help = serverHelp();
  assert.match(help, /Providers:/);
  assert.match(help, /--providers [^]*\(coinmarketcap only with --cmc-key\)/);
  assert.match(help, /env: CRYPTO_CMC_KEY, CMC_PRO_API_KEY/);
});
