import assert from "node:assert/strict";
import { join } from "node:path";
import type { Snapshot } from "../../lib/wire/coin.ts";
import { backoffDelay } from "../../lib/util/backoff.ts";
import { fetchMarkets } from "../../lib/ingest/coingecko.ts";
import { type FakeUpstream, startFakeUpstream } from "../fakes/fake_upstream.ts";
import { formatDuration } from "../../lib/util/format_duration.ts";
import {
  ingestOnce,
  type IngestOnceSettings,
  Ingestor,
  type IngestorOptions,
} from "../../lib/ingest/ingestor.ts";
import { startFakeCoinPaprika } from "../fakes/fake_providers.ts";
import { outputWithin, withDeadline } from "../helpers.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";

const KEY = "CG-s3cr3t-k3y-do-not-log";
const REFRESH_MS = 60_000;
const random = () => 0.5;

/** A sleep that never waits for real: each call is queued until the test wakes it. */
class FakeSleep {
  readonly delays: number[] = [];
  readonly #calls: Array<{ ms: number; wake: () => void }> = [];
  readonly #waiters: Array<(call: { ms: number; wake: () => void }) => void> = [];
  #taken = 0;

  constructor(readonly clock: FakeClock) {}

  readonly sleep = (ms: number, signal: AbortSignal): Promise<void> => {
    this.delays.push(ms);
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => {
      this.clock.advance(ms);
      resolve();
    };
    signal.addEventListener("abort", () => resolve(), { once: true });
    const call = { ms, wake };
    const waiter = this.#waiters.shift();
    if (waiter) waiter(call);
    else this.#calls.push(call);
    return promise;
  };

  /** The next sleep the loop asks for, once it asks. */
  next(): Promise<{ ms: number; wake: () => void }> {
    this.#taken++;
    const call = this.#calls.shift();
    return call ? Promise.resolve(call) : new Promise((resolve) => this.#waiters.push(resolve));
  }

  get pending(): number {
    return this.delays.length - this.#taken;
  }
}

class FakeClock {
  #ms = Date.parse("2024-01-01T00:00:00.000Z");
  readonly now = () => new Date(this.#ms);
  advance(ms: number) {
    this.#ms += ms;
  }
}

async function setup(overrides: Partial<IngestorOptions> = {}) {
  const upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "ingest_test_" });
  const repository = await SqliteRepository.open(join(dir, "prices.db"));
  const clock = new FakeClock();
  const sleeper = new FakeSleep(clock);
  const logs: string[] = [];
  const snapshots: Snapshot[] = [];
  const ingestor = new Ingestor({
    fetchCoins: (signal) =>
      fetchMarkets({ apiUrl: upstream.baseUrl, apiKey: KEY, top: 5, signal, timeoutMs: 5000 }),
    repository,
    onSnapshot: (s) => snapshots.push(s),
    refreshMs: REFRESH_MS,
    source: "coingecko",
    describeSource: "127.0.0.1",
    log: (line) => logs.push(line),
    now: clock.now,
    sleep: sleeper.sleep,
    random,
    ...overrides,
  });
  return {
    upstream,
    repository,
    clock,
    sleeper,
    logs,
    snapshots,
    ingestor,
    async [Symbol.asyncDispose]() {
      await ingestor.stop();
      await repository.close();
      await upstream.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function setBtcPrice(upstream: FakeUpstream, priceText: string) {
  upstream.setCoins(
    `[{"symbol":"btc","name":"Bitcoin","current_price":${priceText},"market_cap":1,` +
      `"market_cap_rank":1,"price_change_percentage_24h":null,"last_updated":null}]`,
  );
}

Deno.test("runOnce stores and publishes a snapshot", async () => {
  await using t = await setup();
  const result = await t.ingestor.runOnce();
  assert.ok(result.ok);
  assert.equal(result.snapshot.coins.length, 5);
  assert.equal(result.snapshot.fetchedAt, "2024-01-01T00:00:00.000Z");
  assert.equal(result.snapshot.source, "coingecko");
  assert.deepEqual(t.snapshots, [result.snapshot]);
  assert.deepEqual(await t.repository.loadSnapshot(), result.snapshot);
  assert.deepEqual(t.logs, ["ingested 5 coins from 127.0.0.1 in 0 ms"]);
  assert.equal(t.ingestor.status.lastOk, true);
  assert.equal(t.ingestor.status.lastCoins, 5);
  assert.equal(t.ingestor.status.running, false);
});

Deno.test("runOnce returns a failure without throwing and keeps the last good data", async () => {
  await using t = await setup();
  await t.ingestor.runOnce();
  const good = await t.repository.loadSnapshot();
  t.upstream.mode = "http500";
  const result = await t.ingestor.runOnce();
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.attempt === 1);
  assert.deepEqual(await t.repository.loadSnapshot(), good);
  assert.equal(t.snapshots.length, 1);
  assert.match(t.logs[1], /^ingestion failed \(attempt 1\): 127\.0\.0\.1:\d+ answered HTTP 500/);
  assert.doesNotMatch(t.logs[1], /retrying/, "nothing retries outside the loop");
  assert.equal(t.ingestor.status.lastOk, false);
  assert.equal(t.ingestor.status.consecutiveFailures, 1);
  assert.match(t.ingestor.status.lastError ?? "", /HTTP 500/);
});

Deno.test("the loop backs off on failures, honours Retry-After and recovers", async () => {
  await using t = await setup();
  const { ingestor, upstream, sleeper, logs } = t;
  setBtcPrice(upstream, "20220");
  ingestor.start();
  ingestor.start(); // idempotent

  let sleep = await sleeper.next();
  assert.equal(sleep.ms, REFRESH_MS);
  assert.equal(t.snapshots.length, 1);
  assert.equal(ingestor.status.nextRunAt, "2024-01-01T00:01:00.000Z");
  assert.equal(ingestor.status.running, true);

  upstream.mode = "http500";
  for (const attempt of [1, 2, 3]) {
    sleep.wake();
    sleep = await sleeper.next();
    assert.equal(sleep.ms, backoffDelay(attempt, { random, maxMs: 60_000 }));
    assert.equal(ingestor.status.consecutiveFailures, attempt);
  }
  assert.equal(
    logs.at(-1),
    `ingestion failed (attempt 1): ${upstream.baseUrl.split("/")[2]} answered HTTP 500 ` +
      `("{\\"error\\":\\"Internal Server Error\\"}"); retrying in ${
        formatDuration(backoffDelay(1, { random }), { precise: true })
      }`,
  );
  assert.equal(logs.length, 2, "one line when ingestion starts failing, not one per attempt");
  assert.deepEqual((await t.repository.loadSnapshot())?.coins.map((c) => c.priceText), ["20220"]);

  upstream.mode = "rate_limited";
  upstream.retryAfter = "120";
  sleep.wake();
  sleep = await sleeper.next();
  assert.equal(sleep.ms, 120_000, "Retry-After is longer than the backoff");
  // Longer than the cap of max(refresh, 30 s): honoured, and logged although the streak is old.
  assert.match(
    logs.at(-1)!,
    /attempt 4, failing since .*\): .*HTTP 429.*; retrying in 2 min as asked \(Retry-After\)$/,
  );

  upstream.retryAfter = "1";
  sleep.wake();
  sleep = await sleeper.next();
  assert.equal(
    sleep.ms,
    backoffDelay(5, { random, maxMs: 60_000 }),
    "a shorter Retry-After does not cut the backoff",
  );

  upstream.mode = "ok";
  setBtcPrice(upstream, "20301.5");
  sleep.wake();
  sleep = await sleeper.next();
  assert.equal(sleep.ms, REFRESH_MS, "back to the normal interval");
  assert.equal(ingestor.status.consecutiveFailures, 0);
  assert.match(logs.at(-2)!, /^ingestion recovered after 5 failed attempts since 2024-/);
  assert.match(logs.at(-1)!, /^ingested 1 coins from 127\.0\.0\.1 in \d+ ms$/);
  assert.equal(t.snapshots.length, 2);
  const history = await t.repository.historySeries("BTC", "2000-01-01T00:00:00.000Z");
  assert.deepEqual(history.points.map((p) => p[1]), [20220, 20301.5]);

  await ingestor.stop();
  await ingestor.stop(); // idempotent
  assert.equal(ingestor.status.running, false);
  assert.equal(sleeper.pending, 0, "no sleep after stop");
  assert.ok(logs.every((line) => !line.includes(KEY)), "the key never reaches the log");
  assert.ok(upstream.lastRequest?.headers.get("x-cg-demo-api-key") === KEY);
});

Deno.test("stop() cancels a hanging fetch promptly", async () => {
  const fetchStarted = Promise.withResolvers<void>();
  let upstreamUrl = "";
  await using t = await setup({
    fetchCoins: (signal) => {
      fetchStarted.resolve();
      return fetchMarkets({ apiUrl: upstreamUrl, top: 5, signal, timeoutMs: 30_000 });
    },
  });
  upstreamUrl = t.upstream.baseUrl;
  t.upstream.mode = "hang";
  t.ingestor.start();
  await fetchStarted.promise;
  // The fetch's own timeout is 30 s: stop() must abort it, not wait for it.
  await withDeadline(t.ingestor.stop(), "stop() to abort the hanging fetch", 5000);
  assert.deepEqual(t.logs, [], "a cancelled attempt is not a failure");
  assert.equal(t.sleeper.delays.length, 0);
  assert.equal(await t.repository.loadSnapshot(), null);
});

Deno.test("a throwing snapshot listener counts as a failed attempt", async () => {
  await using t = await setup({
    onSnapshot: () => {
      throw new Error("cache is gone");
    },
  });
  const result = await t.ingestor.runOnce();
  assert.equal(result.ok, false);
  assert.match(t.logs.at(-1)!, /^ingestion failed \(attempt 1\): cache is gone$/);
});

/** Provider settings of the server's flag table for a test: coingecko at `apiUrl` only. */
function settings(db: string, apiUrl: string, extra: Partial<IngestOnceSettings> = {}) {
  return {
    db,
    apiUrl,
    apiKey: KEY,
    top: 3,
    providers: ["coingecko"],
    coinpaprikaUrl: "http://127.0.0.1:9/unused",
    cmcUrl: "http://127.0.0.1:9/unused",
    ...extra,
  };
}

Deno.test("ingestOnce fetches and stores one snapshot", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "ingest_once_" });
  try {
    const db = join(dir, "data", "crypto.db");
    const result = await ingestOnce(settings(db, upstream.baseUrl));
    assert.equal(result.snapshot.coins.length, 3);
    assert.equal(result.snapshot.source, "coingecko");
    assert.match(result.source, /^127\.0\.0\.1:\d+$/);
    await using repo = await SqliteRepository.open(db);
    assert.deepEqual(await repo.loadSnapshot(), result.snapshot);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ingestOnce goes through the provider chain and stores who served", async () => {
  await using upstream = await startFakeUpstream({ mode: "http500" });
  await using paprika = await startFakeCoinPaprika();
  const dir = await Deno.makeTempDir({ prefix: "ingest_once_" });
  try {
    const db = join(dir, "crypto.db");
    const logs: string[] = [];
    const result = await ingestOnce(
      settings(db, upstream.baseUrl, {
        providers: ["coingecko", "coinpaprika"],
        coinpaprikaUrl: paprika.baseUrl,
      }),
      { log: (line) => logs.push(line) },
    );
    assert.equal(result.snapshot.source, "coinpaprika");
    assert.equal(result.source, new URL(paprika.baseUrl).host);
    // CoinPaprika's recorded tickers: Bitcoin only, at its own price.
    assert.deepEqual(result.snapshot.coins.map((c) => [c.symbol, c.priceText]), [
      ["BTC", "5162.15941296"],
    ]);
    assert.equal(logs.length, 1, logs.join("\n"));
    assert.match(logs[0], /^provider coingecko failed: .*HTTP 500.*; trying coinpaprika$/);
    await using repo = await SqliteRepository.open(db);
    assert.equal((await repo.loadSnapshot())?.source, "coinpaprika");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ingest main: the server's flags, environment order and guards; exit 0, 1 or 2", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "ingest_main_" });
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const output = await outputWithin(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        // The SQLite worker's modules are read at run time, as `deno task ingest` allows.
        `--allow-read=${dir},${new URL("../../lib/storage", import.meta.url).pathname}`,
        `--allow-write=${dir}`,
        "--allow-env=CRYPTO_*,COINGECKO_API_KEY,CMC_PRO_API_KEY",
        new URL("../../lib/app/ingest.ts", import.meta.url).pathname,
        ...args,
      ],
      env: {
        NO_COLOR: "1",
        CRYPTO_DB: join(dir, "env.db"),
        CRYPTO_PROVIDERS: "coingecko",
        COINGECKO_API_KEY: KEY,
        ...env,
      },
      clearEnv: true,
    }, "deno task ingest");
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
  };
  try {
    const ok = await run(["--api-url", upstream.baseUrl, "--top", "4"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ingested 4 coins from 127\.0\.0\.1:\d+ into .*env\.db in \d+ ms\n$/);
    assert.equal(upstream.lastRequest?.headers.get("x-cg-demo-api-key"), KEY);

    // CRYPTO_API_KEY is read before COINGECKO_API_KEY, as the server reads them.
    await run(["--api-url", upstream.baseUrl], { CRYPTO_API_KEY: "from-crypto-api-key" });
    assert.equal(upstream.lastRequest?.headers.get("x-cg-demo-api-key"), "from-crypto-api-key");

    upstream.mode = "http500";
    const failed = await run(["--api-url", upstream.baseUrl, "--db", join(dir, "flag.db")]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^error: 127\.0\.0\.1:\d+ answered HTTP 500 .*\n$/);
    assert.ok(!failed.stderr.includes(KEY));

    const bad = await run(["--top", "many"]);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      `error: Invalid --top "many": expected a whole number, 1 to 250\nRun with --help for the flags.\n`,
    );

    const insecure = await run(["--api-url", "http://example.com/api/v3"]);
    assert.equal(insecure.code, 2);
    assert.match(insecure.stderr, /^error: Refusing plain http:\/\/ --api-url on example\.com/);

    const serverOnly = await run(["--port", "8000"]);
    assert.equal(serverOnly.code, 2);
    assert.match(serverOnly.stderr, /^error: Unknown option '--port'/);

    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    for (const flag of ["--db", "--api-url", "--providers", "--cmc-key", "--upstream-timeout"]) {
      assert.ok(help.stdout.includes(`  ${flag} `), flag);
    }
    assert.ok(!help.stdout.includes("--port"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("retries never wait longer than max(refresh, 30 s) after an attempt began", async () => {
  // The report: at --refresh 1 the delay had grown to 28 s, and with the default refresh to
  // minutes. Each failing attempt here also takes 10 s of clock time (a timeout).
  let clock: FakeClock | null = null;
  let failing = true;
  let upstreamUrl = "";
  await using t = await setup({
    refreshMs: 1000,
    random: () => 1, // the longest jitter
    fetchCoins: () => {
      clock!.advance(10_000);
      return failing
        ? Promise.reject(new Error("127.0.0.1 did not answer within 10000 ms"))
        : fetchMarkets({ apiUrl: upstreamUrl, top: 5 });
    },
  });
  clock = t.clock;
  upstreamUrl = t.upstream.baseUrl;
  t.ingestor.start();
  for (let attempt = 1; attempt <= 12; attempt++) {
    const sleep = await t.sleeper.next();
    // 30 s from the start of the attempt, which took 10 s.
    assert.ok(sleep.ms <= 20_000, `attempt ${attempt} waits ${sleep.ms} ms`);
    assert.equal(
      t.ingestor.status.nextRunAt,
      new Date(t.clock.now().getTime() + sleep.ms).toISOString(),
      "INFO states the real next attempt",
    );
    if (attempt === 12) failing = false;
    sleep.wake();
  }
  const sleep = await t.sleeper.next();
  assert.equal(sleep.ms, 1000, "recovered: back to the refresh interval");
  // Two lines for the whole outage: when it began and when it ended.
  assert.equal(t.logs.length, 3, t.logs.join("\n"));
  assert.match(t.logs[0], /^ingestion failed \(attempt 1\): .*; retrying in 0 ms$/);
  assert.match(t.logs[1], /^ingestion recovered after 12 failed attempts since /);
});

Deno.test("while ingestion stays down, a summary at most every five minutes", async () => {
  await using t = await setup({ refreshMs: 1000 });
  t.upstream.mode = "http500";
  t.ingestor.start();
  // Two hours of failures at the 30 s cap.
  while (t.clock.now().getTime() < Date.parse("2024-01-01T02:00:00.000Z")) {
    (await t.sleeper.next()).wake();
  }
  const failing = t.logs.filter((line) => line.startsWith("ingestion"));
  assert.match(failing[0], /^ingestion failed \(attempt 1\): .*HTTP 500/);
  assert.ok(failing.length >= 20 && failing.length <= 25, failing.join("\n"));
  assert.match(
    failing[1],
    /^ingestion still failing \(attempt \d+, failing since 2024-01-01T00:00:00.000Z\): .*HTTP 500.*; retrying in /,
  );
});
