/**
 * The database's size for `INFO`, read after each ingestion rather than on each request.
 *
 * @module
 */

import type { Repository } from "../storage/repository.ts";

/** The last size read of a repository, refreshed on demand in the background. */
export class SizeGauge {
  readonly #repository: Repository;
  #reading: Promise<void> | null = null;
  /** The last size read, or null before the first read or when the engine cannot tell. */
  bytes: number | null = null;

  constructor(repository: Repository) {
    this.#repository = repository;
  }

  /** Reads the size again unless a read is in flight. */
  refresh(): void {
    this.#reading ??= this.#repository.sizeBytes().then(
      (bytes) => {
        this.bytes = bytes;
      },
      () => {}, // the last size stays; INFO is not the place to report storage errors
    ).finally(() => this.#reading = null);
  }

  /** Resolves when no read is in flight. */
  async settled(): Promise<void> {
    await this.#reading;
  }
}
