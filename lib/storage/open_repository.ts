/**
 * Chooses the storage engine from `--db`: a `postgres://` or `postgresql://` URL means
 * PostgreSQL, anything else is a SQLite file path.
 *
 * @module
 */

import { type Repository, RepositoryError } from "./repository.ts";
import { SqliteRepository } from "./sqlite_repository.ts";

/** Whether `db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/**
 * `db` for a log line, an error or `INFO`: a SQLite path as given; for PostgreSQL only host, port
 * and database name, so a password (or a user name) never leaves the process.
 */
export function describeDatabase(db: string): string {
  if (!isPostgresUrl(db)) return db;
  let url: URL;
  try {
    url = new URL(db);
  } catch {
    return "postgres://(unparsable URL)";
  }
  const name = decodeURIComponent(url.pathname.replace(/^\//, "")) || "(default database)";
  return `postgres://${url.hostname}:${url.port || "5432"}/${name}`;
}

/** Options of {@linkcode openRepository}. */
export interface OpenRepositoryOptions {
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
  if (isPostgresUrl(db)) {
    return Promise.reject(
      new RepositoryError(`Cannot open ${describeDatabase(db)}: PostgreSQL is not supported yet`),
    );
  }
  return SqliteRepository.open(db, options);
}
