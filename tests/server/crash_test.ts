/**
 * Crashes and shutdown of the real `server.ts`: SIGKILL at random moments of rapid ingestion
 * never corrupts the database nor leaves a partial snapshot, a restart serves the last committed
 * one, and SIGTERM under load delivers every reply already requested, then exits 0.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { LineClient } from "../helpers.ts";
import { ServerProcess } from "../server_process.ts";

const KILLS = 20;

interface DbState {
  /** The served snapshot's fetched_at, or null when nothing was committed yet. */
  current: string | null;
  coins: number;
  snapshots: number;
}

/** Opens the database after a crash and checks everything that must hold. */
function inspect(path: string): DbState {
  using db = new DatabaseSync(path);
  const integrity = db.prepare("PRAGMA integrity_check").all().map((r) => ({ ...r }));
  assert.deepStrictEqual(integrity, [{ integrity_check: "ok" }]);
  const current = db.prepare("SELECT DISTINCT fetched_at FROM coins").all()
    .map((r) => (r as { fetched_at: string }).fetched_at);
  assert.ok(current.length <= 1, `coins from ${current.length} snapshots: ${current}`);
  const coins = Number((db.prepare("SELECT count(*) AS n FROM coins").get() as { n: number }).n);
  const groups = db.prepare(
    "SELECT fetched_at, count(*) AS n FROM price_history GROUP BY fetched_at ORDER BY fetched_at",
  ).all().map((r) => ({ ...(r as { fetched_at: string; n: number }) }));
  // No partial snapshot: every snapshot in the history has all its coins.
  for (const group of groups) assert.equal(group.n, coins, `snapshot ${group.fetched_at}`);
  // The served snapshot is the newest committed one.
  assert.equal(current[0] ?? null, groups.at(-1)?.fetched_at ?? null);
  return { current: current[0] ?? null, coins, snapshots: groups.length };
}

Deno.test(`SIGKILL during rapid ingestion, ${KILLS} times: the database stays whole`, async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "crypto-crash-" });
  const db = `${dir}/crypto.sqlite`;
  const args = ["--port", "0", "--db", db, "--api-url", upstream.baseUrl, "--refresh", "0.05"];
  let state: DbState = { current: null, coins: 0, snapshots: 0 };
  for (let i = 0; i < KILLS; i++) {
    await using server = new ServerProcess([...args, "--top", "100"]);
    await server.port();
    // The restart serves exactly what was committed before the last kill.
    const serving = server.output.matching(/^serving \d+ stored coins fetched at /);
    if (state.current === null) {
      assert.deepStrictEqual(serving, []);
    } else {
      assert.deepStrictEqual(serving, [
        `serving ${state.coins} stored coins fetched at ${state.current}`,
      ]);
    }
    // A random moment within the first few ingestions, each a ~100-row transaction.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
    server.kill("SIGKILL");
    assert.equal((await server.exited()).signal, "SIGKILL");
    const next = inspect(db);
    assert.ok(next.snapshots >= state.snapshots, "committed snapshots were lost");
    state = next;
  }
  // The kills did land among ingestions: many snapshots were committed in between.
  assert.ok(state.snapshots >= KILLS / 2, `only ${state.snapshots} snapshots committed`);

  // A last restart with the upstream down serves the last committed snapshot to clients.
  upstream.mode = "http500";
  await using server = new ServerProcess(args);
  const port = await server.port();
  await server.output.waitFor(/^ingestion failed/);
  await using client = await LineClient.connect(port);
  const btc = (await client.request({ status: "OK", data: "MARKET BTC", v: 2 })).data as {
    fetched_at: string;
    price: number;
  };
  assert.equal(btc.fetched_at, state.current);
  assert.equal(btc.price, 20220);
  client.close();
  server.kill("SIGTERM");
  assert.equal((await server.exited()).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SIGTERM under load: every reply already requested is delivered, then exit 0 within 5 s", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "crypto-term-" });
  await using server = new ServerProcess([
    "--port",
    "0",
    "--db",
    `${dir}/crypto.sqlite`,
    "--api-url",
    upstream.baseUrl,
    "--refresh",
    "0.05",
  ]);
  const port = await server.port();
  await server.output.waitFor(/^ingested/);
  const PIPELINED = 3000;
  const pipeliners = await Promise.all([1, 2, 3].map(() => LineClient.connect(port)));
  const idle = await LineClient.connect(port);
  const requests = [
    '{"status":"OK","data":"MARKET BTC"}',
    '{"status":"OK","data":"MARKET ETH","v":2}',
    '{"status":"OK","data":"MARKET NOPE"}',
  ];
  const batch = Array.from({ length: PIPELINED }, (_, i) => requests[i % 3] + "\n").join("");
  for (const client of pipeliners) await client.send(batch);
  // The first reply of each proves the server is reading its requests.
  for (const client of pipeliners) {
    assert.equal(await client.readLine(), '{"status":"OK","data":20220.0}');
  }
  server.kill("SIGTERM");
  const exited = server.exited();
  // Each client reads as it goes (all at once), as a pipelining client does.
  await Promise.all(pipeliners.map(async (client) => {
    for (let i = 1; i < PIPELINED; i++) {
      const reply = await client.readJson();
      if (i % 3 === 2) assert.equal(reply.code, "UNKNOWN_COIN", `reply ${i}`);
      else assert.equal(reply.status, "OK", `reply ${i}`);
    }
    assert.equal(await client.readLine(), null);
    client.close();
  }));
  // A connection with nothing requested is simply closed.
  assert.ok(await idle.closedByServer());
  idle.close();
  // Connections still busy 4 s after SIGTERM are closed; exited() has a deadline past that.
  const status = await exited;
  assert.equal(status.code, 0, server.output.lines.join("\n"));
  assert.equal(server.output.lines.at(-1), "stopped");
  await Deno.remove(dir, { recursive: true });
});
