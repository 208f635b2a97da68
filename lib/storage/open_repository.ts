/**
 * Opens the storage engine `--db` names: a `postgres://` or `postgresql://` URL means
 * PostgreSQL, anything else is a SQLite file path.
 *
 * @module
 */

import type { Repository } from "./repository.ts";
import { SqliteRepository } from "./sqlite_repository.ts";
import { PostgresRepository, type PostgresRepositoryOptions } from "./postgres_repository.ts";
import { isPostgresUrl } from "./database_url.ts";

/** Options of {@linkcode openRepository}. */
export interface OpenRepositoryOptions extends PostgresRepositoryOptions {
  /** SQLite: how long to wait for a lock held by another connection; defaults to 5000 ms. */
  busyTimeoutMs?: number;
}

/**
 * Opens and migrates the database `db` names: a SQLite path or a PostgreSQL URL.
 *
 * @throws {RepositoryError} when the database cannot be used; its message never holds a password.
 */
export function openRepository(
  db: string,
  options: OpenRepositoryOptions = {},
): Promise<Repository> {
  return isPostgresUrl(db)
    ? PostgresRepository.open(db, options)
    : SqliteRepository.open(db, options);
}
