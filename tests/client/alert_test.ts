/**
 * Alerts through the real client against the real server and a fake upstream whose price
 * crosses: one firing per crossing, also through a server restart; `--once`; `--exec`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startTestService, type TestService, withDeadline } from "../helpers.ts";
import { AlertState, parseCondition } from "../../lib/client/alert.ts";
import { splitCommand } from "../../lib/client/split_command.ts";
import { RunningClient } from "./_client_process.ts";

const FIXTURE = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));

/** Serves BTC at `price` from the next ingestion on, and runs one. */
async function ingestBtc(env: TestService, price: number): Promise<void> {
  recorded[0].current_price = price;
  env.upstream.setCoins(recorded);
  await env.service.ingestor.runOnce();
}

/** Waits until `env`'s server has answered `count` WATCH requests. */
async function watchRequests(env: TestService, count: number): Promise<void> {
  await withDeadline(
    (async () => {
      while ((env.service.server.stats.requests["WATCH"] ?? 0) < count) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    `${count} WATCH request(s) on port ${env.port}`,
    30_000,
  );
}

Deno.test("an alert fires when its condition becomes true, then only after crossing back", () => {
  const above = new AlertState(parseCondition(["above", "100"], 0));
  const seen = [90, 100, 101, 100, 99, 120, 120].map((p, i) => above.observe(p, i)?.price);
  assert.deepEqual(seen, [undefined, 100, undefined, undefined, undefined, 120, undefined]);
  const below = new AlertState(parseCondition(["below", "10"], 0));
  assert.deepEqual([5, 6, 11, 9].map((p) => below.observe(p, 0)?.price), [
    5,
    undefined,
    undefined,
    9,
  ]);
  // A move of 5% within 60 s, measured afresh after each firing; older prices leave the window.
  const change = new AlertState(parseCondition(["change", "5%"], 60_000));
  const moves = [[0, 100], [10_000, 104], [20_000, 105], [30_000, 108], [100_000, 113], [
    110_000,
    107,
  ]]
    .map(([t, p]) => change.observe(p, t)?.change_pct);
  assert.deepEqual(moves.map((m) => m === undefined ? m : Math.round(m * 100) / 100), [
    undefined,
    undefined,
    5,
    undefined,
    undefined,
    -5.31,
  ]);
});

Deno.test("--exec words are split without a shell", () => {
  assert.deepEqual(splitCommand(`notify-send 'BTC $HOME' "a \\"b\\"" c\\ d ;rm`), [
    "notify-send",
    "BTC $HOME",
    'a "b"',
    "c d",
    ";rm",
  ]);
  assert.throws(() => splitCommand("say 'unclosed"), /unclosed ' quote/);
});

Deno.test("an alert fires once per crossing, through a server restart in between", async () => {
  const first = await startTestService();
  const { port, dir, upstream } = first;
  await using alert = new RunningClient(["--port", String(port), "alert", "BTC", "above", "25000"]);
  await watchRequests(first, 1);
  await ingestBtc(first, 30000);
  await alert.waitForLines(/ ALERT BTC above \$25,000\.00: \$30,000\.00$/);

  // The server goes away and comes back on the same port with the same data; the price is
  // still above: the client reconnects and watches again, and must not fire again.
  await first.stop();
  await using second = await startTestService(["--port", String(port)], { upstream, dir });
  await watchRequests(second, 1);
  assert.match(alert.errLines.join("\n"), /reconnecting/);
  await ingestBtc(second, 30500);
  await ingestBtc(second, 20000);
  await ingestBtc(second, 31000);
  await alert.waitForLines(/: \$31,000\.00$/);
  assert.deepEqual(alert.lines.filter((l) => l.includes("ALERT")).map((l) => l.slice(21)), [
    "ALERT BTC above $25,000.00: $30,000.00",
    "ALERT BTC above $25,000.00: $31,000.00",
  ]);
});

Deno.test("--once exits 0 when the alert fires; --exec gets the alert in its environment", async () => {
  await using env = await startTestService();
  await using alert = new RunningClient([
    "--port",
    String(env.port),
    "--currency",
    "EUR",
    "alert",
    "eth",
    "below",
    "1000",
    "--once",
    "--exec",
    `sh -c 'env | grep ^CRYPTO_ALERT_ | sort'`,
  ]);
  await watchRequests(env, 1);
  // ETH starts at 1.168,45 € (1,355.37 USD), above the threshold: a firing before this would
  // have ended the client with that price.
  recorded[1].current_price = 1000;
  env.upstream.setCoins(recorded);
  await env.service.ingestor.runOnce();
  assert.equal(await alert.exitCode(), 0, alert.errLines.join("\n"));
  const vars = Object.fromEntries(
    alert.lines.filter((l) => l.startsWith("CRYPTO_ALERT_")).map((l) => l.split(/=(.*)/s, 2)),
  );
  assert.equal(vars.CRYPTO_ALERT_SYMBOL, "ETH");
  assert.equal(vars.CRYPTO_ALERT_CURRENCY, "EUR");
  assert.equal(vars.CRYPTO_ALERT_CONDITION, "below");
  assert.equal(vars.CRYPTO_ALERT_THRESHOLD, "1000");
  // 1000 USD in EUR at the fixture's rates.
  assert.ok(Math.abs(Number(vars.CRYPTO_ALERT_PRICE) - (1000 * 52922.867) / 61388.956) < 1e-6);
  assert.match(vars.CRYPTO_ALERT_TIME, /^\d{4}-\d\d-\d\dT/);
  assert.match(vars.CRYPTO_ALERT_MESSAGE, /ALERT ETH below €1,000\.00: €862\.09$/);
  assert.equal(alert.lines.filter((l) => /^\d{4}-.* ALERT ETH below/.test(l)).length, 1);
});
