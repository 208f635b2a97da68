import assert from "node:assert/strict";
import { join } from "node:path";
import type { Snapshot } from "../../lib/wire/coin.ts";
import { backoffDelay } from "../../lib/util/backoff.ts";
import { fetchMarkets } from "../../lib/ingest/coingecko.ts";
import { type FakeUpstream, startFakeUpstream } from "../fakes/fake_upstream.ts";
import { formatDuration } from "../../lib/util/format_duration.ts";
import { ingestOnce, Ingestor, type IngestorOptions } from "../../lib/ingest/ingestor.ts";
import { Repository } from "../../lib/storage/repository.ts";

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
  const repository = Repository.open(join(dir, "prices.db"));
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
      repository.close();
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
  assert.deepEqual(t.repository.loadSnapshot(), result.snapshot);
  assert.deepEqual(t.logs, ["ingested 5 coins from 127.0.0.1 in 0 ms"]);
  assert.equal(t.ingestor.status.lastOk, true);
  assert.equal(t.ingestor.status.lastCoins, 5);
  assert.equal(t.ingestor.status.running, false);
});

Deno.test("runOnce returns a failure without throwing and keeps the last good data", async () => {
  await using t = await setup();
  await t.ingestor.runOnce();
  const good = t.repository.loadSnapshot();
  t.upstream.mode = "http500";
  const result = await t.ingestor.runOnce();
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.attempt === 1);
  assert.deepEqual(t.repository.loadSnapshot(), good);
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
    assert.equal(sleep.ms, backoffDelay(attempt, { random }));
    assert.equal(ingestor.status.consecutiveFailures, attempt);
    assert.equal(
      logs.at(-1),
      `ingestion failed (attempt ${attempt}): ${
        upstream.baseUrl.split("/")[2]
      } answered HTTP 500 ` +
        `("{\\"error\\":\\"Internal Server Error\\"}"); retrying in ${
          formatDuration(sleep.ms, { precise: true })
        }`,
    );
  }
  assert.equal(logs.length, 4, "one line per attempt");
  assert.deepEqual(t.repository.loadSnapshot()?.coins.map((c) => c.priceText), ["20220"]);

  upstream.mode = "rate_limited";
  upstream.retryAfter = "120";
  sleep.wake();
  sleep = await sleeper.next();
  assert.equal(sleep.ms, 120_000, "Retry-After is longer than the backoff");
  assert.match(logs.at(-1)!, /attempt 4\): .*HTTP 429.*; retrying in 2 min$/);

  upstream.retryAfter = "1";
  sleep.wake();
  sleep = await sleeper.next();
  assert.equal(
    sleep.ms,
    backoffDelay(5, { random }),
    "a shorter Retry-After does not cut the backoff",
  );

  upstream.mode = "ok";
  setBtcPrice(upstream, "20301.5");
  sleep.wake();
  sleep = await sleeper.next();
  assert.equal(sleep.ms, REFRESH_MS, "back to the normal interval");
  assert.equal(ingestor.status.consecutiveFailures, 0);
  assert.match(logs.at(-1)!, /^ingested 1 coins from 127\.0\.0\.1 in \d+ ms$/);
  assert.equal(t.snapshots.length, 2);
  const history = t.repository.history("BTC", "2000-01-01T00:00:00.000Z");
  assert.deepEqual(history.map((p) => p.priceText), ["20220", "20301.5"]);

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
  const started = performance.now();
  await t.ingestor.stop();
  assert.ok(performance.now() - started < 5000, "stop did not wait for the fetch timeout");
  assert.deepEqual(t.logs, [], "a cancelled attempt is not a failure");
  assert.equal(t.sleeper.delays.length, 0);
  assert.equal(t.repository.loadSnapshot(), null);
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

Deno.test("ingestOnce fetches and stores one snapshot", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "ingest_once_" });
  try {
    const dbPath = join(dir, "data", "crypto.db");
    const result = await ingestOnce({ apiUrl: upstream.baseUrl, top: 3, dbPath, apiKey: KEY });
    assert.equal(result.snapshot.coins.length, 3);
    assert.match(result.source, /^127\.0\.0\.1:\d+$/);
    using repo = Repository.open(dbPath);
    assert.deepEqual(repo.loadSnapshot(), result.snapshot);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ingest_main prints one line and exits 0, or one error line and exits 1", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "ingest_main_" });
  const run = async (...args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-env=CRYPTO_DB,CRYPTO_API_URL,CRYPTO_API_KEY,COINGECKO_API_KEY,CRYPTO_TOP",
        new URL("../../lib/ingest/main.ts", import.meta.url).pathname,
        ...args,
      ],
      env: { NO_COLOR: "1", CRYPTO_DB: join(dir, "env.db"), COINGECKO_API_KEY: KEY },
      clearEnv: true,
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
  };
  try {
    const ok = await run("--api-url", upstream.baseUrl, "--top", "4");
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ingested 4 coins from 127\.0\.0\.1:\d+ into .*env\.db in \d+ ms\n$/);
    assert.equal(upstream.lastRequest?.headers.get("x-cg-demo-api-key"), KEY);

    upstream.mode = "http500";
    const failed = await run("--api-url", upstream.baseUrl, "--db", join(dir, "flag.db"));
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^error: 127\.0\.0\.1:\d+ answered HTTP 500 .*\n$/);
    assert.ok(!failed.stderr.includes(KEY));

    const bad = await run("--top", "many");
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `error: Invalid --top "many": expected 1 to 250\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
