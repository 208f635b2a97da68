/**
 * Shared test helpers: the recorded fixture as a snapshot, and a line-reading socket client that
 * speaks the protocol the way any client would.
 *
 * @module
 */

import type { Coin, Snapshot } from "../lib/wire/coin.ts";
import type { CoinView } from "../lib/wire/coin_view.ts";
import { writeAll } from "../lib/net/write_all.ts";
import { fetchMarkets } from "../lib/ingest/coingecko.ts";
import { generateSelfSigned } from "../lib/app/cert.ts";
import { parseServerArgs } from "../lib/app/config.ts";
import { type FakeUpstream, startFakeUpstream } from "./fakes/fake_upstream.ts";
import { type Service, startService } from "../lib/app/service.ts";

/** Bitcoin as the recorded response of 2022-10-04 has it, parsed (checked in coingecko_test). */
export const BTC_2022: Coin = {
  symbol: "BTC",
  name: "Bitcoin",
  rank: 1,
  price: 20220,
  priceText: "20220",
  marketCap: 388264926667,
  marketCapText: "388264926667",
  change24h: 3.50933,
  updatedAt: "2022-10-04T20:16:27.116Z",
};

/** A v2 coin object as the client sees it, fetched 2022-10-04 20:17 UTC; fields overridable. */
export function coinView(
  symbol: string,
  name: string,
  price: number,
  rank: number,
  overrides: Partial<CoinView> = {},
): CoinView {
  return {
    symbol,
    name,
    price,
    currency: "USD",
    rank,
    market_cap: null,
    change_24h: null,
    updated_at: "2022-10-04T20:16:27.116Z",
    fetched_at: "2022-10-04T20:17:00.000Z",
    source: "coingecko",
    stale: false,
    ...overrides,
  };
}

/**
 * A free TCP port on 127.0.0.1, for a program that binds it itself (a PostgreSQL cluster,
 * HAProxy): free when asked, so a later bind may still race with another process.
 */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** The recorded CoinGecko response of 2022-10-04 used throughout the tests. */
export const FIXTURE = new URL("./testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);

/** The fixture's top `top` coins, parsed by the real ingestion code with no network. */
export async function fixtureSnapshot(
  top = 10,
  fetchedAt = "2022-10-04T20:17:00.000Z",
): Promise<Snapshot> {
  const text = await Deno.readTextFile(FIXTURE);
  const coins = await fetchMarkets({
    top,
    apiUrl: "http://fixture.invalid/api/v3",
    fetch: () => Promise.resolve(new Response(text)),
  });
  return { coins, fetchedAt, source: "coingecko" };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How long a test waits for a reply or a close before it fails: a safety net, not a wait. */
export const READ_DEADLINE_MS = 10_000;

/**
 * Settles like `promise`, or rejects with `Timed out after N ms waiting for <what>` once the
 * deadline passes: for waits that would otherwise hang a test run.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  what: string,
  timeoutMs = READ_DEADLINE_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a command to its end, with a deadline: a process still running then is killed and the
 * call fails naming `what`, so a stuck child cannot hang the test run. With `stdin`, that text
 * is piped to the process, then its standard input is closed.
 */
export async function outputWithin(
  command: string | URL,
  options: Deno.CommandOptions,
  what: string,
  timeoutMs = 60_000,
  stdin?: string,
): Promise<Deno.CommandOutput> {
  const signal = AbortSignal.timeout(timeoutMs);
  let output;
  if (stdin === undefined) {
    output = await new Deno.Command(command, { ...options, signal }).output();
  } else {
    const child = new Deno.Command(command, { ...options, stdin: "piped", signal }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
    output = await child.output();
  }
  if (signal.aborted) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
  return output;
}

/**
 * A plain socket client for tests: sends raw bytes, reads reply lines. Every read has a deadline
 * ({@linkcode READ_DEADLINE_MS} unless given): past it the connection is closed and the read
 * fails with a message, so a test never hangs on a server that does not answer.
 */
export class LineClient implements AsyncDisposable {
  readonly conn: Deno.Conn;
  readonly timeoutMs: number;
  #buffer = "";
  #chunk = new Uint8Array(64 * 1024);
  #closed = false;

  constructor(conn: Deno.Conn, timeoutMs = READ_DEADLINE_MS) {
    this.conn = conn;
    this.timeoutMs = timeoutMs;
  }

  /** Connects over TCP to a port on 127.0.0.1. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<LineClient> {
    return new LineClient(await Deno.connect({ hostname, port }));
  }

  /** Sends text or bytes as they are, in one write call (the kernel may still split them). */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    await writeAll(this.conn, bytes);
  }

  /** Reads one reply line, or null at end of stream. */
  async readLine(): Promise<string | null> {
    while (true) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        return line;
      }
      const n = await this.#read("a reply line");
      if (n === null) return null;
      this.#buffer += decoder.decode(this.#chunk.subarray(0, n), { stream: true });
    }
  }

  /** Reads one reply and parses it. */
  async readJson(): Promise<Record<string, unknown>> {
    const line = await this.readLine();
    if (line === null) throw new Error("Connection closed before a reply arrived");
    return JSON.parse(line);
  }

  /** Sends one request object as a JSON line and returns the parsed reply. */
  async request(request: unknown): Promise<Record<string, unknown>> {
    await this.send(JSON.stringify(request) + "\n");
    return await this.readJson();
  }

  /**
   * Resolves true once the server closed the connection (reading and dropping what it still
   * sends); rejects with a message when it is still open at the deadline.
   */
  async closedByServer(): Promise<boolean> {
    try {
      while ((await this.#read("the server to close the connection")) !== null) { /* drain */ }
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return true;
      throw error;
    }
  }

  /** One read with the deadline: past it the connection is closed and an Error names `what`. */
  async #read(what: string): Promise<number | null> {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      this.close();
    }, this.timeoutMs);
    try {
      const n = await this.conn.read(this.#chunk);
      if (expired) throw new Error(`Timed out after ${this.timeoutMs} ms waiting for ${what}`);
      return n;
    } catch (error) {
      if (expired) throw new Error(`Timed out after ${this.timeoutMs} ms waiting for ${what}`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Collects log lines and lets a test wait for one, so no test sleeps for a fixed time. */
export class LogCapture {
  readonly lines: string[] = [];
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  /** The log function to inject. */
  readonly log = (line: string): void => {
    this.lines.push(line);
    if (Deno.env.get("TEST_LOG")) console.error(`  [log] ${line}`);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pattern.test(line)) return true;
      w.resolve(line);
      return false;
    });
  };

  /** Lines matching a pattern so far. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }

  /**
   * Resolves with the next line matching `pattern` (logged after `sinceIndex`, default: any so
   * far), or rejects after `timeoutMs`: a safety net that fails the test, not a way to wait.
   */
  waitFor(
    pattern: RegExp,
    options: { sinceIndex?: number; timeoutMs?: number } = {},
  ): Promise<string> {
    const seen = this.lines.slice(options.sinceIndex ?? 0).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
      reject(new Error(`No log line matched ${pattern} within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    const done = (line: string) => {
      clearTimeout(timer);
      resolve(line);
    };
    this.#waiters.push({ pattern, resolve: done });
    return promise;
  }
}

/** A service under test with its fake upstream, temporary database and captured log. */
export interface TestService extends AsyncDisposable {
  service: Service;
  upstream: FakeUpstream;
  logs: LogCapture;
  dir: string;
  db: string;
  port: number;
  /** Stops the service but keeps the upstream and the database, e.g. to restart. */
  stop(): Promise<void>;
}

/** Server flags for a test: every listener on port 0, the database `db`, the upstream at `apiUrl`. */
export function testServerArgs(db: string, apiUrl: string): string[] {
  return ["--port", "0", "--http-port", "0", "--db", db, "--api-url", apiUrl];
}

/**
 * Starts the real service in-process on port 0, against a fake upstream, with a database in a
 * new temporary directory. Extra flags are parsed by the real flag parser.
 */
export async function startTestService(
  flags: string[] = [],
  options: { upstream?: FakeUpstream; dir?: string; waitForIngestion?: boolean } = {},
): Promise<TestService> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "crypto-test-" });
  const upstream = options.upstream ?? await startFakeUpstream();
  const db = `${dir}/crypto.sqlite`;
  // Only the local fake unless a test lists providers: a failing fake must not make a test call
  // the real CoinPaprika. A later --providers in `flags` wins.
  const base = testServerArgs(db, upstream.baseUrl);
  // Every line, unprefixed, as the tests match them.
  const everyLine = ["--log-level", "debug", "--name", ""];
  const command = parseServerArgs(
    [...base, "--providers", "coingecko", ...everyLine, ...flags],
    () => undefined,
  );
  if (command.action !== "serve") throw new TypeError("Test flags must start a server");
  const logs = new LogCapture();
  const service = await startService(command.config, { log: logs.log });
  if (options.waitForIngestion ?? true) await logs.waitFor(/^ingested \d+ coins/);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await service.shutdown();
  };
  return {
    service,
    upstream,
    logs,
    dir,
    db,
    port: service.addr.port,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      await upstream.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Whether `command` runs and exits 0 with these arguments (e.g. a tool that may be missing). */
export async function commandWorks(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Runs `command` with `stdin` as its input (within 30 s, see {@linkcode outputWithin}), and
 * returns its exit code and output as text.
 */
export async function runWithInput(
  command: string,
  args: string[],
  stdin: string,
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await outputWithin(
    command,
    { args, stdout: "piped", stderr: "piped" },
    command,
    30_000,
    stdin,
  );
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

/** A self-signed certificate for `localhost` and `127.0.0.1`, written to `dir` as PEM files. */
export async function tlsFiles(
  dir: string,
): Promise<{ cert: string; key: string; certPem: string }> {
  const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"] });
  await Deno.writeTextFile(`${dir}/cert.pem`, cert);
  await Deno.writeTextFile(`${dir}/key.pem`, key, { mode: 0o600 });
  return { cert: `${dir}/cert.pem`, key: `${dir}/key.pem`, certPem: cert };
}
