/**
 * `--log-level`, `--log-timestamps` and `--name`: a repeated ingestion and clients' typos are
 * detail (debug), changes and faults are not; lines can carry the time and the replica's name.
 */
import assert from "node:assert/strict";
import { parseServerArgs } from "../../lib/app/config.ts";
import { startService } from "../../lib/app/service.ts";
import { createLog } from "../../lib/util/log.ts";
import { UsageError } from "../../lib/util/usage_error.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { LineClient, LogCapture, testServerArgs } from "../helpers.ts";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";

Deno.test("createLog writes the levels asked for, with the time and a name when asked", () => {
  const lines: string[] = [];
  let name = "";
  const log = createLog({
    level: "warn",
    timestamps: true,
    prefix: () => name,
    write: (line) => lines.push(line),
    now: () => new Date("2026-01-02T03:04:05.678Z"),
  });
  log("shown", "error");
  log("not shown");
  log("not shown either", "debug");
  name = "replica-a";
  log("named", "warn");
  assert.deepEqual(lines, [
    "2026-01-02T03:04:05.678Z shown",
    "2026-01-02T03:04:05.678Z replica-a: named",
  ]);
});

Deno.test("--log-level is checked; --name defaults to none outside cluster mode", () => {
  const command = parseServerArgs([], () => undefined);
  assert.ok(command.action === "serve");
  assert.deepEqual(command.config.log, { level: "info", timestamps: false, name: undefined });
  assert.throws(
    () => parseServerArgs(["--log-level", "loud"], () => undefined),
    new UsageError('Invalid --log-level "loud": expected one of error, warn, info, debug'),
  );
});

/** A service on a fake upstream with `flags`, its log captured. */
async function serve(flags: string[]) {
  const upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "logging_test_" });
  const args = testServerArgs(`${dir}/db.sqlite`, upstream.baseUrl);
  const command = parseServerArgs(
    [...args, "--providers", "coingecko", "--refresh", "3600", ...flags],
    () => undefined,
  );
  assert.ok(command.action === "serve");
  const logs = new LogCapture();
  const service = await startService(command.config, { log: logs.log });
  return {
    logs,
    service,
    async [Symbol.asyncDispose]() {
      await service.shutdown();
      await upstream.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Sends a typo, then a malformed request, and waits for the latter's log line. */
async function typoThenBadJson(env: Awaited<ReturnType<typeof serve>>): Promise<void> {
  await using client = await LineClient.connect(env.service.addr.port);
  assert.equal((await client.request({ data: "MARKET NOPE" })).code, "UNKNOWN_COIN");
  await client.send("{not json\n");
  await client.readLine();
  await env.logs.waitFor(/BAD_JSON/);
}

Deno.test("at the default level a repeated ingestion and a typo are not logged", async () => {
  await using env = await serve([]);
  await env.logs.waitFor(/^ingested 10 coins/);
  await env.service.ingestor.runOnce();
  await env.service.ingestor.runOnce();
  await typoThenBadJson(env);
  assert.equal(env.logs.matching(/^ingested /).length, 1, env.logs.lines.join("\n"));
  assert.deepEqual(env.logs.matching(/UNKNOWN_COIN/), []);
});

Deno.test("at debug every ingestion and typo is logged, stamped and named", async () => {
  await using env = await serve(["--log-level", "debug", "--log-timestamps", "--name", "r-a"]);
  const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z r-a: /;
  await env.logs.waitFor(/ r-a: ingested 10 coins/);
  await env.service.ingestor.runOnce();
  await typoThenBadJson(env);
  assert.equal(env.logs.matching(/ r-a: ingested 10 coins/).length, 2);
  assert.equal(env.logs.matching(/ r-a: 127\.0\.0\.1:\d+ UNKNOWN_COIN: /).length, 1);
  for (const line of env.logs.lines) assert.match(line, stamp);
});

postgresTest("in cluster mode each line starts with the replica's address by default", async () => {
  await using pg = await PostgresCluster.start();
  await using env = await serve(["--db", pg.url]);
  const port = env.service.addr.port;
  await env.logs.waitFor(/ ingested 10 coins/, { timeoutMs: 30_000 });
  for (const line of env.logs.lines) assert.ok(line.startsWith(`127.0.0.1:${port}: `), line);
  // INFO names the replica too, so a client behind a balancer can tell which one answered.
  await using client = await LineClient.connect(port);
  const info = await client.request({ v: 2, data: "INFO" });
  const cluster = (info.data as { cluster: { role: string; name?: string } }).cluster;
  assert.equal(cluster.name, `127.0.0.1:${port}`);
  assert.equal(cluster.role, "leader");
});
