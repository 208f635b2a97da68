/**
 * Price providers and failover between them.
 *
 * A {@linkcode ProviderChain} asks its providers in order until one answers. Each provider has a
 * {@linkcode CircuitBreaker}: after a few failed rounds in a row the others are preferred for a
 * cool-down, then one probe decides whether it is used again. When none of the preferred
 * providers answers, the ones whose circuit is open are asked as well, in order, so a provider
 * that has recovered is used by the next round whatever state the others are in (a dead
 * fallback cannot delay the primary's recovery). A provider that answered with `Retry-After` is
 * not asked again before that time.
 *
 * Logging is by change of state ({@linkcode FailureLog}): one line when a provider starts
 * failing, one when its circuit opens, one when it answers again, and a summary at most every
 * few minutes while it stays down.
 *
 * The first provider defines the coins: its last top-N list (symbol, name, rank) is remembered,
 * and a round served by another provider keeps only those coins, under the first provider's names
 * and ranks, so `MARKET BNB` means the same coin whoever answered. A coin the fallback does not
 * have is left out of that round's snapshot (and logged) rather than filled with an older price,
 * because a snapshot has one fetch time and must not mix ages; it returns with the next round
 * that has it. Until the first provider has ever answered, a fallback's own top N is used.
 *
 * Retries: each provider gets one attempt per round, plus one quick retry after a short pause
 * when the failure looks transient (HTTP 5xx without `Retry-After`, or a network error). A
 * timeout is not retried (it already cost the whole deadline), nor is a 4xx or invalid data.
 * Slower retries are the Ingestor's backoff between rounds.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { abortableSleep } from "../util/abortable_sleep.ts";
import { UpstreamError } from "./upstream_error.ts";
import { brief, FailureLog } from "./failure_log.ts";
import type { Provider } from "./providers.ts";
import { describeSkipped } from "./valid_coins.ts";
import { type BreakerOptions, type BreakerState, CircuitBreaker } from "./circuit_breaker.ts";

/** One provider's state, as INFO reports it. */
export interface ProviderStatus {
  name: string;
  state: BreakerState;
  consecutive_failures: number;
  last_error: string | null;
  /**
   * When an open circuit is preferred again (ISO-8601); null when closed. While no other provider
   * answers, an open one is also asked every round (INFO's `ingestion.next_refresh_at`).
   */
  retry_at: string | null;
  /** Until when the provider asked not to be called (`Retry-After`, ISO-8601), or null. */
  wait_until: string | null;
}

/** Options of {@linkcode ProviderChain}. */
export interface ProviderChainOptions extends Omit<BreakerOptions, "now"> {
  /** In order of preference; the first one's ranking defines the top-N set. */
  providers: readonly Provider[];
  /** How many coins a round yields at most. */
  top: number;
  log?: (line: string) => void;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
  /** Waits `ms` or until `signal` aborts; used for the quick retry. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Pause before the quick retry of a transient failure; defaults to 250 ms. */
  quickRetryMs?: number;
  /** Least time between two "still failing" lines of a provider; defaults to 5 minutes. */
  summaryEveryMs?: number;
}

/** The coins of one round and the provider that served them. */
export interface ProviderRound {
  coins: Coin[];
  /** The provider's name, stored as the snapshot's `source`. */
  source: string;
  /** The provider's host, for log lines. */
  describeSource: string;
}

interface Entry {
  provider: Provider;
  breaker: CircuitBreaker;
  failures: FailureLog;
  /** The last round's skipped records, logged again only when they change. */
  lastSkipped: string;
  counts: ProviderCounts;
}

/**
 * What a provider was asked, for the metrics: rounds it was asked in and failed, and each
 * request (quick retries included) by outcome: `ok`, the HTTP status of a non-2xx answer, or
 * `error` (unreachable, timed out, invalid).
 */
export interface ProviderCounts {
  readonly name: string;
  attempts: number;
  failures: number;
  readonly calls: Map<string, number>;
}

interface Reference {
  symbol: string;
  name: string;
  rank: number;
}

/** Tries providers in order, skipping those whose circuit is open. See the module docs. */
export class ProviderChain {
  readonly #entries: readonly Entry[];
  readonly #top: number;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #quickRetryMs: number;
  #reference: Reference[] | null = null;
  /** The last "lacks" line, logged again only when it changes. */
  #lastLacks = "";

  constructor(options: ProviderChainOptions) {
    if (options.providers.length === 0) {
      throw new RangeError("Cannot fetch coins without providers");
    }
    const names = options.providers.map((p) => p.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) throw new RangeError(`Provider ${twice} is listed twice`);
    if (!Number.isInteger(options.top) || options.top < 1) {
      throw new RangeError(`Cannot fetch ${options.top} coins: expected a positive integer`);
    }
    this.#now = options.now ?? Date.now;
    this.#entries = options.providers.map((provider) => ({
      provider,
      breaker: new CircuitBreaker({
        failureThreshold: options.failureThreshold,
        cooldownMs: options.cooldownMs,
        now: this.#now,
      }),
      failures: new FailureLog({
        log: (line) => this.#log(line),
        now: this.#now,
        summaryEveryMs: options.summaryEveryMs,
      }),
      lastSkipped: "",
      counts: { name: provider.name, attempts: 0, failures: 0, calls: new Map() },
    }));
    this.#top = options.top;
    this.#log = options.log ?? ((line) => console.log(line));
    this.#sleep = options.sleep ?? abortableSleep;
    this.#quickRetryMs = options.quickRetryMs ?? 250;
  }

  /** The providers' states, in order of preference. */
  get statuses(): ProviderStatus[] {
    const now = this.#now();
    return this.#entries.map(({ provider, breaker }) => {
      const retryAt = breaker.state === "closed" ? null : breaker.retryAt;
      return {
        name: provider.name,
        state: breaker.state,
        consecutive_failures: breaker.consecutiveFailures,
        last_error: breaker.lastError,
        retry_at: retryAt === null ? null : new Date(retryAt).toISOString(),
        wait_until: breaker.notBefore > now ? new Date(breaker.notBefore).toISOString() : null,
      };
    });
  }

  /** Each provider's counts since start, in order of preference. */
  get counts(): readonly Readonly<ProviderCounts>[] {
    return this.#entries.map((entry) => entry.counts);
  }

  /** The first provider's name. */
  get primary(): string {
    return this.#entries[0].provider.name;
  }

  /**
   * Remembers a top-N list of the first provider, e.g. from the stored snapshot at start-up, so a
   * fallback keeps the same coins even before the first provider has answered in this process.
   */
  rememberPrimary(coins: readonly Coin[]): void {
    if (coins.length === 0) return;
    this.#reference = coins.map(({ symbol, name, rank }) => ({ symbol, name, rank }));
  }

  /**
   * Runs one round: the first provider whose circuit is not open answers; when none does, those
   * whose circuit is open are asked too, in order. Of several providers, those waiting out a
   * `Retry-After` are skipped.
   *
   * @throws {UpstreamError} when no provider answered: with one provider, its own error (so a
   *   `Retry-After` is still honoured); with several, `all providers failed: ...`, carrying the
   *   shortest wait when every provider asked for one
   */
  async fetchCoins(signal: AbortSignal): Promise<ProviderRound> {
    const single = this.#entries.length === 1;
    const now = this.#now();
    // A single provider's Retry-After is the ingestor's to honour: it waits before the next round.
    const waiting = single ? [] : this.#entries.filter((e) => e.breaker.notBefore > now);
    const ready = this.#entries.filter((e) => !waiting.includes(e));
    const candidates = [
      ...ready.filter((e) => e.breaker.state !== "open"),
      ...ready.filter((e) => e.breaker.state === "open"),
    ];

    const failures: { name: string; error: unknown }[] = [];
    for (const [i, entry] of candidates.entries()) {
      const { provider, breaker } = entry;
      const probing = breaker.state !== "closed";
      let coins: Coin[];
      entry.counts.attempts++;
      try {
        coins = await this.#attempt(entry, signal, !probing);
        coins = entry === this.#entries[0]
          ? this.#adoptPrimary(coins)
          : this.#alignFallback(provider.name, coins);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        this.#failed(entry, error, single ? undefined : candidates[i + 1]);
        failures.push({ name: provider.name, error });
        continue;
      }
      const before = breaker.recordSuccess();
      entry.failures.succeeded(({ count }) =>
        `provider ${provider.name} answered again after ${count} failed rounds${
          before === "closed" ? "" : "; circuit closed"
        }`
      );
      return { coins, source: provider.name, describeSource: provider.host };
    }

    if (single) throw failures[0].error;
    const waits = waiting.map((e) => e.breaker.notBefore - now);
    // Every provider asked to wait: the ingestor waits for the first to be ready.
    const allAsked = failures.every(({ error }) =>
      error instanceof UpstreamError && error.retryAfterMs !== undefined
    );
    if (allAsked) waits.push(...failures.map((f) => (f.error as UpstreamError).retryAfterMs!));
    const parts = [
      ...failures.map(({ name, error }) =>
        `${name}: ${error instanceof Error ? error.message : String(error)}`
      ),
      ...waiting.map(({ provider, breaker }) =>
        `${provider.name} skipped (asked to wait until ${
          new Date(breaker.notBefore).toISOString()
        })`
      ),
    ];
    throw new UpstreamError(`all providers failed: ${parts.join("; ")}`, {
      cause: new AggregateError(failures.map((f) => f.error)),
      retryAfterMs: allAsked && waits.length > 0 ? Math.min(...waits) : undefined,
    });
  }

  /** Records a provider's failure and logs what changed (nothing with a single provider). */
  #failed(entry: Entry, error: unknown, next: Entry | undefined): void {
    const { provider, breaker } = entry;
    const message = error instanceof Error ? error.message : String(error);
    const retryAfterMs = error instanceof UpstreamError ? error.retryAfterMs : undefined;
    entry.counts.failures++;
    const wasOpen = breaker.state !== "closed";
    const state = breaker.recordFailure(message, retryAfterMs);
    if (this.#entries.length === 1) return;
    const trying = next ? `; trying ${next.provider.name}` : "";
    entry.failures.failed(
      () => `provider ${provider.name} failed: ${brief(message)}${trying}`,
      ({ count, sinceMs }) =>
        `provider ${provider.name} still failing: ${count} failed rounds since ${
          new Date(sinceMs).toISOString()
        }, last: ${brief(message)}`,
    );
    if (state === "open" && !wasOpen) {
      const until = new Date(breaker.retryAt!).toISOString();
      this.#log(
        `provider ${provider.name} circuit open after ${breaker.consecutiveFailures} failed rounds; other providers are preferred until ${until}`,
      );
    }
  }

  async #attempt(entry: Entry, signal: AbortSignal, mayRetry: boolean): Promise<Coin[]> {
    const { provider } = entry;
    // A fallback is asked for more than N: rankings differ a little between providers, and the
    // first provider's coins must be found among them.
    const want = entry === this.#entries[0] || this.#reference === null
      ? this.#top
      : Math.min(this.#top + Math.max(10, this.#top), provider.maxTop ?? Infinity);
    let skipped: readonly string[] = [];
    const onSkipped = (messages: readonly string[]) => skipped = messages;
    let coins: Coin[];
    try {
      coins = await this.#call(entry, want, signal, onSkipped);
    } catch (error) {
      if (signal.aborted || !mayRetry || !isTransient(error)) throw error;
      await this.#sleep(this.#quickRetryMs, signal);
      signal.throwIfAborted();
      coins = await this.#call(entry, want, signal, onSkipped);
    }
    this.#noteSkipped(entry, skipped);
    return coins;
  }

  /** One request to a provider, counted by outcome. */
  async #call(
    entry: Entry,
    want: number,
    signal: AbortSignal,
    onSkipped: (messages: readonly string[]) => void,
  ): Promise<Coin[]> {
    let outcome = "error";
    try {
      const coins = await entry.provider.fetchTop(want, signal, onSkipped);
      outcome = "ok";
      return coins;
    } catch (error) {
      if (error instanceof UpstreamError && error.status !== undefined) {
        outcome = String(error.status);
      }
      throw error;
    } finally {
      const calls = entry.counts.calls;
      calls.set(outcome, (calls.get(outcome) ?? 0) + 1);
    }
  }

  /** Logs the records a provider's answer skipped, once while the same ones are skipped. */
  #noteSkipped(entry: Entry, skipped: readonly string[]): void {
    const key = skipped.join("\n");
    if (key !== entry.lastSkipped && key !== "") {
      this.#log(describeSkipped(entry.provider.name, skipped));
    }
    entry.lastSkipped = key;
  }

  #adoptPrimary(coins: Coin[]): Coin[] {
    const top = coins.slice(0, this.#top);
    this.rememberPrimary(top);
    return top;
  }

  #alignFallback(name: string, coins: Coin[]): Coin[] {
    if (this.#reference === null) return coins.slice(0, this.#top);
    const reference = this.#reference.slice(0, this.#top);
    const bySymbol = new Map(coins.map((coin) => [coin.symbol, coin]));
    const aligned: Coin[] = [];
    const missing: string[] = [];
    for (const { symbol, name: coinName, rank } of reference) {
      const coin = bySymbol.get(symbol);
      if (coin === undefined) missing.push(symbol);
      else aligned.push({ ...coin, symbol, name: coinName, rank });
    }
    const primary = this.primary;
    if (aligned.length === 0) {
      throw new UpstreamError(
        `${name} has none of the ${reference.length} coins of ${primary}'s last top list`,
      );
    }
    const lacks = missing.length === 0
      ? ""
      : `provider ${name} lacks ${missing.length} of ${primary}'s top ${reference.length} coins (${
        missing.join(", ")
      }); they are left out of its snapshots`;
    if (lacks !== this.#lastLacks && lacks !== "") this.#log(lacks);
    this.#lastLacks = lacks;
    return aligned;
  }
}

/** HTTP 5xx without `Retry-After`, or a network error: worth one quick retry. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof UpstreamError)) return false;
  if (error.status !== undefined) return error.status >= 500 && error.retryAfterMs === undefined;
  // fetch rejects with a TypeError for connection failures; a timeout has no cause.
  return error.cause instanceof TypeError;
}
