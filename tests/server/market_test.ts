import assert from "node:assert/strict";
import { Market } from "../../lib/server/market.ts";
import { PriceServer } from "../../lib/server/price_server.ts";
import type { HistorySeries } from "../../lib/storage/repository.ts";
import { BTC_2022, fixtureSnapshot, LineClient } from "../helpers.ts";

Deno.test("a HISTORY read that failed is read again once storage answers, also when repeated", async () => {
  const fetchedAt = "2022-10-04T20:16:00.000Z";
  let failing = true;
  let reads = 0;
  const market = new Market({
    staleAfterMs: 60_000,
    now: () => Date.parse(fetchedAt),
    history: (): Promise<HistorySeries> => {
      reads++;
      if (failing) return Promise.reject(new Error("db down"));
      return Promise.resolve({ points: [[fetchedAt, 20220]], count: 1, min: 20220, max: 20220 });
    },
  });
  market.update({ coins: [BTC_2022], fetchedAt, source: "coingecko" });
  const line = new TextEncoder().encode('{"data":"HISTORY BTC 24h","v":2}');
  const ask = async () => {
    const reply = market.respond(line);
    return JSON.parse(new TextDecoder().decode((await reply.later ?? reply).bytes));
  };
  for (let i = 0; i < 2; i++) {
    const reply = await ask();
    assert.equal(reply.status, "ERROR", JSON.stringify(reply));
    assert.match(reply.data, /cannot be read now: db down/);
  }
  failing = false;
  const recovered = await ask();
  assert.equal(recovered.status, "OK", JSON.stringify(recovered));
  assert.equal(recovered.data.count, 1);
  assert.equal(reads, 3, "every failed read is tried again, not served from the cache");
  const cached = await ask();
  assert.equal(cached.status, "OK");
});

Deno.test("a server on the wall clock judges staleness by the time of each read", async () => {
  // The server passes its own `Date.now()` reading to a market on the wall clock instead of the
  // market reading the clock again: a wrong reading (none, or an old one) would show here.
  const market = new Market({ staleAfterMs: 60_000 });
  assert.equal(market.wallClock, true);
  assert.equal(new Market({ staleAfterMs: 60_000, now: () => 0 }).wallClock, false);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using server = new PriceServer(listener, { market, log: () => {} });
  const serving = server.serve();
  await using client = await LineClient.connect(server.addr.port);
  const stale = async () => {
    const reply = await client.request({ status: "OK", data: "MARKET BTC", v: 2 });
    return (reply.data as Record<string, unknown>).stale;
  };
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  market.update(await fixtureSnapshot(10, ago(0)));
  assert.equal(await stale(), false);
  market.update(await fixtureSnapshot(10, ago(61_000)));
  assert.equal(await stale(), true);
  market.update(await fixtureSnapshot(10, ago(59_000)));
  assert.equal(await stale(), false);
  client.close();
  await server.shutdown();
  await serving;
});
