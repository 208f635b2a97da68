/**
 * What a hostile upstream can send: answers too large to hold (plain or a gzip bomb), redirects
 * to another origin that would carry the API key away, and coins with huge or hostile names.
 * Every upstream here is a real local HTTP server.
 */
import assert from "node:assert/strict";
import { cleanName, MAX_NAME_CHARS } from "../../lib/ingest/validate_coin.ts";
import { DEFAULT_MAX_BYTES, requestJson } from "../../lib/ingest/upstream_http.ts";
import { UpstreamError } from "../../lib/ingest/upstream_error.ts";
import { fetchMarkets } from "../../lib/ingest/coingecko.ts";
import { FIXTURE, LineClient, startTestService, withDeadline } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";

const enc = new TextEncoder();

/** A local HTTP server for one test; `handler` decides every answer. */
function serve(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * A body that looks like the start of a JSON list and goes on for `total` bytes, made while the
 * client reads; `cancelled` resolves when the client gives up on it.
 */
function endlessList(total: number) {
  const chunk = enc.encode(" ".repeat(64 * 1024));
  const cancelled = Promise.withResolvers<number>();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(enc.encode("["));
    },
    pull(controller) {
      if (sent >= total) return controller.close();
      sent += chunk.length;
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled.resolve(sent);
    },
  }, { highWaterMark: 1 });
  return { body, cancelled: cancelled.promise };
}

Deno.test("an answer larger than the cap fails while it streams, not at the deadline", async () => {
  // 200 MB, as in the report; the cap stops reading long before.
  const huge = endlessList(200 * 1024 * 1024);
  await using upstream = serve(() =>
    new Response(huge.body, { headers: { "content-type": "application/json" } })
  );
  const error = await requestJson(`${upstream.url}/big`, {
    timeoutMs: 120_000,
    maxBytes: 1024 * 1024,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  assert.match(error.message, /^127\.0\.0\.1:\d+ sent an answer over 1048576 bytes/);
  assert.match(error.message, /--max-upstream-bytes/);
  // The download was cancelled, so the upstream stopped producing near the cap.
  const sent = await withDeadline(huge.cancelled, "cancelling the body", 10_000);
  assert.ok(sent < 16 * 1024 * 1024, `the upstream produced ${sent} bytes`);
});

Deno.test("a gzip bomb is counted after decompression and cut off at the cap", async () => {
  // 100 MiB of spaces, gzipped while sent: about 100 KB on the wire.
  const bomb = endlessList(100 * 1024 * 1024);
  let wire = 0;
  await using upstream = serve(() => {
    const gzip = new CompressionStream("gzip") as unknown as TransformStream<
      Uint8Array,
      Uint8Array
    >;
    const gzipped = bomb.body.pipeThrough(gzip).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          wire += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(gzipped, {
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
  });
  const error = await requestJson(`${upstream.url}/bomb`, {
    timeoutMs: 120_000,
    maxBytes: 4 * 1024 * 1024,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  assert.match(error.message, /sent an answer over 4194304 bytes/);
  // Small on the wire: only the count after decompression can catch it.
  assert.ok(wire < 1024 * 1024, `${wire} compressed bytes were sent`);
});

Deno.test("an answer that announces a length over the cap is refused before reading", async () => {
  await using upstream = serve(() =>
    new Response("[" + " ".repeat(2048) + "]", { headers: { "content-type": "application/json" } })
  );
  await assert.rejects(
    requestJson(`${upstream.url}/x`, { maxBytes: 1024 }),
    /sent an answer over 1024 bytes \(it announced 2050\)/,
  );
  // Under the cap it is read as usual.
  assert.deepEqual(await requestJson(`${upstream.url}/x`, { maxBytes: 4096 }), []);
});

Deno.test("the default cap fits CoinPaprika's full ticker list", () => {
  // 12,000 tickers of about 1 KB each is the most CoinPaprika has listed; see DEFAULT_MAX_BYTES.
  assert.ok(DEFAULT_MAX_BYTES >= 2 * 12_000 * 1024);
});

Deno.test("other clients are answered while the server reads a huge answer", async () => {
  const huge = endlessList(200 * 1024 * 1024);
  const rates = await Deno.readTextFile(
    new URL("../testdata/coingecko_exchange_rates_2021.json", import.meta.url),
  );
  await using upstream = serve((request) =>
    new URL(request.url).pathname.endsWith("/exchange_rates")
      ? new Response(rates)
      : new Response(huge.body, { headers: { "content-type": "application/json" } })
  );
  await using env = await startTestService(
    ["--api-url", `${upstream.url}/api/v3`, "--max-upstream-bytes", String(64 * 1024 * 1024)],
    { waitForIngestion: false },
  );
  await using client = await LineClient.connect(env.port);
  const failed = env.logs.waitFor(/sent an answer over 67108864 bytes/, { timeoutMs: 60_000 });
  let done = false;
  failed.finally(() => done = true).catch(() => {});
  let pings = 0;
  // Every PING while the body streams in is answered within a generous deadline.
  while (!done) {
    const reply = await withDeadline(client.request({ data: "PING" }), `PING #${pings + 1}`, 2000);
    assert.equal(reply.status, "OK");
    pings++;
  }
  const line = await failed;
  assert.match(line, /^ingestion failed \(attempt 1\): 127\.0\.0\.1:\d+ sent an answer over/);
  assert.ok(pings > 0);
});

Deno.test("a redirect to another origin is refused and the key never reaches it", async () => {
  const seen: Headers[] = [];
  await using other = serve((request) => {
    seen.push(request.headers);
    return new Response(Deno.readTextFileSync(FIXTURE));
  });
  await using upstream = serve((request) =>
    new Response(null, {
      status: 302,
      headers: { location: `${other.url}${new URL(request.url).pathname}` },
    })
  );
  const error = await fetchMarkets({
    apiUrl: `${upstream.url}/api/v3`,
    apiKey: "SECRET-KEY",
    top: 3,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  const otherHost = new URL(other.url).host;
  assert.match(error.message, /redirected to another origin/);
  assert.ok(error.message.includes(otherHost), error.message);
  assert.ok(!error.message.includes("SECRET-KEY"));
  assert.equal(seen.length, 0, "the other origin was asked");
});

Deno.test("a redirect within the origin is followed, with the key", async () => {
  const keys: (string | null)[] = [];
  await using upstream = serve((request) => {
    const url = new URL(request.url);
    keys.push(request.headers.get("x-cg-demo-api-key"));
    if (url.pathname.startsWith("/old/")) {
      return new Response(null, {
        status: 301,
        headers: { location: url.pathname.replace("/old", "") + url.search },
      });
    }
    return new Response(Deno.readTextFileSync(FIXTURE));
  });
  const coins = await fetchMarkets({ apiUrl: `${upstream.url}/old/api/v3`, apiKey: "K", top: 3 });
  assert.deepEqual(coins.slice(0, 3).map((c) => c.symbol), ["BTC", "ETH", "USDT"]);
  assert.deepEqual(keys, ["K", "K"]);
});

Deno.test("a redirect loop within the origin ends", async () => {
  await using upstream = serve(() =>
    new Response(null, { status: 302, headers: { location: "/" } })
  );
  await assert.rejects(requestJson(`${upstream.url}/`), /redirected more than 3 times/);
});

Deno.test("the service logs a refused redirect and ingests nothing from the other origin", async () => {
  const seen: (string | null)[] = [];
  const fixture = await startFakeUpstream();
  await using other = serve((request) => {
    seen.push(request.headers.get("x-cg-demo-api-key"));
    return fetch(fixture.baseUrl + new URL(request.url).pathname.replace(/^\/api\/v3/, ""));
  });
  await using upstream = serve((request) =>
    new Response(null, {
      status: 307,
      headers: { location: other.url + new URL(request.url).pathname },
    })
  );
  try {
    await using env = await startTestService(
      ["--api-url", `${upstream.url}/api/v3`, "--api-key", "SECRET-KEY"],
      { upstream: fixture, waitForIngestion: false },
    );
    const line = await env.logs.waitFor(/ingestion failed/);
    assert.match(line, /redirected to another origin/);
    assert.ok(!line.includes("SECRET-KEY"));
    assert.equal(env.service.market.snapshot, null);
  } finally {
    await fixture.close();
  }
  assert.deepEqual(seen, []);
});

Deno.test("names are cleaned and cut; a coin with a hostile symbol is skipped", async (t) => {
  const text = await Deno.readTextFile(FIXTURE);
  const served = (coins: unknown[]) => () => Promise.resolve(new Response(JSON.stringify(coins)));
  const fixture = JSON.parse(text) as Record<string, unknown>[];

  await t.step("a 1 MiB name is cut to the bound", async () => {
    const coins = structuredClone(fixture).slice(0, 10);
    for (const coin of coins) coin.name = "N".repeat(1024 * 1024);
    const parsed = await fetchMarkets({ apiUrl: "http://h/api/v3", top: 10, fetch: served(coins) });
    for (const coin of parsed) assert.equal(coin.name, "N".repeat(MAX_NAME_CHARS));
  });

  await t.step("control and bidi characters leave names", () => {
    assert.equal(cleanName("\u202eniocti\u202cB"), "nioctiB");
    assert.equal(cleanName("Bit\n\tcoin\u200b  Cash\u0000"), "Bit coin Cash");
    assert.equal(cleanName("\u2066\u0007 "), "");
    assert.equal(cleanName("🐶 Doge ✓"), "🐶 Doge ✓");
  });

  /** The coins `fetchMarkets` keeps of `coins`, and the skips it reported. */
  const fetchSkipping = async (coins: unknown[]) => {
    const skipped: string[] = [];
    const kept = await fetchMarkets({
      apiUrl: "http://h/api/v3",
      top: 10,
      fetch: served(coins),
      onSkipped: (messages) => skipped.push(...messages),
    });
    return { symbols: kept.map((coin) => coin.symbol), skipped };
  };

  await t.step("a symbol with U+202E costs only its coin, named in the skip", async () => {
    const coins = structuredClone(fixture).slice(0, 10);
    coins[2].symbol = "\u202eCTB";
    const { symbols, skipped } = await fetchSkipping(coins);
    assert.equal(symbols.length, 9);
    assert.ok(!symbols.some((symbol) => symbol.includes("CTB")), symbols.join());
    assert.equal(skipped.length, 1);
    assert.match(
      skipped[0],
      /invalid coin #3: symbol must be a word of at most 32 printable characters, got "\\u202eCTB"/,
    );
  });

  await t.step("a name with nothing printable costs only its coin", async () => {
    const coins = structuredClone(fixture).slice(0, 10);
    coins[0].name = "\u202e\u0000";
    const { symbols, skipped } = await fetchSkipping(coins);
    assert.equal(symbols.length, 9);
    assert.ok(!symbols.includes("BTC"));
    assert.match(
      skipped[0],
      /invalid coin #1 \("btc"\): name must be a string with printable characters/,
    );
  });

  await t.step("number and date text is bounded", async () => {
    const coins = structuredClone(fixture).slice(0, 10);
    coins[0].last_updated = "2022-10-04T20:16:27.116Z (" + "x".repeat(100_000) + ")";
    const { symbols, skipped } = await fetchSkipping(coins);
    assert.equal(symbols.length, 9);
    assert.match(skipped[0], /last_updated must be an ISO date or null/);
    const long = `[{"id":"bitcoin","symbol":"btc","name":"Bitcoin","market_cap_rank":1,` +
      `"current_price":1.${"0".repeat(100)},"market_cap":1}]`;
    await assert.rejects(
      fetchMarkets({
        apiUrl: "http://h/api/v3",
        top: 1,
        fetch: () => Promise.resolve(new Response(long)),
      }),
      /current_price must be a non-negative number/,
    );
  });
});

Deno.test("hostile names from a live upstream are served cleaned, to a client with a tiny unsent cap", async () => {
  const fixture = await startFakeUpstream();
  const coins = JSON.parse(await Deno.readTextFile(FIXTURE)) as Record<string, unknown>[];
  // Ten 1 MiB names, as in the report.
  for (const coin of coins.slice(0, 10)) coin.name = "\u202e" + "Z".repeat(1024 * 1024);
  fixture.setCoins(coins);
  await using env = await startTestService(["--top", "250", "--max-unsent-bytes", "1024"], {
    upstream: fixture,
  });
  await using client = await LineClient.connect(env.port);
  // MARKET ALL is far larger than 1024 bytes; a client that reads still gets all of it, twice.
  for (let i = 0; i < 2; i++) {
    const reply = await withDeadline(client.request({ data: "MARKET ALL", v: 2 }), "MARKET ALL");
    assert.equal(reply.status, "OK");
    const data = reply.data as { name: string }[];
    assert.equal(data.length, 100);
    for (const coin of data.slice(0, 10)) assert.equal(coin.name, "Z".repeat(MAX_NAME_CHARS));
  }
  assert.deepEqual(env.logs.matching(/replies not read/), []);
});
