import assert from "node:assert/strict";
import { LineClient, startTestService } from "../helpers.ts";

const ALL_V1 = { status: "OK", data: "MARKET ALL" };
const BTC_V1 = { status: "OK", data: "MARKET BTC" };

Deno.test("server over real sockets", async (t) => {
  await using env = await startTestService();
  const upstreamText = await Deno.readTextFile(
    new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url),
  );
  const recorded = JSON.parse(upstreamText).slice(0, 10);

  await t.step("v1 MARKET ALL: names to prices in rank order, every price a float", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send(JSON.stringify(ALL_V1) + "\n");
    const line = (await client.readLine())!;
    assert.ok(line.length + 1 <= 1024, `v1 MARKET ALL is ${line.length + 1} bytes`);
    assert.match(line, /^\{"status":"OK","data":\{"Bitcoin":20220\.0,"Ethereum":1355\.37,/);
    const reply = JSON.parse(line);
    assert.deepStrictEqual(Object.keys(reply.data), recorded.map((c: { name: string }) => c.name));
    assert.deepStrictEqual(
      Object.values(reply.data),
      recorded.map((c: { current_price: number }) => c.current_price),
    );
  });

  await t.step("v1 MARKET BTC: a JSON number with a decimal point", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send(JSON.stringify({ status: "OK", data: " market  btc " }) + "\n");
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
  });

  await t.step("v2 replies: coin objects in rank order", async () => {
    await using client = await LineClient.connect(env.port);
    const all = await client.request({ ...ALL_V1, v: 2 });
    const coins = all.data as Record<string, unknown>[];
    assert.equal(coins.length, 10);
    assert.deepStrictEqual(coins.map((c) => c.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const eth = await client.request({ status: "OK", data: "MARKET eth", v: 2 });
    const coin = eth.data as Record<string, unknown>;
    assert.deepStrictEqual(
      { ...coin, fetched_at: typeof coin.fetched_at },
      {
        symbol: "ETH",
        name: "Ethereum",
        price: 1355.37,
        currency: "USD",
        rank: 2,
        market_cap: 163848773001,
        change_24h: 2.91217,
        updated_at: "2022-10-04T20:16:06.076Z",
        fetched_at: "string",
        source: "coingecko",
        stale: false,
      },
    );
    assert.deepStrictEqual(coins[1], coin);
  });

  await t.step("a request without newline is answered (the original Python client)", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send(JSON.stringify(BTC_V1));
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
    // The same connection goes on working.
    await client.send(JSON.stringify({ status: "OK", data: "MARKET ETH" }));
    assert.equal(await client.readLine(), '{"status":"OK","data":1355.37}');
  });

  await t.step("pipelined requests in one segment are answered in order", async () => {
    await using client = await LineClient.connect(env.port);
    const symbols = ["BTC", "ETH", "USDT", "XRP", "NOPE", "BNB"];
    const batch = Array.from({ length: 50 }, (_, i) => symbols[i % symbols.length]);
    await client.send(
      batch.map((s) => JSON.stringify({ status: "OK", data: `MARKET ${s}`, v: 2 }) + "\n").join(""),
    );
    for (const symbol of batch) {
      const reply = await client.readJson();
      if (symbol === "NOPE") assert.equal(reply.code, "UNKNOWN_COIN");
      else assert.equal((reply.data as { symbol: string }).symbol, symbol);
    }
  });

  await t.step("a request split into single bytes is answered once", async () => {
    await using client = await LineClient.connect(env.port);
    for (const ch of JSON.stringify(BTC_V1) + "\n" + JSON.stringify({ ...BTC_V1, v: 2 }) + "\n") {
      await client.send(ch);
    }
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
    assert.equal(((await client.readJson()).data as { price: number }).price, 20220);
  });

  await t.step("every error code, and the connection stays usable after each", async () => {
    await using client = await LineClient.connect(env.port);
    const cases: [string, string][] = [
      ["{not json", "BAD_JSON"],
      ['"MARKET ALL"', "BAD_REQUEST"],
      ['{"status":"OK"}', "BAD_REQUEST"],
      ['{"status":"OK","data":42}', "BAD_REQUEST"],
      ['{"status":"OK","data":"SELL BTC"}', "UNKNOWN_COMMAND"],
      ['{"status":"OK","data":"MARKET DOGGO"}', "UNKNOWN_COIN"],
    ];
    for (const [request, code] of cases) {
      await client.send(request + "\n");
      const reply = await client.readJson();
      assert.equal(reply.status, "ERROR", request);
      assert.equal(reply.code, code, request);
      assert.equal(typeof reply.data, "string");
      assert.deepStrictEqual(await client.request(BTC_V1), { status: "OK", data: 20220 });
    }
    // The bad input is logged with the client's address and an escaped sample.
    assert.ok(env.logs.matching(/^127\.0\.0\.1:\d+ UNKNOWN_COMMAND: "\{\\"status\\"/).length > 0);
  });

  await t.step("empty lines are ignored", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send("\n\r\n   \n" + JSON.stringify(BTC_V1) + "\n");
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
  });

  await t.step("LINE_TOO_LONG is replied, then the connection is closed", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send("x".repeat(70 * 1024));
    const reply = await client.readJson();
    assert.equal(reply.code, "LINE_TOO_LONG");
    assert.ok(await client.closedByServer());
  });

  await t.step("CLOSE says goodbye and closes", async () => {
    await using client = await LineClient.connect(env.port);
    assert.deepStrictEqual(await client.request({ status: "CLOSE" }), {
      status: "OK",
      data: "BYE",
    });
    assert.ok(await client.closedByServer());
  });

  await t.step("a half-closed connection still gets its replies", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send(JSON.stringify(BTC_V1) + "\n" + JSON.stringify(BTC_V1));
    await (client.conn as Deno.TcpConn).closeWrite();
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
    assert.equal(await client.readLine(), null);
  });

  await t.step(
    "prices are never re-formatted: the upstream's digits reach the client",
    async () => {
      const coins = JSON.parse(upstreamText).slice(0, 10);
      coins[0].current_price = 0.00001234;
      const text = JSON.stringify(coins).replace(
        '"current_price":0.00001234',
        '"current_price":0.000012340',
      );
      env.upstream.setCoins(
        text.replace('"current_price":1355.37', '"current_price":1355.370000000000001'),
      );
      const since = env.logs.lines.length;
      const ingested = env.logs.waitFor(/^ingested/, { sinceIndex: since });
      await env.service.ingestor.runOnce();
      await ingested;
      await using client = await LineClient.connect(env.port);
      await client.send(
        JSON.stringify(BTC_V1) + "\n" + JSON.stringify({ status: "OK", data: "MARKET ETH", v: 2 }) +
          "\n",
      );
      assert.equal(await client.readLine(), '{"status":"OK","data":0.000012340}');
      assert.match((await client.readLine())!, /"price":1355\.370000000000001,/);
    },
  );
});

Deno.test("server with nothing ingested answers NO_DATA, then serves the first ingestion", async () => {
  await using env = await startTestService(["--refresh", "3600"], { waitForIngestion: false });
  env.upstream.mode = "http500";
  await env.logs.waitFor(/^ingestion failed \(attempt 1\)/);
  await using client = await LineClient.connect(env.port);
  const reply = await client.request(BTC_V1);
  assert.equal(reply.code, "NO_DATA");
  assert.equal((await client.request({ ...ALL_V1, v: 2 })).code, "NO_DATA");
  env.upstream.mode = "ok";
  await env.service.ingestor.runOnce();
  assert.deepStrictEqual(await client.request(BTC_V1), { status: "OK", data: 20220 });
});

Deno.test("a restart with the upstream down serves the stored data at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crypto-test-" });
  let upstream;
  {
    await using first = await startTestService([], { dir });
    upstream = first.upstream;
    await first.stop();
    upstream.mode = "http500";
    await using second = await startTestService([], { dir, upstream, waitForIngestion: false });
    await second.logs.waitFor(/^ingestion failed/);
    assert.ok(second.logs.matching(/^serving 10 stored coins fetched at /).length === 1);
    await using client = await LineClient.connect(second.port);
    assert.deepStrictEqual(await client.request(BTC_V1), { status: "OK", data: 20220 });
  }
});

Deno.test("past --max-connections a new connection gets BUSY and the others do not notice", async () => {
  await using env = await startTestService(["--max-connections", "2"]);
  await using a = await LineClient.connect(env.port);
  await using b = await LineClient.connect(env.port);
  assert.equal((await a.request(BTC_V1)).status, "OK");
  assert.equal((await b.request(BTC_V1)).status, "OK");
  await using c = await LineClient.connect(env.port);
  assert.equal((await c.readJson()).code, "BUSY");
  assert.ok(await c.closedByServer());
  assert.equal((await a.request(BTC_V1)).status, "OK");
  assert.equal((await b.request(BTC_V1)).status, "OK");
});

Deno.test("an incomplete request times out with TIMEOUT", async () => {
  await using env = await startTestService(["--request-timeout", "0.2"]);
  await using client = await LineClient.connect(env.port);
  await client.send('{"status":"OK","da');
  const reply = await client.readJson();
  assert.equal(reply.code, "TIMEOUT");
  assert.ok(await client.closedByServer());
});

Deno.test("an idle connection is closed after --idle-timeout", async () => {
  await using env = await startTestService(["--idle-timeout", "0.2"]);
  await using client = await LineClient.connect(env.port);
  assert.equal((await client.request(BTC_V1)).status, "OK");
  assert.equal((await client.readJson()).code, "TIMEOUT");
  assert.ok(await client.closedByServer());
});

Deno.test("blank lines and spaces do not keep an idle connection open", async () => {
  await using env = await startTestService(["--idle-timeout", "0.5"]);
  await using client = await LineClient.connect(env.port);
  assert.equal((await client.request(BTC_V1)).status, "OK");
  const reply = client.readJson();
  let timedOut = false;
  reply.finally(() => timedOut = true).catch(() => {});
  // A space or an empty line every 50 ms, far more often than the idle timeout; the server must
  // still close the connection. The 15 s bound only stops the loop if it does not.
  const deadline = Date.now() + 15_000;
  for (let i = 0; !timedOut && Date.now() < deadline; i++) {
    await client.send(i % 2 ? " " : "\n").catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(timedOut, "the connection was still open after 15 s of blank lines");
  assert.equal((await reply).code, "TIMEOUT");
  assert.ok(await client.closedByServer());
});
