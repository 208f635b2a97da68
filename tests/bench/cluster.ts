/**
 * `deno task bench-cluster`: cluster-mode figures with three replicas of the real `server.ts` on
 * a throwaway PostgreSQL 15 (and HAProxy 2.6), all on 127.0.0.1, printed as Markdown for
 * BENCHMARKS.md:
 *
 * - upstream requests per refresh interval with one replica and with three;
 * - from the leader's commit (when this script's own `LISTEN` session receives the snapshot
 *   notice, which PostgreSQL delivers at commit) to the last of 1,000 watchers per replica
 *   receiving the `WATCH` update;
 * - look-up requests/s through HAProxy and against one replica directly (the benchmark's C load
 *   generator, `tests/bench/loadgen.c`, every reply checked);
 * - takeover after `kill -9` of the leader: until another replica holds the lock, and until it
 *   has ingested.
 *
 * @module
 */

import postgres from "postgres";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { PostgresCluster } from "../postgres_cluster.ts";
import { SNAPSHOT_CHANNEL } from "../../lib/cluster/cluster.ts";
import { ask, marketsWithBtcAt, Replicas } from "../cluster/_replicas.ts";
import { withDeadline } from "../helpers.ts";
import { HaProxy } from "../cluster/_haproxy.ts";
import type { WatchResult } from "./load.ts";
import { compile, LOADGEN, runLoadgen } from "./_loadgen.ts";
import { taskArgs } from "../task_args.ts";

const USAGE = `deno task bench-cluster [flags]: three replicas on PostgreSQL behind HAProxy

  --refresh S    seconds between ingestions (default 2)
  --watchers N   watchers per replica (default 1000)
  --duration S   measured seconds per run (default 5)
  --rounds N     rounds of each row (default 5)`;

const LOAD = new URL("./load.ts", import.meta.url).pathname;

const values = taskArgs(USAGE, {
  refresh: { type: "string", default: "2" },
  watchers: { type: "string", default: "1000" },
  duration: { type: "string", default: "5" },
  rounds: { type: "string", default: "5" },
});
const refreshS = Number(values.refresh);
const watchersPerReplica = Number(values.watchers);
const durationS = Number(values.duration);
const rounds = Number(values.rounds);

/** Runs `load.ts` with `args`; resolves with its one JSON line. `onLine` sees the others. */
async function runLoad<T>(args: string[], onLine?: (line: string) => void): Promise<T> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", LOAD, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let last = "";
  let rest = "";
  for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let newline;
    while ((newline = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      if (line.startsWith("{")) last = line;
      else onLine?.(line);
    }
  }
  const status = await child.status;
  if (!status.success || last === "") throw new Error(`load.ts ${args[0]} failed (${status.code})`);
  return JSON.parse(last) as T;
}

/** Upstream requests per refresh interval over `rounds` intervals with `count` replicas. */
async function upstreamPerRefresh(pg: PostgresCluster, count: number): Promise<number> {
  const database = `per_refresh_${count}`;
  await pg.psql(`CREATE DATABASE ${database} OWNER "${pg.user}"`);
  const url = pg.url.replace(/\/[^/]*$/, `/${database}`);
  await using upstream = await startFakeUpstream();
  await using replicas = await Replicas.start(count, url, upstream, [
    "--refresh",
    String(refreshS),
  ]);
  const leader = await replicas.serving();
  // Counted between two ingestions `rounds` apart, so the figure is per refresh interval exactly.
  const output = replicas.processes[leader].output;
  const nth = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () =>
        output.matching(/^ingested /).length >= n ? resolve() : setTimeout(check, 20);
      check();
    });
  const first = output.matching(/^ingested /).length + 1;
  await withDeadline(nth(first), "an ingestion", 60_000);
  const before = upstream.requestCount;
  await withDeadline(
    nth(first + rounds),
    `${rounds} ingestions`,
    60_000 + rounds * refreshS * 2000,
  );
  const ingesting = replicas.processes.filter((p) => p.output.matching(/^ingested /).length > 0);
  if (ingesting.length !== 1) throw new Error(`${ingesting.length} replicas ingested`);
  return (upstream.requestCount - before) / rounds;
}

const now = () => performance.timeOrigin + performance.now();
const fmt = (n: number, digits = 2) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  await using pg = await PostgresCluster.start();
  const lines: string[] = [];

  // 1. Upstream requests per refresh: one replica, then three.
  const single = await upstreamPerRefresh(pg, 1);
  const three = await upstreamPerRefresh(pg, 3);

  // 2.-4. Three replicas on the main database.
  await using upstream = await startFakeUpstream();
  await using replicas = await Replicas.start(3, pg.url, upstream, ["--refresh", String(refreshS)]);
  const leader = await replicas.serving();

  // 2. Commit to the last watcher.
  const notices: number[] = [];
  const listener = postgres(pg.url, { max: 1, onnotice: () => {} });
  await listener.listen(SNAPSHOT_CHANNEL, () => notices.push(now()));
  const watching = replicas.ports.map((port) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    const result = runLoad<WatchResult>([
      "watch",
      "--port",
      String(port),
      "--count",
      String(watchersPerReplica),
      "--request",
      '{"data":"WATCH BTC","v":2}',
    ], (line) => line.startsWith("watching") && resolve());
    return { ready: promise, result };
  });
  await Promise.all(watching.map((w) => w.ready));
  upstream.setCoins(await marketsWithBtcAt(20_987.65));
  const watched = await Promise.all(watching.map((w) => w.result));
  // The commit that changed BTC is the last notice before the first update arrived anywhere, give
  // or take the notice's own delivery to this busy process (the leader's watchers may hear first):
  // the next commit comes a whole refresh interval later, so half of one tells them apart.
  const firstUpdate = Math.min(...watched.map((w) => w.firstAt));
  const commitAt = notices.filter((at) => at <= firstUpdate + refreshS * 500).at(-1) ?? NaN;
  await listener.end();
  const perReplica = watched.map((w) => w.lastAt - commitAt);

  // 3. Look-ups: one replica directly, then through HAProxy (to all three).
  await using proxy = await HaProxy.start(replicas.ports);
  const request = '{"data":"MARKET BTC","v":2}';
  const expect = new TextEncoder().encode(
    JSON.stringify(await ask(replicas.ports[0], "MARKET BTC")) + "\n",
  );
  // The C generator of `deno task bench` (every reply checked byte for byte, values of
  // `fetched_at`/`stale` aside), so HAProxy and the replica are measured, not the generator.
  const work = await Deno.makeTempDir({ prefix: "crypto-bench-cluster-" });
  const binary = await compile(LOADGEN, work);
  const lookUps = (port: number) =>
    runLoadgen({
      binary,
      dir: work,
      port,
      request,
      expect,
      conns: 50,
      depth: 1,
      threads: 1,
      warmupS: 1,
      durationS,
      nofile: 4096,
      lenient: true,
    });
  const direct = await lookUps(replicas.ports[0]);
  const balanced = await lookUps(proxy.port);
  await Deno.remove(work, { recursive: true });

  // 4. Takeover after kill -9 of the leader.
  const current = await replicas.leader();
  const others = [0, 1, 2].filter((i) => i !== current);
  const marks = others.map((i) => replicas.processes[i].output.lines.length);
  const killedAt = now();
  replicas.processes[current].kill("SIGKILL");
  const taken = await Promise.any(others.map(async (i, k) => {
    await replicas.processes[i].output.waitFor(/^cluster: leader/, {
      sinceIndex: marks[k],
      timeoutMs: 60_000,
    });
    return { i, at: now() };
  }));
  await replicas.processes[taken.i].output.waitFor(/^ingested /, {
    sinceIndex: marks[others.indexOf(taken.i)],
    timeoutMs: 60_000,
  });
  const ingestedAt = now();

  lines.push(
    `| figure | value |`,
    `| --- | --- |`,
    `| upstream requests per refresh (${refreshS} s), 1 replica | ${fmt(single)} |`,
    `| upstream requests per refresh (${refreshS} s), 3 replicas | ${fmt(three)} |`,
    `| leader's commit to the last of ${watchersPerReplica} watchers, per replica | ${
      perReplica.map((ms, i) => `${fmt(ms, 0)} ms${i === leader ? " (leader)" : ""}`).join(", ")
    } (updated: ${watched.map((w) => `${w.updated}/${w.watchers}`).join(", ")}) |`,
    `| MARKET BTC v2, 50 conns × 1: one replica directly | ${fmt(direct.rps, 0)} req/s, p99 ${
      fmt(direct.p99)
    } ms, ${direct.errors} errors |`,
    `| MARKET BTC v2, 50 conns × 1: through HAProxy to 3 replicas | ${
      fmt(balanced.rps, 0)
    } req/s, p99 ${fmt(balanced.p99)} ms, ${balanced.errors} errors |`,
    `| kill -9 of the leader → another replica holds the lock | ${
      fmt((taken.at - killedAt) / 1000)
    } s |`,
    `| kill -9 of the leader → the new leader has ingested (--refresh ${refreshS}) | ${
      fmt((ingestedAt - killedAt) / 1000)
    } s |`,
  );
  const cpus = navigator.hardwareConcurrency;
  console.log(
    `Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus} cores, ` +
      `Deno ${Deno.version.deno}, PostgreSQL 15, HAProxy 2.6. ` +
      `Command: deno task bench-cluster\n`,
  );
  console.log(lines.join("\n"));
}

if (import.meta.main) await main();
