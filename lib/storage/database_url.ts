/**
 * What `--db` names: a `postgres://` or `postgresql://` URL means PostgreSQL, anything else is a
 * SQLite file path; and how to name it without its password.
 *
 * @module
 */

/** Whether `db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/**
 * The PostgreSQL URL `db` names, or null when it names a SQLite file.
 *
 * @throws {TypeError} when `db` is a `postgres://` URL that does not parse (its message may quote
 *   the URL, password included: callers name the database with {@linkcode describeDatabase})
 */
export function postgresUrl(db: string): URL | null {
  return isPostgresUrl(db) ? new URL(db) : null;
}

/**
 * `db` for a log line, an error or `INFO`: a SQLite path as given; for PostgreSQL only host, port
 * and database name, so a password (or a user name) never leaves the process.
 */
export function describeDatabase(db: string): string {
  let url: URL | null;
  try {
    url = postgresUrl(db);
  } catch {
    return "postgres://(unparsable URL)";
  }
  if (url === null) return db;
  const name = decodeURIComponent(url.pathname.replace(/^\//, "")) || "(default database)";
  return `postgres://${url.hostname}:${url.port || "5432"}/${name}`;
}
