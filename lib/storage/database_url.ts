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
