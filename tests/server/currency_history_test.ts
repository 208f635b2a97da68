import assert from "node:assert/strict";
import { Market } from "../../lib/server/market.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { fixtureSnapshot, LineClient, startTestService } from "../helpers.ts";
import { respond } from "../respond.ts";

const RATES = JSON.parse(
  await Deno.readTextFile(
    new URL("../testdata/coingecko_exchange_rates_2021.json", import.meta.url),
  ),
).rates as Record<string, { name: string; unit: string; value: number; type: string }>;

/**
 * The exact value of `a × b / c` for decimal texts, as a decimal string with `digits` decimals,
 * computed with integers: an independent check of the floating-point conversion.
 */
function exactDecimal(a: string, b: string, c: string, digits = 12): number {
  const toRational = (text: string): [bigint, bigint] => {
    const [whole, fraction = ""] = text.split(".");
    return [BigInt(whole + fraction), 10n ** BigInt(fraction.length)];
  };
  const [an, ad] = toRational(a);
  const [bn, bd] = toRational(b);
  const [cn, cd] = toRational(c);
  const scale = 10n ** BigInt(digits);
  const value = (an * bn * cd * scale) / (ad * bd * cn);
  const text = value.toString().padStart(digits + 1, "0");
  return Number(`${text.slice(0, -digits)}.${text.slice(-digits)}`);
}

Deno.test("prices in other currencies over a real socket", async (t) => {
  await using env = await startTestService();
  await using client = await LineClient.connect(env.port);

  await t.step("MARKET BTC VND: v1 a float, equal to price × rate[vnd] / rate[usd]", async () => {
    const reply = await client.request({ status: "OK", data: "MARKET btc vnd" });
    const expected = (20220 * RATES.vnd.value) / RATES.usd.value;
    assert.equal(reply.data, expected);
    const exact = exactDecimal("20220", String(RATES.vnd.value), String(RATES.usd.value));
    assert.ok(Math.abs((reply.data as number) - exact) < 1e-6, `${reply.data} vs exact ${exact}`);
  });

  await t.step("v1 keeps a decimal point even for a whole converted price", async () => {
    await client.send('{"status":"OK","data":"MARKET BTC BTC"}\n');
    // 20220 USD in BTC at the 2021 rate is a fraction; BTC of BTC is checked for shape only.
    assert.match((await client.readLine())!, /^\{"status":"OK","data":\d+\.\d+(e-\d+)?\}$/);
  });

  await t.step("MARKET ALL EUR v2: currency, converted price and market cap", async () => {
    const reply = await client.request({ status: "OK", data: "MARKET ALL eur", v: 2 });
    const coins = reply.data as {
      symbol: string;
      price: number;
      market_cap: number;
      currency: string;
    }[];
    assert.equal(coins.length, 10);
    const eth = coins.find((c) => c.symbol === "ETH")!;
    assert.equal(eth.currency, "EUR");
    assert.equal(eth.price, (1355.37 * RATES.eur.value) / RATES.usd.value);
    assert.equal(eth.market_cap, (163848773001 * RATES.eur.value) / RATES.usd.value);
  });

  await t.step("v1 MARKET ALL VND keeps the name → price shape", async () => {
    const reply = await client.request({ status: "OK", data: "MARKET ALL VND" });
    const data = reply.data as Record<string, number>;
    assert.equal(data.Bitcoin, (20220 * RATES.vnd.value) / RATES.usd.value);
  });

  await t.step("USD stays the upstream's own number", async () => {
    await client.send('{"status":"OK","data":"MARKET BTC usd"}\n');
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
  });

  await t.step("UNKNOWN_CURRENCY", async () => {
    const reply = await client.request({ status: "OK", data: "MARKET BTC XYZ", v: 2 });
    assert.equal(reply.code, "UNKNOWN_CURRENCY");
    assert.match(reply.data as string, /XYZ/);
  });

  await t.step("CURRENCIES lists every code with name and unit, USD first", async () => {
    const reply = await client.request({ status: "OK", data: "CURRENCIES", v: 2 });
    const list = reply.data as { code: string; name: string; unit: string; type: string }[];
    assert.equal(list.length, Object.keys(RATES).length);
    assert.deepStrictEqual(list[0], { code: "USD", name: "US Dollar", unit: "$", type: "fiat" });
    assert.deepStrictEqual(list.find((c) => c.code === "VND"), {
      code: "VND",
      name: "Vietnamese đồng",
      unit: "₫",
      type: "fiat",
    });
  });

  await t.step(
    "a failed rates fetch keeps the last rates, and says so once per attempt",
    async () => {
      env.upstream.ratesMode = "http500";
      const since = env.logs.lines.length;
      await env.service.ingestor.runOnce();
      const failures = env.logs.lines.slice(since).filter((l) =>
        l.startsWith("exchange rates fetch failed")
      );
      assert.equal(failures.length, 1);
      assert.match(failures[0], /keeping rates of /);
      const reply = await client.request({ status: "OK", data: "MARKET btc vnd" });
      assert.equal(reply.data, (20220 * RATES.vnd.value) / RATES.usd.value);
      env.upstream.ratesMode = null;
    },
  );

  await t.step(
    "the rates are stored and used again after a restart with the upstream down",
    async () => {
      await env.stop();
      env.upstream.mode = "http500";
      await using again = await startTestService([], {
        dir: env.dir,
        upstream: env.upstream,
        waitForIngestion: false,
      });
      await using second = await LineClient.connect(again.port);
      const reply = await second.request({ status: "OK", data: "MARKET ETH EUR" });
      assert.equal(reply.data, (1355.37 * RATES.eur.value) / RATES.usd.value);
      env.upstream.mode = "ok";
    },
  );
});

Deno.test("PING and INFO over a real socket", async () => {
  await using env = await startTestService();
  await using client = await LineClient.connect(env.port);
  assert.deepStrictEqual(await client.request({ status: "OK", data: "PING" }), {
    status: "OK",
    data: "PONG",
  });
  await client.request({ status: "OK", data: "MARKET BTC" });
  await client.request({ status: "OK", data: "MARKET NOPE" });
  // deno-lint-ignore no-explicit-any
  type Report = Record<string, any>;
  const info = (await client.request({ status: "OK", data: "INFO", v: 2 })).data as Report;
  // The counters are of the requests answered before this one.
  assert.equal(info.requests.INFO, undefined);
  assert.equal(typeof info.version, "string");
  assert.ok(info.uptime_seconds >= 0);
  assert.equal(info.connections.open, 1);
  assert.ok(info.connections.served >= 1);
  assert.ok(info.requests.MARKET >= 2);
  assert.equal(info.requests.PING, 1);
  assert.equal(info.errors.UNKNOWN_COIN, 1);
  assert.equal(info.ingestion.result, "ok");
  assert.equal(info.ingestion.coins, 10);
  assert.equal(typeof info.ingestion.next_refresh_at, "string");
  assert.equal(info.data.coins, 10);
  assert.equal(info.data.stale, false);
  assert.ok(info.database.size_bytes > 0);
  // INFO is never served from the reply cache: the counters move.
  const again = (await client.request({ status: "OK", data: "INFO", v: 2 })).data as Report;
  assert.equal(again.requests.INFO, 1);
});

Deno.test("HISTORY on a real SQLite file with thousands of snapshots", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "crypto-history-" });
  await using repository = await SqliteRepository.open(`${dir}/history.sqlite`);
  const base = await fixtureSnapshot();
  const start = Date.parse("2026-01-01T00:00:00.000Z");
  const minute = 60_000;
  const total = 3 * 24 * 60; // three days, one snapshot a minute
  // Only the coins asked about are stored, which keeps seeding quick.
  const stored = base.coins.filter((coin) => coin.symbol === "BTC" || coin.symbol === "ETH");
  for (let i = 0; i < total; i++) {
    // BTC climbs by one dollar a minute; its all-time low and high are the first and last.
    const coins = stored.map((coin) =>
      coin.symbol === "BTC" ? { ...coin, price: 20000 + i, priceText: String(20000 + i) } : coin
    );
    await repository.saveSnapshot({
      ...base,
      coins,
      fetchedAt: new Date(start + i * minute).toISOString(),
    });
  }
  const now = start + (total - 1) * minute;
  const market = new Market({
    staleAfterMs: 60_000,
    now: () => now,
    history: (symbol, since, max) => repository.historySeries(symbol, since, max),
  });
  market.update({ ...base, fetchedAt: new Date(now).toISOString() });
  const ask = async (data: string) => {
    const reply = respond(market, new TextEncoder().encode(JSON.stringify({ data, v: 2 })));
    return JSON.parse(new TextDecoder().decode((await reply.later ?? reply).bytes));
  };

  await t.step("24h: at most 200 points, evenly spaced, first and last included", async () => {
    const { data } = await ask("HISTORY BTC");
    assert.equal(data.count, 24 * 60 + 1);
    assert.equal(data.points.length, 200);
    assert.equal(data.first, 20000 + total - 1 - 24 * 60);
    assert.equal(data.last, 20000 + total - 1);
    assert.equal(data.min, data.first);
    assert.equal(data.max, data.last);
    const prices = data.points.map((p: [string, number]) => p[1]);
    const gaps = prices.slice(1).map((p: number, i: number) => p - prices[i]);
    assert.ok(
      Math.max(...gaps) - Math.min(...gaps) <= 1,
      `uneven gaps ${Math.min(...gaps)}..${Math.max(...gaps)}`,
    );
    assert.ok(Math.abs(data.change_pct - ((data.last - data.first) / data.first) * 100) < 1e-12);
    assert.equal(data.range, "24h");
  });

  await t.step("1h: every point when there are fewer than 200", async () => {
    const { data } = await ask("HISTORY btc 1h");
    assert.equal(data.count, 61);
    assert.equal(data.points.length, 61);
    assert.deepStrictEqual(data.points.at(-1), [new Date(now).toISOString(), 20000 + total - 1]);
  });

  await t.step("7d covers all three days; flat coins have 0 % change", async () => {
    assert.equal((await ask("HISTORY BTC 7d")).data.count, total);
    const eth = (await ask("HISTORY ETH 7d")).data;
    assert.equal(eth.min, eth.max);
    assert.equal(eth.change_pct, 0);
  });

  await t.step("an unknown coin is UNKNOWN_COIN", async () => {
    assert.equal((await ask("HISTORY NOPE")).code, "UNKNOWN_COIN");
  });

  await t.step("pruning deletes exactly the rows before the cutoff, in batches", async () => {
    const cutoff = new Date(start + 24 * 60 * minute).toISOString();
    let batches = 0;
    for (let n; (n = await repository.pruneHistoryBatch(cutoff, 1000)) > 0;) {
      assert.ok(n <= 1000);
      batches++;
    }
    // Two coins' first day at one price a minute: more than 2,880 exact prices and buckets.
    assert.ok(batches >= 3, `${batches} batches`);
    // HISTORY replies are computed once per snapshot; a new one reads the pruned table.
    market.update({ ...base, fetchedAt: new Date(now).toISOString() });
    assert.equal((await ask("HISTORY BTC 7d")).data.count, total - 24 * 60);
    assert.equal((await ask("HISTORY BTC 7d")).data.first, 20000 + 24 * 60);
  });
  await repository.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("HISTORY read from storage keeps its place among pipelined replies", async () => {
  await using env = await startTestService();
  await using client = await LineClient.connect(env.port);
  // One write: a HISTORY (read in the storage worker) between replies served from memory, twice
  // (the second time the same request text is answered from the reply cache).
  const batch = [
    { data: "PING" },
    { data: "HISTORY BTC 1h", v: 2 },
    { data: "MARKET BTC" },
    { data: "HISTORY NOPE", v: 2 },
    { data: "HISTORY ETH", v: 2 },
    { data: "PING" },
  ].map((r) => JSON.stringify({ status: "OK", ...r }) + "\n").join("");
  for (let round = 0; round < 2; round++) {
    await client.send(batch);
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await client.readJson());
    assert.equal(replies[0].data, "PONG");
    assert.equal((replies[1].data as { symbol: string }).symbol, "BTC");
    assert.equal(replies[2].data, 20220);
    assert.equal(replies[3].code, "UNKNOWN_COIN");
    assert.equal((replies[4].data as { symbol: string; range: string }).symbol, "ETH");
    assert.equal(replies[5].data, "PONG");
  }
  const info = (await client.request({ status: "OK", data: "INFO", v: 2 })).data as {
    requests: Record<string, number>;
  };
  assert.equal(info.requests.HISTORY, 6, "every HISTORY is counted once, when answered");
});
