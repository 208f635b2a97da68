/**
 * Cluster mode against a real PostgreSQL 15 and real `server.ts` processes: one ingester among
 * three replicas, the same answers everywhere, WATCH events on every replica, takeover after
 * `kill -9`, PostgreSQL going away and coming back, a killed LISTEN session, and no password in
 * any log line.
 */

import assert from "node:assert/strict";
import { LineClient, withDeadline } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";
import { ask, clusterInfo, eventually, marketsWithBtcAt, Replicas } from "./_replicas.ts";

/** A WATCH BTC connection on `port`, its first reply read. */
async function watchBtc(port: number): Promise<LineClient> {
  const client = await LineClient.connect(port);
  const reply = await withDeadline(
    client.request({ data: "WATCH BTC", v: 2 }),
    `WATCH reply on ${port}`,
    10_000,
  );
  assert.equal(reply.status, "OK", JSON.stringify(reply));
  return client;
}

/** Reads events until a BTC update at `price` arrives. */
async function updateAt(client: LineClient, price: number, ms = 30_000): Promise<void> {
  await withDeadline(
    (async () => {
      for (;;) {
        const event = await client.readJson();
        const data = event.data as { symbol?: string; price?: number };
        if (event.event === "update" && data.symbol === "BTC" && data.price === price) return;
      }
    })(),
    `a BTC update at ${price} on ${client.conn.remoteAddr.transport}`,
    ms,
  );
}

postgresTest(
  "three replicas: one ingester, the same MARKET ALL everywhere, WATCH on each, history on a follower, no password in any log line",
  async () => {
    await using pg = await PostgresCluster.start();
    await using upstream = await startFakeUpstream();
    await using replicas = await Replicas.start(3, pg.url, upstream);
    const leader = await replicas.serving();
    const followers = [0, 1, 2].filter((i) => i !== leader);

    const watchers = await Promise.all(replicas.ports.map(watchBtc));
    try {
      const before = upstream.requestCount;
      upstream.setCoins(await marketsWithBtcAt(20_300.5));
      await Promise.all(watchers.map((w) => updateAt(w, 20_300.5)));
      // Two more refresh intervals; then count the upstream requests against the ingestions.
      const ingested = () => replicas.processes[leader].output.matching(/^ingested /).length;
      const start = ingested();
      await eventually(
        () => Promise.resolve(ingested() >= start + 2 ? true : undefined),
        30_000,
        "two more ingestions",
      );
      const rounds = ingested() - start + 1;
      // Each ingestion asks for the coins and the exchange rates: two requests, from one replica.
      assert.ok(
        upstream.requestCount - before <= 2 * (rounds + 1),
        `${upstream.requestCount - before} upstream requests for ${rounds} ingestions`,
      );
      for (const i of followers) {
        assert.deepEqual(replicas.processes[i].output.matching(/^ingested /), [], `replica ${i}`);
      }
    } finally {
      watchers.forEach((w) => w.close());
    }

    // MARKET ALL (v1: prices only, no snapshot time) is byte for byte the same everywhere.
    const all = await Promise.all(replicas.ports.map(async (port) => {
      await using client = await LineClient.connect(port);
      await client.send('{"data":"MARKET ALL"}\n');
      return await withDeadline(client.readLine(), "MARKET ALL", 10_000);
    }));
    assert.equal(new Set(all).size, 1, all.join("\n"));
    assert.match(all[0]!, /"Bitcoin":20300\.5/);

    // History written by the leader, read by a follower from the database.
    const history = await ask(replicas.ports[followers[0]], "HISTORY BTC 24h");
    assert.equal(history.status, "OK", JSON.stringify(history));
    const series = history.data as { count: number; last: number };
    assert.ok(series.count >= 2, JSON.stringify(series));
    assert.equal(series.last, 20_300.5);

    // INFO tells the roles and where the database is, never the password.
    const info = await clusterInfo(replicas.ports[followers[0]]);
    assert.equal(info.role, "follower");
    assert.deepEqual(info.database, { host: "127.0.0.1", port: pg.port, name: pg.database });
    assert.equal(typeof info.following_since, "string");
    assert.equal(typeof info.last_snapshot_notice_at, "string");
    assert.equal((await clusterInfo(replicas.ports[leader])).role, "leader");
    // A follower never ingests, yet knows the database's size from the snapshots it loaded.
    const followerInfo = (await ask(replicas.ports[followers[0]], "INFO")).data as {
      database: { size_bytes: number | null };
    };
    assert.equal(typeof followerInfo.database.size_bytes, "number", JSON.stringify(followerInfo));

    for (const line of replicas.lines) assert.ok(!line.includes(pg.password), line);
  },
);

postgresTest(
  "kill -9 of the leader: a follower takes the lock and ingests, watchers of the others get updates",
  async () => {
    await using pg = await PostgresCluster.start();
    await using upstream = await startFakeUpstream();
    await using replicas = await Replicas.start(3, pg.url, upstream);
    const leader = await replicas.serving();
    const survivors = [0, 1, 2].filter((i) => i !== leader);
    const watchers = await Promise.all(survivors.map((i) => watchBtc(replicas.ports[i])));
    try {
      replicas.processes[leader].kill("SIGKILL");
      await withDeadline(replicas.processes[leader].exited(), "the leader exits", 10_000);
      const next = await replicas.leader(30_000, (i) => i !== leader);
      assert.notEqual(next, leader);
      await replicas.processes[next].output.waitFor(/^ingested \d+ coins/, { timeoutMs: 30_000 });
      upstream.setCoins(await marketsWithBtcAt(20_111.25));
      await Promise.all(watchers.map((w) => updateAt(w, 20_111.25)));
      const other = survivors.find((i) => i !== next)!;
      assert.equal((await clusterInfo(replicas.ports[other])).role, "follower");
    } finally {
      watchers.forEach((w) => w.close());
    }
  },
);

postgresTest(
  "PostgreSQL stopped and restarted under load: replicas answer from memory, log one line each way, and catch up",
  async () => {
    await using pg = await PostgresCluster.start();
    await using upstream = await startFakeUpstream();
    await using replicas = await Replicas.start(3, pg.url, upstream);
    await replicas.serving();

    // Load: each replica is asked for MARKET BTC continuously while the database is away.
    let loading = true;
    const failures: string[] = [];
    let answered = 0;
    const load = replicas.ports.map(async (port) => {
      await using client = await LineClient.connect(port);
      while (loading) {
        const reply = await withDeadline(
          client.request({ data: "MARKET BTC", v: 2 }),
          "MARKET BTC under load",
          10_000,
        );
        if (reply.status !== "OK") failures.push(JSON.stringify(reply));
        answered++;
      }
    });
    try {
      await pg.stop("fast");
      for (const p of replicas.processes) {
        await p.output.waitFor(/unreachable/, { timeoutMs: 30_000 });
      }
      // The outage lasts long enough for several reconnection attempts (0.5 s, 1 s, 2 s, ...).
      const during = answered;
      const downAt = Date.now();
      await eventually(
        () =>
          Promise.resolve(answered > during + 100 && Date.now() - downAt > 4000 ? true : undefined),
        30_000,
        "answers while the database is down",
      );
      await pg.start();
      for (const p of replicas.processes) {
        await p.output.waitFor(/reachable again/, { timeoutMs: 30_000 });
      }
    } finally {
      loading = false;
      await Promise.all(load);
    }
    assert.deepEqual(failures, []);
    // One line per change of state, not one per retry: down, up (a loaded machine may see the
    // database flap once more while it starts, which is two more changes, never one per retry).
    for (const p of replicas.processes) {
      const changes = p.output.matching(/^database .* (unreachable|reachable again)/);
      assert.ok(changes.length === 2 || changes.length === 4, p.output.lines.join("\n"));
      changes.forEach((line, i) =>
        assert.match(line, i % 2 === 0 ? / unreachable / : / reachable again$/, line)
      );
    }
    // The cluster ingests again and every replica serves the new price.
    const watchers = await Promise.all(replicas.ports.map(watchBtc));
    try {
      upstream.setCoins(await marketsWithBtcAt(20_555));
      await Promise.all(watchers.map((w) => updateAt(w, 20_555)));
    } finally {
      watchers.forEach((w) => w.close());
    }
    for (const p of replicas.processes) {
      const state = await Promise.race([p.status.then(() => "exited"), Promise.resolve("running")]);
      assert.equal(state, "running");
    }
  },
);

postgresTest(
  "a follower whose LISTEN session is killed (pg_terminate_backend) misses no snapshot",
  async () => {
    await using pg = await PostgresCluster.start();
    await using upstream = await startFakeUpstream();
    await using replicas = await Replicas.start(2, pg.url, upstream, ["--refresh", "3"]);
    const leader = await replicas.serving();
    const follower = 1 - leader;
    await using watcher = await watchBtc(replicas.ports[follower]);
    const pid = replicas.processes[follower].child.pid;
    const killed = await pg.psql(
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
       WHERE application_name = 'crypto-server listen ${pid}'`,
      pg.database,
    );
    assert.equal(killed.trim(), "1");
    // The next snapshot is committed while the follower may still be reconnecting.
    upstream.setCoins(await marketsWithBtcAt(20_777));
    await updateAt(watcher, 20_777);
    // The follower opened a new listen session.
    await eventually(
      async () => {
        const sessions = await pg.psql(
          `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crypto-server listen ${pid}'`,
          pg.database,
        );
        return sessions.trim() === "1" ? true : undefined;
      },
      30_000,
      "the follower listens again",
    );
    assert.equal((await clusterInfo(replicas.ports[follower])).role, "follower");
  },
);

postgresTest(
  "PostgreSQL down at start: the replica listens and answers NO_DATA, then ingests once the database is up",
  async () => {
    await using pg = await PostgresCluster.start();
    await using upstream = await startFakeUpstream();
    await pg.stop("fast");
    await using replicas = await Replicas.start(1, pg.url, upstream);
    const [server] = replicas.processes;
    await server.output.waitFor(/unreachable/, { timeoutMs: 30_000 });
    const reply = await ask(replicas.ports[0], "MARKET BTC");
    assert.equal(reply.code, "NO_DATA", JSON.stringify(reply));
    assert.equal((await clusterInfo(replicas.ports[0])).role, "follower");
    await pg.start();
    await server.output.waitFor(/^ingested \d+ coins/, { timeoutMs: 30_000 });
    assert.equal((await ask(replicas.ports[0], "MARKET BTC")).status, "OK");
    assert.equal(server.output.matching(/unreachable/).length, 1, server.output.lines.join("\n"));
    for (const line of server.output.lines) assert.ok(!line.includes(pg.password), line);
  },
);
