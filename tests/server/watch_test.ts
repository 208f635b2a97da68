import assert from "node:assert/strict";
import { LineClient, startTestService } from "../helpers.ts";
import { moved } from "../moved_snapshot.ts";

const watch = (symbols: string) => ({ status: "OK", data: `WATCH ${symbols}`, v: 2 });

Deno.test("WATCH over real sockets", async (t) => {
  await using env = await startTestService(["--refresh", "3600"]);
  await using watcher = await LineClient.connect(env.port);

  await t.step("the reply lists the watched coins now", async () => {
    const reply = await watcher.request(watch("btc ETH"));
    const coins = reply.data as { symbol: string; price: number }[];
    assert.deepStrictEqual(coins.map((c) => [c.symbol, c.price]), [["BTC", 20220], [
      "ETH",
      1355.37,
    ]]);
  });

  await t.step(
    "an ingestion that changes BTC pushes one BTC update, nothing for others",
    async () => {
      const recorded = JSON.parse(
        await Deno.readTextFile(
          new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url),
        ),
      );
      recorded[0].current_price = 20300.5;
      env.upstream.setCoins(recorded);
      await env.service.ingestor.runOnce();
      const event = await watcher.readJson();
      assert.equal(event.event, "update");
      assert.equal(event.status, "OK");
      const coin = event.data as { symbol: string; price: number; currency: string };
      assert.deepStrictEqual([coin.symbol, coin.price, coin.currency], ["BTC", 20300.5, "USD"]);
      // Ordinary requests keep working, and no event for ETH came before this reply.
      assert.deepStrictEqual(await watcher.request({ status: "OK", data: "PING", v: 2 }), {
        status: "OK",
        data: "PONG",
      });
    },
  );

  await t.step("an unchanged ingestion pushes nothing", async () => {
    await env.service.ingestor.runOnce();
    assert.deepStrictEqual(await watcher.request({ status: "OK", data: "PING", v: 2 }), {
      status: "OK",
      data: "PONG",
    });
  });

  await t.step("UNWATCH BTC stops BTC updates and lists what is still watched", async () => {
    assert.deepStrictEqual(await watcher.request({ status: "OK", data: "UNWATCH btc", v: 2 }), {
      status: "OK",
      data: ["ETH"],
    });
    env.service.market.update(moved(env.service.market.snapshot!, 1));
    const event = await watcher.readJson();
    assert.equal((event.data as { symbol: string }).symbol, "ETH");
    assert.deepStrictEqual(await watcher.request({ status: "OK", data: "UNWATCH", v: 2 }), {
      status: "OK",
      data: [],
    });
    env.service.market.update(moved(env.service.market.snapshot!, 1));
    assert.equal((await watcher.request({ status: "OK", data: "PING", v: 2 })).data, "PONG");
  });

  await t.step("WATCH is v2 only; unknown coins and too many symbols are refused", async () => {
    assert.equal((await watcher.request({ status: "OK", data: "WATCH BTC" })).code, "BAD_REQUEST");
    assert.equal((await watcher.request(watch("BTC NOPE"))).code, "UNKNOWN_COIN");
    const many = Array.from({ length: 51 }, (_, i) => `C${i}`).join(" ");
    assert.equal((await watcher.request(watch(many))).code, "BAD_REQUEST");
    assert.equal(
      (await watcher.request({ status: "OK", data: "WATCH", v: 2 })).code,
      "BAD_REQUEST",
    );
  });

  await t.step("replies and events are never interleaved inside a line", async () => {
    await watcher.request(watch("BTC ETH USDT BNB XRP"));
    const requests = Array.from(
      { length: 200 },
      () => JSON.stringify({ data: "MARKET ALL", v: 2 }) + "\n",
    ).join("");
    await watcher.send(requests);
    for (let i = 0; i < 20; i++) env.service.market.update(moved(env.service.market.snapshot!, 1));
    let replies = 0;
    let events = 0;
    while (replies < 200 || events < 100) {
      const line = await watcher.readJson();
      if (line.event === "update") events++;
      else {
        assert.equal((line.data as unknown[]).length, 10);
        replies++;
      }
    }
    assert.deepStrictEqual([replies, events], [200, 100]);
  });
});

Deno.test("a watcher that does not read is closed at the unsent cap; the others get every update", async () => {
  await using env = await startTestService(["--refresh", "3600", "--max-unsent-bytes", "65536"]);
  await using stuck = await LineClient.connect(env.port);
  await using reader = await LineClient.connect(env.port);
  const all = env.service.market.snapshot!.coins.map((c) => c.symbol).join(" ");
  assert.equal((await stuck.request(watch(all))).status, "OK");
  assert.equal((await reader.request(watch(all))).status, "OK");

  const closed = env.logs.waitFor(/closed: more than 65536 bytes of replies not read/, {
    timeoutMs: 60_000,
  });
  let isClosed = false;
  closed.then(() => isClosed = true, () => {});
  let updates = 0;
  let received = 0;
  // Kernel buffers absorb the first few megabytes; keep ingesting until the server gives up.
  while (!isClosed && updates < 20_000) {
    env.service.market.update(moved(env.service.market.snapshot!, 1));
    updates++;
    while (received < updates * 10 - 50) {
      const line = await reader.readJson();
      assert.equal(line.event, "update");
      received++;
    }
  }
  await closed;
  while (received < updates * 10) {
    assert.equal((await reader.readJson()).event, "update");
    received++;
  }
  assert.equal(received, updates * 10);
  assert.equal(env.service.server.stats.connectionsOpen, 1);
  assert.equal((await reader.request({ status: "OK", data: "PING", v: 2 })).data, "PONG");
});
