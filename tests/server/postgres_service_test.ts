/**
 * The whole service on PostgreSQL (`--db postgres://...`): it stores, serves, reports the database
 * without its password, and survives PostgreSQL going away and coming back.
 */

import assert from "node:assert/strict";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";
import { LineClient, startTestService, withDeadline } from "../helpers.ts";
import { openRepository } from "../../lib/storage/open_repository.ts";

postgresTest("the server on PostgreSQL stores, serves and never shows the password", async () => {
  await using pg = await PostgresCluster.start();
  // A later --db wins over the helper's SQLite file.
  await using env = await startTestService(["--db", pg.url, "--refresh", "0.5"]);
  await using client = await LineClient.connect(env.port);

  const market = await client.request({ status: "OK", data: "MARKET BTC", v: 2 });
  assert.equal((market.data as { price: number }).price, 20220);
  const history = await client.request({ status: "OK", data: "HISTORY BTC 1h", v: 2 });
  assert.equal(history.status, "OK", JSON.stringify(history));
  assert.ok((history.data as { count: number }).count >= 1);

  const info = (await client.request({ status: "OK", data: "INFO", v: 2 })).data as {
    database: { engine: string; path: string };
  };
  assert.equal(info.database.engine, "postgres");
  assert.equal(info.database.path, `postgres://127.0.0.1:${pg.port}/crypto`);

  // What the server stored is in PostgreSQL, for any other replica to read.
  {
    await using repo = await openRepository(pg.url);
    assert.equal((await repo.loadSnapshot())?.coins[0].symbol, "BTC");
    assert.notEqual(await repo.loadRates(), null, "exchange rates stored with the snapshot");
  }

  // PostgreSQL goes away: the replica says so once (without the password) and stops ingesting
  // (its lock session is gone), and goes on answering from memory; once it is back, it takes the
  // lock again and ingestion resumes.
  const down = env.logs.lines.length;
  await pg.stop();
  await env.logs.waitFor(/^database .* unreachable/, { sinceIndex: down, timeoutMs: 30_000 });
  const pong = await withDeadline(client.request({ status: "OK", data: "PING" }), "PING", 5000);
  assert.equal(pong.data, "PONG");
  assert.equal(
    ((await client.request({ status: "OK", data: "MARKET BTC", v: 2 })).data as { price: number })
      .price,
    20220,
  );
  await pg.start();
  const back = env.logs.lines.length;
  await env.logs.waitFor(/^ingested \d+ coins/, { sinceIndex: back, timeoutMs: 60_000 });

  const leaked = env.logs.lines.filter((line) => line.includes(pg.password));
  assert.deepEqual(leaked, [], "no log line holds the password");
  assert.ok(
    env.logs.lines.some((line) => line.includes(`127.0.0.1:${pg.port}/crypto`)),
    "the failure names the database by host, port and name",
  );
});
