// Failover through the real service over sockets: a CoinGecko fake, a CoinPaprika fake and a
// CoinMarketCap fake on local ports, the real flag parser, a real SQLite file.

import assert from "node:assert/strict";
import { startFakeCoinMarketCap, startFakeCoinPaprika } from "../fakes/fake_providers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { LineClient, startTestService } from "../helpers.ts";
import type { ProviderReport } from "../../lib/wire/info_report.ts";

interface CoinObject {
  symbol: string;
  name: string;
  rank: number;
  price: number;
  source: string;
}

async function marketAll(client: LineClient): Promise<CoinObject[]> {
  const reply = await client.request({ status: "OK", data: "MARKET ALL", v: 2 });
  assert.equal(reply.status, "OK");
  return reply.data as CoinObject[];
}

async function providersInfo(client: LineClient): Promise<ProviderReport[]> {
  const reply = await client.request({ status: "OK", data: "INFO", v: 2 });
  return (reply.data as { providers: ProviderReport[] }).providers;
}

Deno.test("a failing CoinGecko fails over to CoinPaprika in the same round, then recovers", async () => {
  await using paprika = await startFakeCoinPaprika();
  // CoinPaprika's recorded tickers hold Bitcoin only; under a name of its own here, which the
  // snapshot must not take over: a fallback keeps the first provider's names and ranks.
  paprika.body = paprika.body.replace('"name": "Bitcoin"', '"name": "Bitcoin (CoinPaprika)"');
  await using env = await startTestService([
    "--providers",
    "coingecko,coinpaprika",
    "--coinpaprika-url",
    paprika.baseUrl,
    "--refresh",
    "0.2",
    "--breaker-failures",
    "2",
    "--breaker-cooldown",
    "2",
  ]);
  await using client = await LineClient.connect(env.port);
  const logs = env.logs;
  // Log lines name the host that served, as they did with CoinGecko alone.
  const paprikaHost = new URL(paprika.baseUrl).host.replaceAll(".", "\\.");
  const geckoHost = new URL(env.upstream.baseUrl).host.replaceAll(".", "\\.");
  const fromPaprika = new RegExp(`^ingested 1 coins from ${paprikaHost} in \\d+ ms$`);
  const fromGecko = new RegExp(`^ingested 10 coins from ${geckoHost} in \\d+ ms$`);

  const before = await marketAll(client);
  assert.equal(before.length, 10);
  assert.ok(before.every((coin) => coin.source === "coingecko"));
  assert.equal(paprika.requests.length, 0, "a fallback is not asked while the first answers");

  // CoinGecko starts failing: the very round that sees the failure is served by CoinPaprika.
  const since = logs.lines.length;
  env.upstream.mode = "http500";
  const failed = await logs.waitFor(/^provider coingecko failed: /, { sinceIndex: since });
  assert.match(
    failed,
    /^provider coingecko failed: 127\.0\.0\.1:\d+ answered HTTP 500 .*; trying coinpaprika$/,
  );
  const served = await logs.waitFor(fromPaprika, { sinceIndex: since });
  const round = logs.lines.slice(since, logs.lines.indexOf(served));
  assert.ok(!round.some((line) => line.startsWith("ingestion failed")), round.join("\n"));

  // The coins of CoinGecko's top 10 that CoinPaprika has, under CoinGecko's names and ranks, at
  // the prices CoinPaprika sent; the others are left out, and the log says which.
  const after = await marketAll(client);
  assert.deepEqual(
    after.map(({ symbol, name, rank, price, source }) => ({
      symbol,
      name,
      rank,
      price,
      source,
    })),
    [{ symbol: "BTC", name: "Bitcoin", rank: 1, price: 5162.15941296, source: "coinpaprika" }],
  );
  assert.match(
    logs.lines.slice(since).find((line) => line.includes("lacks")) ?? "",
    /^provider coinpaprika lacks 9 of coingecko's top 10 coins \(ETH, USDT, /,
  );
  assert.deepEqual((await client.request({ status: "OK", data: "MARKET ALL" })).data, {
    Bitcoin: 5162.15941296,
  });
  assert.ok(paprika.requests.every((r) => r.url.pathname === "/v1/tickers"));

  // The second failed round opens CoinGecko's circuit: INFO says so, and it is skipped.
  const opened = await logs.waitFor(/^provider coingecko circuit open after 2 failed rounds/);
  let [gecko, pap] = await providersInfo(client);
  assert.equal(gecko.name, "coingecko");
  assert.equal(gecko.state, "open");
  assert.equal(gecko.consecutive_failures, 2);
  assert.match(gecko.last_error!, /answered HTTP 500/);
  assert.ok(Date.parse(gecko.retry_at!) > Date.now());
  assert.deepEqual(pap, {
    name: "coinpaprika",
    state: "closed",
    consecutive_failures: 0,
    last_error: null,
    retry_at: null,
    wait_until: null,
  });
  const skipped = await logs.waitFor(fromPaprika, {
    sinceIndex: logs.lines.indexOf(opened) + 1,
  });
  const whileOpen = logs.lines.slice(logs.lines.indexOf(opened) + 1, logs.lines.indexOf(skipped));
  assert.ok(!whileOpen.some((line) => line.startsWith("provider coingecko failed")));

  // CoinGecko comes back: after the cool-down one probe closes the circuit again.
  env.upstream.mode = "ok";
  const closed = await logs.waitFor(
    /^provider coingecko answered again after \d+ failed rounds; circuit closed$/,
  );
  await logs.waitFor(fromGecko, {
    sinceIndex: logs.lines.indexOf(closed),
  });
  [gecko, pap] = await providersInfo(client);
  assert.equal(gecko.state, "closed");
  assert.equal(gecko.consecutive_failures, 0);
  assert.equal(gecko.retry_at, null);
  assert.ok((await marketAll(client)).every((coin) => coin.source === "coingecko"));
});

Deno.test("CoinMarketCap gets its key header, and the key is never logged or shown", async () => {
  const key = "cmc-9f8e7d6c-5b4a-never-log-this-key";
  await using upstream = await startFakeUpstream({ mode: "http500" });
  await using cmc = await startFakeCoinMarketCap({ apiKey: key });
  await using env = await startTestService([
    "--providers",
    "coingecko,coinmarketcap",
    "--cmc-url",
    cmc.baseUrl,
    "--cmc-key",
    key,
    "--refresh",
    "0.2",
  ], { upstream });
  await using client = await LineClient.connect(env.port);

  // CoinGecko never answered, so CoinMarketCap's own list is served: its recorded two coins.
  const cmcHost = new URL(cmc.baseUrl).host;
  assert.ok(
    env.logs.lines.some((line) => line.startsWith(`ingested 2 coins from ${cmcHost} in `)),
    env.logs.lines.join("\n"),
  );
  const [first] = cmc.requests;
  assert.equal(first.headers.get("X-CMC_PRO_API_KEY"), key);
  assert.equal(first.url.pathname, "/v1/cryptocurrency/listings/latest");
  assert.equal(first.url.searchParams.get("limit"), "10");
  assert.ok(!first.url.search.includes(key));
  const btc = (await client.request({ status: "OK", data: "MARKET BTC", v: 2 })).data as CoinObject;
  assert.equal(btc.source, "coinmarketcap");
  assert.equal(btc.price, 9283.92);

  // Now CoinMarketCap fails with an answer that repeats the key.
  const since = env.logs.lines.length;
  cmc.mode = "leaky_error";
  const failed = await env.logs.waitFor(/^ingestion failed/, { sinceIndex: since });
  assert.match(failed, /all providers failed: coingecko: .*HTTP 500.*; coinmarketcap: .*HTTP 500/);
  assert.match(failed, /while serving key \*\*\*/);
  const info = await client.request({ status: "OK", data: "INFO", v: 2 });
  const infoText = JSON.stringify(info);
  assert.match(infoText, /"name":"coinmarketcap"/);
  assert.ok(!infoText.includes(key), "INFO never shows the key");
  const leaked = env.logs.lines.filter((line) => line.includes(key));
  assert.deepEqual(leaked, [], "no log line contains the key");
  assert.ok(cmc.requests.every((r) => r.headers.get("x-cmc_pro_api_key") === key));
});
