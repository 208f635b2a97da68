/**
 * Periodic ingestion: fetch the top coins, store them, hand them to the server.
 *
 * A failed attempt keeps the last good data and is retried with exponential backoff, never later
 * than max(refresh interval, 30 s) after the failed attempt began, so a recovered upstream is
 * used within that time; later only when the upstream asks for it with `Retry-After`. After a
 * success the normal interval resumes. Failures are logged by change of state (see
 * {@linkcode FailureLog}).
 *
 * @module
 */

import type { Coin, Snapshot } from "../wire/coin.ts";
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";
import { abortableSleep } from "../util/abortable_sleep.ts";
import { formatDuration } from "../util/format_duration.ts";
import { UpstreamError } from "./upstream_error.ts";
import { ProviderChain } from "./provider_chain.ts";
import { createProviders, type ProviderSettings } from "./providers.ts";
import type { Repository, SaveOptions, StoredRates } from "../storage/repository.ts";
import { openRepository } from "../storage/open_repository.ts";
import { brief, FailureLog } from "./failure_log.ts";
import type { Log } from "../util/log.ts";

/** Retry delays are capped at this or the refresh interval, whichever is longer. */
const RETRY_CAP_MS = 30_000;

/** Where snapshots are stored; a {@linkcode Repository} is one. */
export type SnapshotStore = Pick<Repository, "saveSnapshot">;

/** What {@linkcode IngestorOptions.fetchCoins} may return besides the bare coins. */
export interface FetchedCoins {
  coins: Coin[];
  /** The provider that served them; replaces `source` for this snapshot. */
  source: string;
  /** Replaces `describeSource` for this snapshot. */
  describeSource?: string;
  /** Exchange rates fetched with the coins, stored in the same transaction. */
  rates?: StoredRates | null;
}

/** Options of {@linkcode Ingestor}. */
export interface IngestorOptions {
  /**
   * Fetches the coins; the signal is aborted by {@linkcode Ingestor.stop}. It may say which
   * provider served them (`{ coins, source, describeSource }`), which then replaces `source` and
   * `describeSource` for that snapshot.
   */
  fetchCoins: (signal: AbortSignal) => Promise<Coin[] | FetchedCoins>;
  repository: SnapshotStore;
  /**
   * Options of each save, e.g. the writer session of a leader; read at every save, so a
   * session may change. Exchange rates come from `fetchCoins`.
   */
  saveOptions?: () => Omit<SaveOptions, "rates">;
  /**
   * Called with every stored snapshot (and the exchange rates stored with it, if any), e.g. to
   * update the server's cache.
   */
  onSnapshot?: (snapshot: Snapshot, rates: StoredRates | null) => void;
  /** Interval between successful ingestions, in milliseconds. */
  refreshMs: number;
  /** Provider name stored with the snapshot, e.g. `coingecko`, unless `fetchCoins` names one. */
  source: string;
  /** Shown in log lines, e.g. the API host; never a key. Defaults to `source`. */
  describeSource?: string;
  log?: Log;
  now?: () => Date;
  /** Waits `ms` or until `signal` aborts, whichever is first. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Jitter source for the backoff; defaults to `Math.random`. */
  random?: () => number;
  /**
   * Backoff schedule; defaults to 1 s doubling up to max(`refreshMs`, {@linkcode RETRY_CAP_MS}).
   */
  backoff?: Omit<BackoffOptions, "random">;
  /** Least time between two "still failing" lines; defaults to 5 minutes. */
  summaryEveryMs?: number;
  /** Longest `Retry-After` honoured, so a bogus header cannot stall us; defaults to 1 hour. */
  maxRetryAfterMs?: number;
}

/** The outcome of one ingestion attempt. */
export type IngestResult =
  | { ok: true; startedAt: string; durationMs: number; snapshot: Snapshot }
  | {
    ok: false;
    startedAt: string;
    durationMs: number;
    error: unknown;
    message: string;
    /** Consecutive failures so far, this one included. */
    attempt: number;
    /** When looping, how long until the next attempt. */
    retryInMs: number;
  };

/** What an INFO command can report about ingestion. */
export interface IngestStatus {
  running: boolean;
  lastAttemptAt: string | null;
  lastDurationMs: number | null;
  lastOk: boolean | null;
  lastCoins: number | null;
  lastError: string | null;
  lastSuccessAt: string | null;
  nextRunAt: string | null;
  consecutiveFailures: number;
}

/** Runs ingestions once or periodically. */
export class Ingestor implements AsyncDisposable {
  readonly #options: IngestorOptions;
  readonly #now: () => Date;
  readonly #log: Log;
  /** What the last `ingested` line said, or null after a failure: a repeat is logged as detail. */
  #lastIngested: string | null = null;
  #lastResult: IngestResult | null = null;
  #lastSuccessAt: string | null = null;
  #nextRunAt: string | null = null;
  #failures = 0;
  readonly #failureLog: FailureLog;
  #abort: AbortController | null = null;
  #loop: Promise<void> | null = null;

  constructor(options: IngestorOptions) {
    if (!(options.refreshMs > 0)) {
      throw new RangeError(
        `Cannot refresh every ${options.refreshMs} ms: expected a positive number`,
      );
    }
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? ((line) => console.log(line));
    this.#failureLog = new FailureLog({
      log: this.#log,
      now: () => this.#now().getTime(),
      summaryEveryMs: options.summaryEveryMs,
    });
  }

  /** The last attempt's outcome, or `null` before the first one. */
  get lastResult(): IngestResult | null {
    return this.#lastResult;
  }

  /** A summary of the ingestion state. */
  get status(): IngestStatus {
    const last = this.#lastResult;
    return {
      running: this.#loop !== null,
      lastAttemptAt: last?.startedAt ?? null,
      lastDurationMs: last?.durationMs ?? null,
      lastOk: last?.ok ?? null,
      lastCoins: last?.ok ? last.snapshot.coins.length : null,
      lastError: last && !last.ok ? last.message : null,
      lastSuccessAt: this.#lastSuccessAt,
      nextRunAt: this.#nextRunAt,
      consecutiveFailures: this.#failures,
    };
  }

  /**
   * Fetches, stores and publishes one snapshot. A failure is logged and returned, not thrown, and
   * the previously stored snapshot stays in place; only an abort of `signal` rejects.
   */
  async runOnce(signal: AbortSignal = new AbortController().signal): Promise<IngestResult> {
    const started = this.#now();
    const startedAt = started.toISOString();
    const elapsed = () => Math.max(0, this.#now().getTime() - started.getTime());
    let where = this.#options.describeSource ?? this.#options.source;
    let result: IngestResult;
    try {
      const fetched = await this.#options.fetchCoins(signal);
      signal.throwIfAborted();
      const { coins, source, rates = null } = Array.isArray(fetched)
        ? { coins: fetched, source: this.#options.source }
        : fetched;
      if (!Array.isArray(fetched)) where = fetched.describeSource ?? source;
      const snapshot: Snapshot = { coins, fetchedAt: startedAt, source };
      await this.#options.repository.saveSnapshot(snapshot, {
        ...this.#options.saveOptions?.(),
        rates,
      });
      this.#failureLog.succeeded(({ count, sinceMs }) =>
        `ingestion recovered after ${count} failed attempts since ${
          new Date(sinceMs).toISOString()
        }`
      );
      this.#failures = 0;
      this.#lastSuccessAt = startedAt;
      result = { ok: true, startedAt, durationMs: elapsed(), snapshot };
      this.#lastResult = result;
      const summary = `${coins.length} coins from ${where}`;
      const level = summary === this.#lastIngested ? "debug" : "info";
      this.#lastIngested = summary;
      this.#log(`ingested ${summary} in ${result.durationMs} ms`, level);
      this.#options.onSnapshot?.(snapshot, rates);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      this.#lastIngested = null;
      const attempt = ++this.#failures;
      const message = error instanceof Error ? error.message : String(error);
      const durationMs = elapsed();
      const { delayMs: retryInMs, asked } = this.#retryDelay(attempt, error, durationMs);
      result = { ok: false, startedAt, durationMs, error, message, attempt, retryInMs };
      this.#lastResult = result;
      const retry = this.#abort
        ? `; retrying in ${formatDuration(retryInMs, { precise: true })}${
          asked ? " as asked (Retry-After)" : ""
        }`
        : "";
      const reason = brief(message);
      // A Retry-After longer than our own cap is always logged: the wait is the upstream's choice.
      this.#failureLog.failed(
        () => `ingestion failed (attempt ${attempt}): ${reason}${retry}`,
        ({ sinceMs }) =>
          `ingestion ${asked ? "failed" : "still failing"} (attempt ${attempt}, failing since ${
            new Date(sinceMs).toISOString()
          }): ${reason}${retry}`,
        asked,
      );
    }
    return result;
  }

  /** Starts ingesting now and then periodically, until {@linkcode Ingestor.stop}. */
  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  /** Stops the loop, cancelling a running fetch or wait, and waits until it has ended. */
  async stop(): Promise<void> {
    this.#abort?.abort(new DOMException("Ingestion stopped", "AbortError"));
    const loop = this.#loop;
    try {
      await loop;
    } finally {
      if (this.#loop === loop) {
        this.#loop = null;
        this.#abort = null;
        this.#nextRunAt = null;
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #run(signal: AbortSignal): Promise<void> {
    const sleep = this.#options.sleep ?? abortableSleep;
    while (!signal.aborted) {
      let result: IngestResult;
      try {
        result = await this.runOnce(signal);
      } catch {
        return; // only an abort escapes runOnce
      }
      const delay = result.ok ? this.#options.refreshMs : result.retryInMs;
      this.#nextRunAt = new Date(this.#now().getTime() + delay).toISOString();
      try {
        await sleep(delay, signal);
      } catch (error) {
        if (!signal.aborted) this.#log(`ingestion stopped: ${String(error)}`);
        return;
      }
    }
  }

  /**
   * The wait before the next attempt. The backoff counts from the start of the failed attempt,
   * so a slow failure (a timeout) does not push recovery further out; a `Retry-After` counts from
   * now. `asked` is set when a `Retry-After` longer than the cap decided it.
   */
  #retryDelay(
    attempt: number,
    error: unknown,
    elapsedMs: number,
  ): { delayMs: number; asked: boolean } {
    const o = this.#options;
    const capMs = o.backoff?.maxMs ?? Math.max(o.refreshMs, RETRY_CAP_MS);
    const backoff = backoffDelay(attempt, { ...o.backoff, maxMs: capMs, random: o.random });
    const delayMs = Math.max(0, backoff - elapsedMs);
    const askedMs = error instanceof UpstreamError
      ? Math.min(error.retryAfterMs ?? 0, o.maxRetryAfterMs ?? 3_600_000)
      : 0;
    if (askedMs > delayMs) return { delayMs: askedMs, asked: askedMs > capMs };
    return { delayMs, asked: false };
  }
}

/** What {@linkcode ingestOnce} needs: the server's provider settings, a database and N. */
export interface IngestOnceSettings extends ProviderSettings {
  /** A SQLite file (its directory is created) or a PostgreSQL URL. */
  db: string;
  /** How many coins to fetch, by market cap. */
  top: number;
}

/** What {@linkcode ingestOnce} needs from its surroundings, injected for tests. */
export interface IngestOnceDeps {
  fetch?: typeof fetch;
  now?: () => Date;
  /** Where notes of the provider chain go (a failover, a provider left out). */
  log?: (line: string) => void;
}

/**
 * Fetches and stores one snapshot through the server's provider chain, for `deno task ingest`.
 * The snapshot's `source` is the provider that served it.
 *
 * @throws {UpstreamError} when no provider answered; the database is then left unchanged
 */
export async function ingestOnce(
  settings: IngestOnceSettings,
  deps: IngestOnceDeps = {},
): Promise<{ snapshot: Snapshot; durationMs: number; source: string }> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? ((line: string) => console.error(line));
  const started = now();
  // Open first so a bad database path fails before the network is used.
  await using repository = await openRepository(settings.db);
  const { providers, notes } = createProviders(settings, deps.fetch);
  notes.forEach((note) => log(note));
  const chain = new ProviderChain({ providers, top: settings.top, log });
  // As in the server: a fallback keeps the coins of the first provider's last top list.
  const stored = await repository.loadSnapshot();
  if (stored !== null && stored.source === chain.primary) chain.rememberPrimary(stored.coins);
  const round = await chain.fetchCoins(new AbortController().signal);
  const snapshot: Snapshot = {
    coins: round.coins,
    fetchedAt: started.toISOString(),
    source: round.source,
  };
  await repository.saveSnapshot(snapshot);
  const durationMs = Math.max(0, now().getTime() - started.getTime());
  return { snapshot, durationMs, source: round.describeSource };
}
