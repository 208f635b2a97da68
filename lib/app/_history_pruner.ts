/**
 * Deletes history older than the retention after each ingestion, a small batch per transaction,
 * so the ingester's writes never wait long behind a big delete.
 *
 * @module
 */

import type { Log } from "../util/log.ts";
import { PRUNE_BATCH_SIZE, pruneHistory, type Repository } from "../storage/repository.ts";

/** Prunes history in the background, one run at a time. */
export class HistoryPruner {
  readonly #repository: Repository;
  readonly #retentionMs: number;
  readonly #log: Log;
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;

  constructor(repository: Repository, days: number, log: Log) {
    this.#repository = repository;
    this.#retentionMs = days * 86_400_000;
    this.#log = log;
  }

  /** Starts a run unless one is running or the pruner is stopped. */
  schedule(): void {
    if (this.#running !== null || this.#stop.signal.aborted) return;
    this.#running = this.#run().finally(() => this.#running = null);
  }

  async #run(): Promise<void> {
    const before = new Date(Date.now() - this.#retentionMs).toISOString();
    try {
      const total = await pruneHistory(
        this.#repository,
        before,
        PRUNE_BATCH_SIZE,
        this.#stop.signal,
      );
      if (total > 0) this.#log(`pruned ${total} history rows older than ${before}`);
    } catch (error) {
      this.#log(`history pruning failed: ${(error as Error).message}`, "warn");
    }
  }

  /** Stops after the batch in flight. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }
}
