/**
 * Measures `HISTORY BTC 30d` over 30 days at a 1 s refresh (2,592,000 prices of BTC), the case of
 * issue 12, on both engines: the query the previous version ran over every stored price, the
 * upgrade that rolls that history up, and the query now, in the repository and over a socket.
 *
 * Usage: `deno run -A tests/bench/history.ts [--days 30] [--step 1] [--runs 21]`. Prints one line
 * per figure; PostgreSQL is skipped (and says why) where it cannot run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import postgres from "postgres";
import { seedPreviousVersion } from "../history_seed.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { PostgresRepository } from "../../lib/storage/postgres_repository.ts";
import type { Repository } from "../../lib/storage/repository.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { ServerProcess } from "../server_process.ts";
import { LineClient } from "../helpers.ts";
import { POSTGRES_MISSING, PostgresCluster } from "../postgres_cluster.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    days: { type: "string", default: "30" },
    step: { type: "string", default: "1" },
    runs: { type: "string", default: "21" },
  },
});
const days = Number(values.days);
const step = Number(values.step);
const runs = Number(values.runs);
const count = Math.floor((days * 86_400) / step);
const endSec = Math.floor(Date.now() / 1000) - 1;
const since = () => new Date(Date.now() - days * 86_400_000).toISOString();

async function time<T>(body: () => Promise<T> | T): Promise<[number, T]> {
  const started = performance.now();
  const result = await body();
  return [performance.now() - started, result];
}

/** Median and maximum of `runs` history queries. */
async function queries(repo: Repository): Promise<string> {
  const times: number[] = [];
  let points = 0;
  for (let i = 0; i < runs; i++) {
    const [ms, series] = await time(() => repo.historySeries("BTC", since(), 200));
    times.push(ms);
    points = series.points.length;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  return `median ${median.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms, ${points} points`;
}

console.log(`${count.toLocaleString("en")} prices of BTC: ${days} days, one every ${step} s`);

// SQLite: the file as the previous version left it.
const dir = await Deno.makeTempDir({ prefix: "bench-history-" });
try {
  const file = join(dir, "crypto.sqlite");
  const [seedMs] = await time(() => seedPreviousVersion(file, count, step, endSec));
  console.log(`sqlite: seeded in ${(seedMs / 1000).toFixed(1)} s`);
  {
    // The previous version's query: every stored price of the window, thinned in SQL.
    const db = new DatabaseSync(file, { readOnly: true });
    const [oldMs] = await time(() => {
      db.prepare(
        `SELECT COUNT(*), MIN(price), MAX(price) FROM price_history
         WHERE symbol = 'BTC' AND fetched_at >= ?`,
      ).get(since());
      return db.prepare(
        `WITH h AS (SELECT fetched_at, price, ROW_NUMBER() OVER (ORDER BY fetched_at, id) - 1 AS i,
                           COUNT(*) OVER () AS n
                    FROM price_history WHERE symbol = 'BTC' AND fetched_at >= ?)
         SELECT fetched_at, price FROM h
         WHERE n <= 200 OR i = 0 OR (i * 199) / (n - 1) > ((i - 1) * 199) / (n - 1)`,
      ).all(since());
    });
    db.close();
    console.log(`sqlite: previous version's query (every price): ${oldMs.toFixed(0)} ms`);
  }
  const [openMs, repo] = await time(() => SqliteRepository.open(file));
  console.log(`sqlite: upgrade to schema 3 (roll-up, once): ${(openMs / 1000).toFixed(1)} s`);
  console.log(`sqlite: historySeries 30d: ${await queries(repo)}`);
  await repo.close();

  // Over a socket, as a client sees it: uncached HISTORY requests (the reply cache keys on the
  // exact bytes, so each request is spelled differently).
  await using upstream = await startFakeUpstream();
  await using server = new ServerProcess(
    ["--port", "0", "--db", file, "--api-url", upstream.baseUrl, "--refresh", "3600"],
  );
  const port = await server.port(120_000);
  await server.output.waitFor(/^ingested \d+ coins/, { timeoutMs: 60_000 });
  await using client = await LineClient.connect(port);
  const socketTimes: number[] = [];
  let data = { count: 0, points: [] as unknown[] };
  for (let i = 0; i < runs; i++) {
    const spelling = `HISTORY${" ".repeat(i + 1)}BTC ${days}d`;
    const [ms, reply] = await time(() => client.request({ status: "OK", data: spelling, v: 2 }));
    socketTimes.push(ms);
    data = reply.data as typeof data;
  }
  socketTimes.sort((a, b) => a - b);
  console.log(
    `sqlite: HISTORY BTC ${days}d over a socket, uncached: median ` +
      `${socketTimes[Math.floor(runs / 2)].toFixed(1)} ms, max ${socketTimes.at(-1)!.toFixed(1)} ` +
      `ms (count ${data.count}, ${data.points.length} points)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}

if (POSTGRES_MISSING !== null) {
  console.log(`postgres: skipped: ${POSTGRES_MISSING}`);
} else {
  await using pg = await PostgresCluster.start();
  // The previous schema (2) with every price, then the upgrade, as on SQLite.
  await (await PostgresRepository.open(pg.url)).close();
  const sql = postgres(pg.url, { onnotice: () => {} });
  const [seedMs] = await time(async () => {
    await sql`DROP TABLE price_rollup`;
    await sql`UPDATE schema_version SET version = 2`;
    await sql`INSERT INTO price_history (symbol, price, price_text, fetched_at)
      SELECT 'BTC', 20000 + i % 1000, (20000 + i % 1000)::text,
             to_timestamp(${endSec} - (${count - 1} - i) * ${step})
      FROM generate_series(0, ${count - 1}) AS i`;
    await sql`INSERT INTO coins SELECT 'BTC', 'Bitcoin', 1, price, price_text, NULL, NULL, NULL,
      NULL, fetched_at, 'coingecko' FROM price_history ORDER BY id DESC LIMIT 1`;
    await sql`VACUUM ANALYZE price_history`;
  });
  console.log(`postgres: seeded in ${(seedMs / 1000).toFixed(1)} s`);
  const [oldMs] = await time(() =>
    sql`SELECT COUNT(*), MIN(price), MAX(price), array_agg(price ORDER BY fetched_at)
        FROM price_history WHERE symbol = 'BTC' AND fetched_at >= ${since()}::timestamptz`
  );
  console.log(`postgres: previous schema's query (every price): ${oldMs.toFixed(0)} ms`);
  await sql.end();
  const [openMs, repo] = await time(() => PostgresRepository.open(pg.url));
  console.log(`postgres: upgrade to schema 3 (roll-up, once): ${(openMs / 1000).toFixed(1)} s`);
  console.log(`postgres: historySeries 30d: ${await queries(repo)}`);
  await repo.close();
}
