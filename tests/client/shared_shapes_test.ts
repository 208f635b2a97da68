/**
 * The client reads the server's replies with the shapes in `lib/wire/`: what a real service
 * sends must pass those checkers, field for field.
 */
import assert from "node:assert/strict";
import { isCoinView } from "../../lib/wire/coin_view.ts";
import { isInfoReport } from "../../lib/wire/info_report.ts";
import { LineClient, startTestService } from "../helpers.ts";

Deno.test("a real server's v2 coin objects and INFO report pass the shared checkers", async (t) => {
  await using svc = await startTestService();
  await using client = await LineClient.connect(svc.port);
  const ask = (data: string) => client.request({ status: "OK", data, v: 2 });

  await t.step("MARKET ALL in USD and in another currency", async () => {
    for (const command of ["MARKET ALL", "MARKET ALL EUR"]) {
      const reply = await ask(command);
      assert.equal(reply.status, "OK", JSON.stringify(reply));
      const coins = reply.data as unknown[];
      assert.ok(coins.length > 0);
      for (const coin of coins) assert.ok(isCoinView(coin), `${command}: ${JSON.stringify(coin)}`);
    }
  });
  await t.step("MARKET of one coin and WATCH", async () => {
    const one = await ask("MARKET BTC");
    assert.ok(isCoinView(one.data), JSON.stringify(one.data));
    const watched = await ask("WATCH BTC ETH");
    assert.ok((watched.data as unknown[]).every(isCoinView), JSON.stringify(watched.data));
  });
  await t.step("INFO", async () => {
    const info = await ask("INFO");
    assert.ok(isInfoReport(info.data), JSON.stringify(info.data));
  });
  await t.step("the checkers refuse a field of the wrong type", async () => {
    const one = (await ask("MARKET BTC")).data as Record<string, unknown>;
    assert.ok(!isCoinView({ ...one, stale: "no" }));
    assert.ok(!isCoinView({ ...one, market_cap: "1" }));
    const info = (await ask("INFO")).data as Record<string, unknown>;
    assert.ok(!isInfoReport({ ...info, cluster: { role: "boss" } }));
    assert.ok(!isInfoReport({ ...info, providers: [{ name: "x" }] }));
  });
});
