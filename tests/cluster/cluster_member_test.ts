import assert from "node:assert/strict";
import postgres from "postgres";
import {
  ClusterMember,
  LEADER_LOCK_KEY,
  NotLeaderError,
  SNAPSHOT_CHANNEL,
} from "../../lib/cluster/cluster.ts";
import { PostgresRepository } from "../../lib/storage/postgres_repository.ts";
import { RepositoryError } from "../../lib/storage/repository.ts";
import { fixtureSnapshot, LogCapture } from "../helpers.ts";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";
import { eventually } from "./_replicas.ts";

/** A member that records what it is asked to do, and its log. */
function member(url: string) {
  const logs = new LogCapture();
  const events: string[] = [];
  const m = new ClusterMember({
    url,
    refreshMs: 60_000,
    lockRetryMs: 100,
    catchUp: () => Promise.resolve(null),
    lead: () => events.push("lead"),
    follow: () => {
      events.push("follow");
      return Promise.resolve();
    },
    log: logs.log,
  });
  return { member: m, logs, events };
}

postgresTest(
  "leadership: one member leads; when its lock session is killed it steps down, another takes over, and the old session cannot write",
  async () => {
    await using pg = await PostgresCluster.start();
    await using repository = await PostgresRepository.open(pg.url, {
      notifyChannel: SNAPSHOT_CHANNEL,
    });
    const snapshot = await fixtureSnapshot();
    const a = member(pg.url);
    const b = member(pg.url);
    a.member.start();
    b.member.start();
    try {
      const leaderOf = () => {
        const leaders = [a, b].filter((x) => x.member.role === "leader");
        return Promise.resolve(leaders.length === 1 ? leaders[0] : undefined);
      };
      const first = await eventually(leaderOf, 30_000, "one leader");
      const other = first === a ? b : a;
      assert.throws(() => other.member.writerSession(), NotLeaderError);

      // A snapshot saved through the lock session notifies every member.
      const session = first.member.writerSession();
      await repository.saveSnapshot(snapshot, { session });
      await eventually(
        () => Promise.resolve(other.member.status.last_snapshot_notice_at ?? undefined),
        30_000,
        "the follower hears the notice",
      );

      // Kill the session holding the lock, as a dead host or an operator would.
      const killed = await pg.psql(
        `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
         WHERE locktype = 'advisory' AND objid = ${LEADER_LOCK_KEY} AND granted`,
        pg.database,
      );
      assert.equal(killed.trim(), "1");
      await first.logs.waitFor(/^cluster: follower \(the lock session ended/, {
        timeoutMs: 30_000,
      });
      assert.deepEqual(first.events.slice(0, 2), ["lead", "follow"]);
      await eventually(leaderOf, 30_000, "a leader again");
      // The old session is dead for good: its driver was ended, it does not reconnect, and
      // nothing is written through it.
      const later = { ...snapshot, fetchedAt: "2022-10-04T20:18:00.000Z" };
      await assert.rejects(repository.saveSnapshot(later, { session }), RepositoryError);
      assert.equal(await repository.latestSnapshotTime(), snapshot.fetchedAt);
    } finally {
      await Promise.all([a.member.stop(), b.member.stop()]);
    }
    for (const line of [...a.logs.lines, ...b.logs.lines]) {
      assert.ok(!line.includes(pg.password), line);
    }
  },
);

postgresTest(
  "INFO's database name is the one PostgreSQL is connected to, not a guess from the URL",
  async () => {
    await using pg = await PostgresCluster.start();
    const prices = "prices";
    await pg.createDatabase(prices);
    // The URL names no database: the driver picks one (here told to, as PGDATABASE would).
    const url = `postgres://${pg.user}:${pg.password}@127.0.0.1:${pg.port}`;
    const m = new ClusterMember({
      url,
      refreshMs: 60_000,
      lockRetryMs: 100,
      catchUp: () => Promise.resolve(null),
      lead: () => {},
      follow: () => Promise.resolve(),
      log: () => {},
      connect: (url, options) => postgres(url, { ...options, database: prices }),
    });
    assert.deepEqual(m.status.database, { host: "127.0.0.1", port: pg.port, name: null });
    m.start();
    try {
      await eventually(
        () => Promise.resolve(m.status.database.name ?? undefined),
        30_000,
        "the database's name once connected",
      );
      assert.deepEqual(m.status.database, { host: "127.0.0.1", port: pg.port, name: prices });
    } finally {
      await m.stop();
    }
    // A URL that names its database is reported with that name before any connection.
    const named = member(pg.url);
    assert.equal(named.member.status.database.name, pg.database);
  },
);
