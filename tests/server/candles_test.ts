/**
 * `CANDLES` over a real socket against the real service, its database holding known prices in
 * the past hours: exact candles, gaps as gaps, the current hour from the ingestion at start, a
 * currency at the current rate, and the refusals.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LineClient, startTestService } from "../helpers.ts";
import { currentHour, HOUR_MS, seedBtcPrices } from "../candle_seed.ts";

Deno.test("CANDLES over a socket: stored candles, gaps, currency and refusals", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "candles-server-" });
  // Known prices 5 and 3 hours before the current hour; the service adds the current price.
  const hour = currentHour();
  await seedBtcPrices(`${dir}/crypto.sqlite`, [
    [hour - 5 * HOUR_MS, 100],
    [hour - 5 * HOUR_MS + 30 * 60_000, 120],
    [hour - 5 * HOUR_MS + 45 * 60_000, 80],
    [hour - 3 * HOUR_MS + 10 * 60_000, 150],
  ]);
  await using env = await startTestService([], { dir });
  await using client = await LineClient.connect(env.port);

  await t.step("1h over 24h: 24 candles, exact where stored, gaps elsewhere", async () => {
    const reply = await client.request({ v: 2, data: "candles btc 1h 24h" });
    assert.equal(reply.status, "OK", JSON.stringify(reply));
    const data = reply.data as Record<string, unknown> & { candles: Record<string, unknown>[] };
    assert.equal(data.symbol, "BTC");
    assert.equal(data.interval, "1h");
    assert.equal(data.range, "24h");
    assert.equal(data.currency, "USD");
    const candles = data.candles;
    assert.equal(candles.length, 24);
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.equal(candles[23].time, iso(Math.floor(Date.now() / HOUR_MS) * HOUR_MS));
    const back = (h: number) => candles[23 - h - (candles[23].time === iso(hour) ? 0 : 1)];
    const candle = (
      hoursBack: number,
      ...[open, high, low, close, count]: (number | null)[]
    ) => ({ time: iso(hour - hoursBack * HOUR_MS), open, high, low, close, count });
    assert.deepEqual(back(5), candle(5, 100, 120, 80, 80, 3));
    assert.deepEqual(back(3), candle(3, 150, 150, 150, 150, 1));
    for (const h of [6, 4, 2]) assert.deepEqual(back(h), candle(h, null, null, null, null, 0));
    assert.equal(
      candles.reduce((n, c) => n + (c.count as number), 0),
      4 + (candles[23].count as number),
    );
    assert.equal(back(0).close, 20220, "the current hour ends at the price ingested at start");
  });

  await t.step("in EUR at the current rate; the default range", async () => {
    const reply = await client.request({ v: 2, data: "CANDLES BTC 1h 24h EUR" });
    const data = reply.data as {
      currency: string;
      converted_from: string;
      candles: { open: number }[];
    };
    assert.equal(data.currency, "EUR");
    assert.equal(data.converted_from, "USD");
    const rate = 52922.867 / 61388.956;
    const stored = data.candles.find((c) => c.open !== null)!;
    assert.ok(Math.abs(stored.open - 100 * rate) < 1e-9, String(stored.open));
    const week = await client.request({ v: 2, data: "CANDLES BTC 1h" });
    assert.equal((week.data as { range: string }).range, "7d");
    assert.equal((week.data as { candles: unknown[] }).candles.length, 168);
  });

  await t.step("over HTTP: the same candles as the protocol's, refusals as 400", async () => {
    const http = `http://127.0.0.1:${env.service.httpAddr!.port}/api/v1/coins/btc/candles`;
    const reply = await client.request({ v: 2, data: "CANDLES BTC 1h 24h EUR" });
    const response = await fetch(`${http}?interval=1h&range=24h&currency=eur`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), reply.data);
    for (const query of ["interval=2h", "interval=1h&range=1y", "interval=1m&range=7d"]) {
      const refused = await fetch(`${http}?${query}`);
      assert.equal(refused.status, 400, query);
      const body = await refused.json() as { error: { code: string; message: string } };
      assert.equal(body.error.code, "BAD_REQUEST", query);
    }
  });

  await t.step("refusals say what is expected", async () => {
    const cases: [string, number, string, RegExp][] = [
      ["CANDLES BTC 1h", 1, "BAD_REQUEST", /send it with "v":2/],
      ["CANDLES BTC 2h", 2, "BAD_REQUEST", /an interval \(1m, 5m, 15m, 30m, 1h, 4h, 1d\)/],
      ["CANDLES BTC 1m 7d", 2, "BAD_REQUEST", /1m candles cover at most 24h/],
      ["CANDLES BTC 1h 24h XYZ", 2, "UNKNOWN_CURRENCY", /Unknown currency XYZ/],
      ["CANDLES NOPE 1h", 2, "UNKNOWN_COIN", /No coin with symbol NOPE/],
    ];
    for (const [data, v, code, message] of cases) {
      const reply = await client.request({ v, data });
      assert.equal(reply.status, "ERROR", data);
      assert.equal(reply.code, code, data);
      assert.match(reply.data as string, message, data);
    }
  });
});
