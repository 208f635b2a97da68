/**
 * Cluster mode: many server replicas share one PostgreSQL database, and exactly one of them, the
 * leader, ingests.
 *
 * Leadership is a session-level advisory lock held by a dedicated database session (the "lock
 * session"). The leader writes every snapshot in a transaction on that same session, which first
 * checks in `pg_locks` that the session still holds the lock (a session that was cut and silently
 * reconnected by the driver holds nothing) and ends with `NOTIFY` (the PostgreSQL repository,
 * opened with `notifyChannel: SNAPSHOT_CHANNEL`, does both), so the notice is delivered on commit. Followers try the lock every few seconds; when the leader dies its session dies with it
 * and PostgreSQL releases the lock (for `kill -9` on the same host at once: the kernel closes the
 * socket and the backend exits).
 *
 * Every replica `LISTEN`s on a second dedicated session and, on each notice, loads the latest
 * snapshot and exchange rates and serves them. A listen session that drops is reopened with
 * backoff and the latest snapshot is loaded again on reconnect; every refresh interval the latest
 * snapshot time is also checked, so a lost notice delays a snapshot by one interval at most.
 *
 * While the database is unreachable the replica keeps serving what it has in memory and logs one
 * line when the database goes away and one when it is back, never one per retry.
 *
 * @module
 */

import postgres from "postgres";
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";
import { abortableSleep } from "../util/abortable_sleep.ts";
import type { PostgresWriterSession } from "../storage/postgres_repository.ts";
import { describeDatabase } from "../storage/database_url.ts";
import { redact } from "../util/redact.ts";

/** The role of a replica, as `INFO` reports it. */
export type ClusterRole = "leader" | "follower";

/** The channel the leader notifies after each snapshot; the payload is the snapshot time. */
export const SNAPSHOT_CHANNEL = "crypto_snapshot";

/**
 * The advisory lock key of ingestion leadership, `'cryp'` as a 32-bit number. A bigint key below
 * 2^32 appears in `pg_locks` with `classid = 0`, `objid = key`, `objsubid = 1`.
 */
export const LEADER_LOCK_KEY = 0x63727970;

/** The `application_name` prefix of a replica's sessions; the process id follows the role. */
const APPLICATION = "crypto-server";

/** Where the database is, for logs and `INFO`: never the password. */
export interface DatabaseAddress {
  host: string;
  port: number;
  /**
   * The database PostgreSQL says the replica is connected to (`current_database()`); before
   * the first connection the URL's, or `null` when the URL names none (the driver then picks
   * one, from `PGDATABASE` or the user name).
   */
  name: string | null;
}

/** Reads host, port and database name from a `postgres://` URL; the password stays behind. */
function databaseAddress(url: string): DatabaseAddress {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: parsed.port === "" ? 5432 : Number(parsed.port),
    name: decodeURIComponent(parsed.pathname.replace(/^\//, "")) || null,
  };
}

/** A write attempted by a replica that does not hold the leadership lock. */
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
}

/** What a cluster member does on its surroundings; all injected. */
export interface ClusterOptions {
  /** `postgres://user:password@host:port/name`. */
  url: string;
  /** The ingestion interval: followers check the latest snapshot time this often. */
  refreshMs: number;
  /**
   * Makes the database usable (opens and migrates it); called before each attempt to take the
   * lock or listen, so a database that was down at start is opened once it answers.
   */
  ready?: () => Promise<unknown>;
  /**
   * Loads the latest stored snapshot and rates and serves them when they are newer than what is
   * served; resolves to the snapshot time served afterwards (null when nothing is stored).
   */
  catchUp: () => Promise<string | null>;
  /**
   * Leadership gained: start ingesting. `signal` aborts when it is lost, and the leader then
   * calls {@linkcode ClusterOptions.follow}.
   */
  lead: (signal: AbortSignal) => void;
  /** Leadership lost (or the cluster stops while leading): stop ingesting. */
  follow: () => Promise<void>;
  log: (line: string) => void;
  /** How often a follower tries the lock; defaults to 2000 ms. */
  lockRetryMs?: number;
  /** Reconnection backoff while the database is unreachable; defaults to 0.5 s doubling to 5 s. */
  backoff?: BackoffOptions;
  /** Opens a driver instance; injected by tests. Defaults to `postgres(url, options)`. */
  connect?: (url: string, options: SessionOptions) => postgres.Sql;
}

/**
 * Driver options of a dedicated session. `onnotify` is the driver's own hook (its `listen()` is
 * built on it) but missing from its types; using it directly lets this module re-`LISTEN` itself,
 * with backoff, where `listen()` would give up after one failed reconnection.
 */
export type SessionOptions = postgres.Options<Record<string, never>> & {
  onnotify?: (channel: string, payload: string) => void;
};

/** What `INFO` reports under `cluster`. */
export interface ClusterStatus {
  role: ClusterRole;
  database: DatabaseAddress;
  leader_since?: string;
  following_since?: string;
  last_snapshot_notice_at: string | null;
}

/** One replica's membership in the cluster. */
export class ClusterMember {
  readonly database: DatabaseAddress;
  readonly #options: ClusterOptions;
  readonly #where: string;
  readonly #password: string;
  readonly #stop = new AbortController();
  #connect: ((options: SessionOptions) => postgres.Sql) | null = null;
  /** The session trying for (or holding) the lock, with a promise that resolves when it closes. */
  #lockSession: { sql: postgres.Sql; closed: PromiseWithResolvers<void> } | null = null;
  /** The lock session while leading: writes go through it, and only through it. */
  #leaderSql: postgres.Sql | null = null;
  #listenSql: postgres.Sql | null = null;
  #role: ClusterRole = "follower";
  #since = new Date().toISOString();
  #leaderChanges = 0;
  #lastNoticeAt: string | null = null;
  /** Whether the database answered last time: null before the first try. */
  #reachable: boolean | null = null;
  #leadership: AbortController | null = null;
  /** Whether the role was logged yet: a follower says so once, at its first failed try. */
  #announced = false;
  /** Resolves when the listen session closes. */
  #listenClosed = Promise.withResolvers<void>();
  #loops: Promise<unknown> | null = null;
  /** Serializes catch-ups: a notice during a load is followed by one more load, not many. */
  #catchingUp: Promise<void> | null = null;
  #catchUpAgain = false;

  constructor(options: ClusterOptions) {
    this.#options = options;
    this.database = databaseAddress(options.url);
    this.#where = describeDatabase(options.url);
    this.#password = decodeURIComponent(new URL(options.url).password);
  }

  /** The replica's role now. */
  get role(): ClusterRole {
    return this.#role;
  }

  /** Times this replica took or lost the leadership, for the metrics. */
  get leaderChanges(): number {
    return this.#leaderChanges;
  }

  /** The `cluster` section of `INFO`. */
  get status(): ClusterStatus {
    return {
      role: this.#role,
      database: { ...this.database },
      [this.#role === "leader" ? "leader_since" : "following_since"]: this.#since,
      last_snapshot_notice_at: this.#lastNoticeAt,
    };
  }

  /** Starts following (and competing for leadership) in the background. */
  start(): void {
    if (this.#loops !== null) return;
    const connect = this.#options.connect ?? ((url, options) => postgres(url, options));
    const common = {
      max: 1,
      // The sessions must live as long as the process: the driver's default recycles them.
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 5,
      // Catches a dead database host within about a minute (TCP keepalive on the socket).
      keep_alive: 15,
      onnotice: () => {},
      fetch_types: false,
    };
    this.#connect = (options) => connect(this.#options.url, { ...common, ...options });
    this.#listenSql = this.#connect({
      // Named, so an operator (or a test) finds each replica's sessions in pg_stat_activity.
      connection: { application_name: `${APPLICATION} listen ${Deno.pid}` },
      onclose: () => this.#listenClosed.resolve(),
      onnotify: (channel: string, payload: string) => {
        if (channel !== SNAPSHOT_CHANNEL) return;
        this.#lastNoticeAt = new Date().toISOString();
        // The leader serves its own snapshot already.
        if (this.#role === "follower") this.#catchUp(`notice of ${payload}`);
      },
    });
    this.#loops = Promise.all([this.#lockLoop(), this.#listenLoop(), this.#pollLoop()]);
  }

  /**
   * The lock session as a writer session of the PostgreSQL repository: the snapshot's transaction
   * runs on it and first checks that the session still holds the leadership lock.
   *
   * @throws {NotLeaderError} when this replica is not the leader.
   */
  writerSession(): PostgresWriterSession {
    const sql = this.#leaderSql;
    if (sql === null) throw new NotLeaderError("Cannot write: this replica is not the leader");
    return { engine: "postgres", sql, lockKey: BigInt(LEADER_LOCK_KEY) };
  }

  /** Stops competing and listening, and closes both sessions, which releases the lock. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#lockSession?.closed.resolve();
    this.#listenClosed.resolve();
    await this.#loops;
    await this.#listenSql?.end({ timeout: 1 }).catch(() => {});
  }

  /** An error's message with the database password, should a driver ever quote it, masked. */
  redact(error: unknown): string {
    return redact(error instanceof Error ? error.message : String(error), this.#password);
  }

  async #lockLoop(): Promise<void> {
    const signal = this.#stop.signal;
    const failures = { count: 0 };
    while (!signal.aborted) {
      // One driver instance per leadership term: once its session has closed it is ended, so
      // nothing can be written through a silently reconnected session that holds no lock.
      let closed = Promise.withResolvers<void>();
      const sql = this.#connect!({
        onclose: () => closed.resolve(),
        connection: { application_name: `${APPLICATION} lock ${Deno.pid}` },
      });
      let got = false;
      while (!signal.aborted && !got) {
        // Failed connection attempts close the session too: only a close after this try counts.
        closed = Promise.withResolvers<void>();
        this.#lockSession = { sql, closed };
        const tried = await this.#attempt(failures, async () => {
          const [{ ok }] = await sql`SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}) AS ok`;
          got = ok === true;
        });
        if (tried && !got) {
          if (!this.#announced) {
            this.#announced = true;
            this.#options.log(`cluster: follower (another replica holds the ingestion lock)`);
          }
          await Promise.race([this.#sleep(this.#options.lockRetryMs ?? 2000), closed.promise]);
        }
      }
      if (got) {
        await this.#becomeLeader(sql);
        await closed.promise;
        await this.#becomeFollower(
          signal.aborted ? "stopping" : "the lock session ended; competing again",
        );
      }
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }

  async #becomeLeader(sql: postgres.Sql): Promise<void> {
    this.#announced = true;
    this.#leaderSql = sql;
    this.#leaderChanges++;
    this.#role = "leader";
    this.#since = new Date().toISOString();
    this.#options.log(`cluster: leader (holding the ingestion lock on ${this.#where})`);
    // Whatever the previous leader stored last is served before ingesting.
    await this.#catchUp("taking over").catch(() => {});
    this.#leadership = new AbortController();
    this.#options.lead(this.#leadership.signal);
  }

  async #becomeFollower(why: string): Promise<void> {
    this.#leaderSql = null;
    this.#leadership?.abort();
    this.#leadership = null;
    if (this.#role === "leader") this.#leaderChanges++;
    this.#role = "follower";
    this.#since = new Date().toISOString();
    await this.#options.follow();
    if (!this.#stop.signal.aborted) this.#options.log(`cluster: follower (${why})`);
  }

  async #listenLoop(): Promise<void> {
    const signal = this.#stop.signal;
    const sql = this.#listenSql!;
    const failures = { count: 0 };
    while (!signal.aborted) {
      this.#listenClosed = Promise.withResolvers<void>();
      const listening = await this.#attempt(failures, async () => {
        await sql.unsafe(`LISTEN ${SNAPSHOT_CHANNEL}`);
        // INFO names the database connected to, whatever the URL left to defaults.
        const [{ name }] = await sql<{ name: string }[]>`SELECT current_database() AS name`;
        this.database.name = name;
      });
      if (!listening) continue;
      // Notices sent while the session was down are lost: whatever is newest is loaded now.
      this.#catchUp("listening");
      await this.#listenClosed.promise;
    }
  }

  /**
   * One step that needs the database: opens it if need be, then runs `body`. A failure marks the
   * database unreachable and waits the next backoff delay; resolves to whether it succeeded.
   */
  async #attempt(failures: { count: number }, body: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.#options.ready?.();
      await body();
      failures.count = 0;
      this.#markReachable();
      return true;
    } catch (error) {
      this.#markUnreachable(error);
      await this.#sleep(backoffDelay(++failures.count, this.#backoff()));
      return false;
    }
  }

  async #pollLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.#sleep(this.#options.refreshMs);
      if (!signal.aborted && this.#role === "follower" && this.#reachable === true) {
        this.#catchUp("periodic check");
      }
    }
  }

  /** Loads and serves the latest snapshot; failures mark the database unreachable, never throw. */
  #catchUp(_why: string): Promise<void> {
    if (this.#catchingUp !== null) {
      this.#catchUpAgain = true;
      return this.#catchingUp;
    }
    this.#catchingUp = (async () => {
      do {
        this.#catchUpAgain = false;
        try {
          await this.#options.catchUp();
          this.#markReachable();
        } catch (error) {
          this.#markUnreachable(error);
        }
      } while (this.#catchUpAgain && !this.#stop.signal.aborted);
    })().finally(() => this.#catchingUp = null);
    return this.#catchingUp;
  }

  #markReachable(): void {
    if (this.#reachable === true) return;
    const was = this.#reachable;
    this.#reachable = true;
    if (was === false) this.#options.log(`database ${this.#where} reachable again`);
  }

  #markUnreachable(error: unknown): void {
    if (this.#reachable === false || this.#stop.signal.aborted) return;
    this.#reachable = false;
    this.#options.log(
      `database ${this.#where} unreachable (${
        this.redact(error)
      }); serving from memory, reconnecting with backoff`,
    );
  }

  #backoff(): BackoffOptions {
    return this.#options.backoff ?? { baseMs: 500, maxMs: 5000 };
  }

  #sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.#stop.signal);
  }
}
