/**
 * Every way the upstream fails, through the real service: the last good data keeps being served,
 * a failure is logged when it starts (not at every attempt), retries back off, new prices are
 * picked up on recovery, old data is flagged stale, plain http:// is refused off loopback and the
 * API key never leaks.
 */
import assert from "node:assert/strict";
import { parseServerArgs } from "../../lib/app/config.ts";
import { UsageError } from "../../lib/util/usage_error.ts";
import { type FakeMode, startFakeUpstream } from "../fakes/fake_upstream.ts";
import { startService } from "../../lib/app/service.ts";
import { LineClient, LogCapture, startTestService, testServerArgs } from "../helpers.ts";
import { ServerProcess } from "../server_process.ts";

const BTC_V1 = { status: "OK", data: "MARKET BTC" };
const BTC_V2 = { status: "OK", data: "MARKET BTC", v: 2 };
const KEY = "CG-sEcReT-test-key-42";
const FIXTURES = new URL("../testdata/", import.meta.url);
const marketsText = await Deno.readTextFile(
  new URL("coingecko_markets_usd_2022-10-04.json", FIXTURES),
);
const ratesText = await Deno.readTextFile(new URL("coingecko_exchange_rates_2021.json", FIXTURES));

/** The fixture with Bitcoin's price text replaced, so a test can tell new data from old. */
function withBtcPrice(price: string): string {
  const text = marketsText.replace(/"current_price": ?20220,/, `"current_price": ${price},`);
  assert.notEqual(text, marketsText);
  return text;
}

/** Parses "850 ms", "4.2 s" or "1 min 3 s" from a log line into milliseconds. */
function retryDelayOf(line: string): number {
  const match = /retrying in (?:(\d+) min)? ?(?:(\d+(?:\.\d+)?) (ms|s))?$/.exec(line);
  assert.ok(match && (match[1] ?? match[2]) !== undefined, line);
  const minutes = Number(match[1] ?? 0) * 60_000;
  return minutes + Number(match[2] ?? 0) * (match[3] === "ms" ? 1 : 1000);
}

Deno.test("upstream faults: last good data kept, one log line per attempt, backoff, recovery", async (t) => {
  // A short upstream deadline, so the hanging upstream costs a fraction of a second.
  await using env = await startTestService([
    "--refresh",
    "3600",
    "--api-key",
    KEY,
    "--upstream-timeout",
    "0.3",
  ]);
  const { ingestor } = env.service;
  await using client = await LineClient.connect(env.port);
  const first = (await client.request(BTC_V2)).data as { fetched_at: string };

  /** The service still serves the snapshot of `fetchedAt`. */
  async function servesLastGood(price: number, fetchedAt: string): Promise<void> {
    assert.equal((await client.request(BTC_V1)).data, price);
    const v2 = (await client.request(BTC_V2)).data as { fetched_at: string; price: number };
    assert.equal(v2.fetched_at, fetchedAt);
    assert.equal(v2.price, price);
  }

  /**
   * Runs one attempt in `mode` and checks its backoff, and its log line: one when ingestion
   * starts failing, none for the next attempts of the same streak.
   */
  async function failingAttempt(mode: FakeMode, message: RegExp, attempt: number) {
    env.upstream.mode = mode;
    const since = env.logs.lines.length;
    const result = await ingestor.runOnce();
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.attempt, attempt);
    assert.match(result.message, message);
    const failed = env.logs.lines.slice(since).filter((l) => /^ingestion/.test(l));
    // Exponential backoff with equal jitter: 1 s, 2 s, 4 s… each drawn from [d/2, d], counted
    // from the start of the attempt.
    const d = 1000 * 2 ** (attempt - 1);
    if (mode === "rate_limited") {
      assert.ok(result.retryInMs >= 7000, `Retry-After 7 gave ${result.retryInMs} ms`);
    } else {
      const least = d / 2 - result.durationMs;
      assert.ok(result.retryInMs >= least && result.retryInMs <= d, `${result.retryInMs} ms`);
    }
    if (attempt > 1) {
      assert.deepEqual(failed, [], "only the first failure of a streak is logged");
      return result;
    }
    assert.equal(failed.length, 1, failed.join("\n"));
    assert.ok(failed[0].startsWith(`ingestion failed (attempt ${attempt}): `), failed[0]);
    assert.match(failed[0], message);
    // The log rounds: to 0.1 s under a minute, to 1 s above.
    const precision = result.retryInMs < 60_000 ? 50 : 500;
    assert.ok(Math.abs(retryDelayOf(failed[0]) - result.retryInMs) <= precision, failed[0]);
    return result;
  }

  await t.step("each failure mode keeps the last good data", async () => {
    env.upstream.retryAfter = "7";
    const modes: [FakeMode, RegExp][] = [
      ["http500", /answered HTTP 500/],
      ["rate_limited", /answered HTTP 429/],
      ["html", /not valid JSON \("text\/html/],
      ["truncated", /not valid JSON/],
      ["empty", /empty list of coins/],
    ];
    for (const [i, [mode, message]] of modes.entries()) {
      await failingAttempt(mode, message, i + 1);
      await servesLastGood(20220, first.fetched_at);
    }
  });

  await t.step("a hanging upstream times out after --upstream-timeout", async () => {
    env.upstream.mode = "hang";
    const attempt = failingAttempt("hang", /did not answer within 300 ms/, 6);
    // While the attempt hangs, clients are still answered.
    for (let i = 0; i < 5; i++) await servesLastGood(20220, first.fetched_at);
    await attempt;
  });

  let recovered = "";
  await t.step("recovery: new prices are served and the failure count resets", async () => {
    env.upstream.mode = "ok";
    env.upstream.setCoins(withBtcPrice("30123.45"));
    const result = await ingestor.runOnce();
    assert.equal(result.ok, true);
    assert.equal(ingestor.status.consecutiveFailures, 0);
    assert.equal((await client.request(BTC_V1)).data, 30123.45);
    recovered = ((await client.request(BTC_V2)).data as { fetched_at: string }).fetched_at;
    assert.notEqual(recovered, first.fetched_at);
  });

  await t.step("one invalid coin costs only itself: the rest is stored and served", async () => {
    env.upstream.mode = "invalid_prices";
    const since = env.logs.lines.length;
    const result = await ingestor.runOnce();
    assert.equal(result.ok, true);
    // ETH is left out of the snapshot; the directory still lists it, so it is asked for by id,
    // and the same invalid record makes that fail too: no price, rather than no such coin.
    const eth = await client.request({ data: "MARKET ETH", v: 2 });
    assert.equal(eth.status, "ERROR");
    assert.equal(eth.code, "NO_DATA");
    assert.match(String(eth.data), /^Cannot fetch ETH now: the upstream has no price for it/);
    const btc = (await client.request(BTC_V2)).data as { fetched_at: string; price: number };
    assert.equal(btc.price, 30123.45);
    assert.notEqual(btc.fetched_at, recovered);
    recovered = btc.fetched_at;
    const skips = env.logs.lines.slice(since).filter((line) => /skipped/.test(line));
    assert.equal(skips.length, 1, skips.join("\n"));
    assert.match(skips[0], /coin #2 \("eth"\): current_price must be a non-negative number/);
    env.upstream.mode = "ok";
  });

  await t.step("a refused connection, then an upstream back on the same port", async () => {
    const port = new URL(env.upstream.baseUrl).port;
    await env.upstream.close();
    await failingAttempt("ok", /Cannot reach 127\.0\.0\.1:\d+/, 1);
    await servesLastGood(30123.45, recovered);
    const text = withBtcPrice("31000");
    await using back = Deno.serve(
      { hostname: "127.0.0.1", port: Number(port), onListen() {} },
      (request) =>
        new Response(new URL(request.url).pathname.endsWith("/exchange_rates") ? ratesText : text),
    );
    assert.equal((await ingestor.runOnce()).ok, true);
    assert.equal((await client.request(BTC_V1)).data, 31000.0);
    await back.shutdown();
  });

  await t.step("the API key was sent, and never logged", () => {
    assert.equal(env.upstream.lastRequest?.headers.get("x-cg-demo-api-key"), KEY);
    assert.deepStrictEqual(env.logs.matching(new RegExp(KEY)), []);
  });
});

Deno.test("the ingestion loop backs off on failure and resumes its interval on recovery", async () => {
  await using env = await startTestService(["--refresh", "0.05"]);
  env.upstream.mode = "http500";
  let since = env.logs.lines.length;
  const firstFail = await env.logs.waitFor(/^ingestion failed \(attempt 1\)/, {
    sinceIndex: since,
  });
  const { ingestor } = env.service;
  const first = ingestor.lastResult!;
  assert.ok(!first.ok);
  const requestsAfterFirst = env.upstream.requestCount;
  const firstDelay = retryDelayOf(firstFail);
  assert.ok(firstDelay >= 500 - first.durationMs && firstDelay <= 1000, firstFail);
  // The second attempt is not logged (same streak): its result says when it ran.
  const deadline = Date.now() + 10_000;
  while (ingestor.status.consecutiveFailures < 2) {
    assert.ok(Date.now() < deadline, "no second attempt within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const second = ingestor.lastResult!;
  assert.ok(!second.ok);
  // That the retry waits as announced, though the refresh interval is 50 ms, is shown with an
  // injected clock in ingestor_test.ts; here, that the service wires the backoff in.
  // One attempt asks at most twice (one quick retry of a 5xx).
  assert.ok(env.upstream.requestCount - requestsAfterFirst <= 2);
  assert.ok(second.retryInMs >= 1000 - second.durationMs && second.retryInMs <= 2000);
  env.upstream.mode = "ok";
  since = env.logs.lines.length;
  await env.logs.waitFor(/^ingested \d+ coins/, { sinceIndex: since, timeoutMs: 5000 });
  // Back on the 50 ms interval: two more ingestions follow, not one more backoff.
  const next = env.logs.lines.length;
  await env.logs.waitFor(/^ingested/, { sinceIndex: next });
  await env.logs.waitFor(/^ingested/, { sinceIndex: env.logs.lines.length });
  // One line when ingestion started failing, one when it recovered.
  assert.deepStrictEqual(env.logs.matching(/^ingestion failed/), [firstFail]);
  assert.match(
    env.logs.matching(/^ingestion recovered/).join("\n"),
    /^ingestion recovered after 2 failed attempts since \d{4}-/,
  );
});

Deno.test('v2 coins say "stale": true once the data is older than --stale-after', async () => {
  await using env = await startTestService(["--refresh", "3600", "--stale-after", "0.5"]);
  env.upstream.mode = "http500";
  await using client = await LineClient.connect(env.port);
  const fresh = (await client.request(BTC_V2)).data as { stale: boolean; fetched_at: string };
  const fetchedAt = Date.parse(fresh.fetched_at);
  if (Date.now() - fetchedAt < 450) assert.equal(fresh.stale, false);
  // Time is the event here: ask until the flag turns, then check when it did.
  let coin: { stale: boolean };
  const deadline = Date.now() + 5000;
  do {
    coin = (await client.request(BTC_V2)).data as { stale: boolean };
    if (coin.stale) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  } while (Date.now() < deadline);
  assert.equal(coin.stale, true);
  assert.ok(Date.now() - fetchedAt >= 500, "stale before --stale-after");
  const all = (await client.request({ status: "OK", data: "MARKET ALL", v: 2 })).data as {
    stale: boolean;
  }[];
  assert.ok(all.every((c) => c.stale));
  // v1 replies are unchanged: the original client knows no such flag.
  assert.equal((await client.request(BTC_V1)).data, 20220);
  // A successful ingestion makes the data fresh again.
  env.upstream.mode = "ok";
  assert.equal((await env.service.ingestor.runOnce()).ok, true);
  assert.equal(((await client.request(BTC_V2)).data as { stale: boolean }).stale, false);
});

Deno.test("--stale-after defaults to three refresh intervals", () => {
  const command = parseServerArgs(["--refresh", "5"], () => undefined);
  assert.equal(command.action === "serve" && command.config.staleAfterSeconds, 15);
});

Deno.test("plain http:// upstreams are refused unless loopback or explicitly allowed", async (t) => {
  const parse = (...args: string[]) => parseServerArgs(args, () => undefined);
  await t.step("by the flag parser", () => {
    for (const url of ["http://api.coingecko.com/api/v3", "http://10.0.0.1:8080/api/v3"]) {
      assert.throws(() => parse("--api-url", url), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /^Refusing plain http:\/\/ --api-url on /);
        return true;
      });
      assert.equal(parse("--api-url", url, "--allow-insecure-upstream").action, "serve");
    }
    for (
      const url of [
        "http://127.0.0.1:9/api/v3",
        "http://127.1.2.3/api/v3",
        "http://localhost:9/api/v3",
        "http://[::1]:9/api/v3",
        "https://api.coingecko.com/api/v3",
      ]
    ) {
      assert.equal(parse("--api-url", url).action, "serve", url);
    }
    // Also when the URL comes from the environment.
    assert.throws(
      () =>
        parseServerArgs([], (name) => name === "CRYPTO_API_URL" ? "http://example.com" : undefined),
      UsageError,
    );
  });

  await t.step("by server.ts: exit code 2, a one-line reason, no stack trace", async () => {
    const dir = await Deno.makeTempDir({ prefix: "crypto-http-" });
    await using server = new ServerProcess([
      "--port",
      "0",
      "--db",
      `${dir}/db.sqlite`,
      "--api-url",
      "http://example.com/api/v3",
    ]);
    const status = await server.exited();
    assert.equal(status.code, 2);
    const lines = server.output.lines;
    assert.match(lines[0], /^stderr: error: Refusing plain http:\/\/ --api-url on example\.com/);
    assert.ok(!lines.some((l) => /^stderr:\s+at /.test(l)), lines.join("\n"));
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("an API key echoed by a failing upstream is redacted from the log", async () => {
  await using upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new Response(
        `{"error":"invalid key ${request.headers.get("x-cg-demo-api-key")}"}`,
        { status: 401 },
      ),
  );
  const dir = await Deno.makeTempDir({ prefix: "crypto-key-" });
  const apiUrl = `http://127.0.0.1:${upstream.addr.port}/api/v3`;
  const command = parseServerArgs(
    [...testServerArgs(`${dir}/db.sqlite`, apiUrl), "--providers", "coingecko", "--api-key", KEY],
    () => undefined,
  );
  assert.equal(command.action, "serve");
  if (command.action !== "serve") return;
  const logs = new LogCapture();
  {
    await using _service = await startService(command.config, { log: logs.log });
    const line = await logs.waitFor(/^ingestion failed \(attempt 1\)/);
    assert.match(line, /answered HTTP 401 .*invalid key \*\*\*/);
  }
  assert.deepStrictEqual(logs.matching(new RegExp(KEY)), []);
  await upstream.shutdown();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("server.ts never prints the API key, and SIGTERM stops it with exit code 0", async () => {
  // An upstream of its own: only the child's requests reach it.
  await using upstream = await startFakeUpstream({ mode: "http500" });
  const dir = await Deno.makeTempDir({ prefix: "server_key_" });
  try {
    await using server = new ServerProcess([
      "--port",
      "0",
      "--db",
      `${dir}/child.sqlite`,
      "--api-url",
      upstream.baseUrl,
      "--api-key",
      KEY,
    ]);
    await server.output.waitFor(/^ingestion failed \(attempt 1\): .*HTTP 500/);
    server.kill("SIGTERM");
    assert.equal((await server.exited()).code, 0);
    assert.equal(upstream.lastRequest?.headers.get("x-cg-demo-api-key"), KEY);
    assert.deepStrictEqual(server.output.matching(new RegExp(KEY)), []);
    assert.ok(server.output.lines.includes("stopped"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
