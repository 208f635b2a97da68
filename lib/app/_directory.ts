/**
 * Keeps the coin directory: loads the stored one at start, fetches the provider's list again
 * when the stored one is a day old, stores it (the SQLite worker or PostgreSQL does the 17,000
 * inserts, never the event loop) and hands it to whoever serves it.
 *
 * @module
 */

import type { DirectoryEntry } from "../wire/coin.ts";
import type { Repository, SaveOptions } from "../storage/repository.ts";
import { brief, FailureLog } from "../ingest/failure_log.ts";

/** How often the directory is fetched again: new coins are listed daily, not by the minute. */
export const DIRECTORY_REFRESH_MS = 24 * 60 * 60 * 1000;
/** After a failed fetch, the next try waits this long (not the next ingestion round). */
const RETRY_MS = 10 * 60 * 1000;

/** What a {@linkcode DirectoryKeeper} works with. */
export interface DirectoryKeeperOptions {
  repository: Repository;
  /** The provider whose list it is, e.g. `coingecko`. */
  provider: string;
  /** Fetches the provider's whole list. */
  fetchList: (signal: AbortSignal) => Promise<DirectoryEntry[]>;
  /** Told of each directory loaded or fetched. */
  onDirectory: (entries: readonly DirectoryEntry[]) => Promise<void>;
  /** Options of each save, read at every save (a leader's writer session may change). */
  saveOptions: () => SaveOptions;
  log: (line: string) => void;
  now?: () => number;
}

/** Loads, refreshes and stores one provider's coin directory. */
export class DirectoryKeeper {
  readonly #options: DirectoryKeeperOptions;
  readonly #failures: FailureLog;
  readonly #now: () => number;
  /** When the directory in use was fetched; 0 before any. */
  #fetchedAtMs = 0;
  #nextTryMs = 0;
  #running: Promise<void> | null = null;
  /** How many coins the directory in use lists. */
  size = 0;

  constructor(options: DirectoryKeeperOptions) {
    this.#options = options;
    this.#failures = new FailureLog({ log: options.log });
    this.#now = options.now ?? Date.now;
  }

  /** When the directory in use was fetched (ISO-8601), or null before any. */
  get fetchedAt(): string | null {
    return this.#fetchedAtMs === 0 ? null : new Date(this.#fetchedAtMs).toISOString();
  }

  /** Serves the stored directory when it is newer than the one in use; returns whether one is. */
  async load(): Promise<boolean> {
    const stored = await this.#options.repository.loadDirectory(
      this.#options.provider,
      this.fetchedAt ?? undefined,
    );
    if (stored !== null) await this.#use(stored.entries, Date.parse(stored.fetchedAt));
    return stored !== null || this.#fetchedAtMs > 0;
  }

  /** Whether the directory is missing or a day old, and no failed try is too recent. */
  get due(): boolean {
    const now = this.#now();
    return now >= this.#nextTryMs && now - this.#fetchedAtMs >= DIRECTORY_REFRESH_MS;
  }

  /** Fetches, stores and serves the list when {@linkcode due}; one fetch at a time. */
  refresh(signal: AbortSignal): Promise<void> {
    if (!this.due) return Promise.resolve();
    return this.#running ??= this.#fetch(signal).finally(() => this.#running = null);
  }

  async #fetch(signal: AbortSignal): Promise<void> {
    const { provider, repository } = this.#options;
    try {
      const fetchedAtMs = this.#now();
      const entries = await this.#options.fetchList(signal);
      const fetchedAt = new Date(fetchedAtMs).toISOString();
      await repository.saveDirectory(
        { provider, entries, fetchedAt },
        this.#options.saveOptions(),
      );
      await this.#use(entries, fetchedAtMs);
      this.#failures.succeeded(({ count }) =>
        `coin directory fetched again after ${count} failed attempts`
      );
      this.#options.log(`coin directory: ${entries.length} coins listed by ${provider}`);
    } catch (error) {
      if (signal.aborted) return;
      this.#nextTryMs = this.#now() + RETRY_MS;
      const reason = brief((error as Error).message);
      const kept = this.#fetchedAtMs === 0 ? "none yet" : `keeping ${this.size} coins`;
      this.#failures.failed(
        () => `coin directory fetch failed: ${reason}; ${kept}`,
        ({ count }) => `coin directory still failing after ${count} attempts: ${reason}`,
      );
    }
  }

  async #use(entries: readonly DirectoryEntry[], fetchedAtMs: number): Promise<void> {
    this.#fetchedAtMs = fetchedAtMs;
    this.size = entries.length;
    await this.#options.onDirectory(entries);
  }
}
