/**
 * The upstream budget: the order it serves calls in, its window, a 429's penalty, and a service
 * that never spends more than `--upstream-budget` against a local CoinGecko.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CallPurpose,
  ProviderBudget,
  UpstreamBudget,
} from "../../lib/ingest/upstream_budget.ts";
import { parseServerArgs } from "../../lib/app/config.ts";
import { startService } from "../../lib/app/service.ts";
import { LineClient, LogCapture } from "../helpers.ts";
import { startFakeLongTailUpstream } from "../fakes/fake_long_tail_upstream.ts";

function takeAll(budget: ProviderBudget, purpose: CallPurpose): number {
  let n = 0;
  while (budget.take(purpose)) n++;
  return n;
}

Deno.test("the top N is served first, then on-demand coins, then the directory, never over", () => {
  let now = 1_000_000;
  const budget = new ProviderBudget(10, () => now);
  assert.equal(takeAll(budget, "directory"), 6, "4 calls are kept for prices");
  assert.equal(takeAll(budget, "on_demand"), 2, "2 calls are kept for the top N");
  assert.equal(takeAll(budget, "top"), 2);
  assert.deepEqual(
    { made: budget.status().made, left: budget.status().left, refused: budget.status().refused },
    { made: 10, left: 0, refused: 3 },
  );
  now += 59_999;
  assert.equal(budget.take("top"), false, "the window is a minute");
  now += 1;
  assert.equal(takeAll(budget, "top"), 10);
});

Deno.test("a 429 pauses a provider for its Retry-After, then halves its budget for a while", () => {
  let now = 1_000_000;
  const budget = new ProviderBudget(10, () => now);
  budget.throttle(30_000);
  assert.equal(budget.take("top"), false);
  assert.equal(budget.status().throttled_until, new Date(now + 60_000).toISOString());
  now += 30_000;
  assert.equal(takeAll(budget, "top"), 5);
  now += 60_000;
  assert.equal(budget.status().limit, 10);
  assert.equal(budget.status().throttled_until, null);
  // Without a limit (a loopback upstream), a 429 is left to the ingestor's backoff.
  const open = new ProviderBudget(null, () => now);
  for (let i = 0; i < 100; i++) assert.equal(open.take("directory"), true);
  open.throttle(30_000);
  assert.deepEqual([open.status().limit, open.status().throttled_until], [null, null]);
  assert.equal(open.take("directory"), true);
});

Deno.test("over a real socket: a 429 with Retry-After stops the next calls before they are sent", async () => {
  await using upstream = await startFakeLongTailUpstream({ count: 200 });
  const budget = new UpstreamBudget({ coingecko: { url: upstream.baseUrl, perMinute: 10 } });
  const get = budget.fetch("top");
  upstream.rateLimited = "30";
  const first = await get(`${upstream.baseUrl}/coins/list`);
  await first.body?.cancel();
  assert.equal(first.status, 429);
  await assert.rejects(get(`${upstream.baseUrl}/coins/list`), /coingecko upstream budget spent/);
  assert.equal(upstream.count("/coins/list"), 1, "the refused call was not sent");
  const status = budget.statuses().coingecko;
  assert.equal(status.limit, 5);
  assert.notEqual(status.throttled_until, null);
});

Deno.test("a service never spends more than --upstream-budget; INFO shows made and left", async () => {
  await using upstream = await startFakeLongTailUpstream();
  const dir = await Deno.makeTempDir({ prefix: "budget-" });
  const args = [
    "--port",
    "0",
    "--http-port",
    "0",
    "--db",
    join(dir, "db.sqlite"),
    "--api-url",
    upstream.baseUrl,
  ];
  const command = parseServerArgs(
    [...args, "--providers", "coingecko", "--upstream-budget", "7"],
    () => undefined,
  );
  if (command.action !== "serve") throw new TypeError("Test flags must start a server");
  const logs = new LogCapture();
  await using service = await startService(command.config, { log: logs.log });
  try {
    // The top N round (coins and rates, 2 calls) and the directory (the 3rd) fit in 7.
    await logs.waitFor(/^coin directory: \d+ coins/);
    await using client = await LineClient.connect(service.addr.port);
    const codes: string[] = [];
    for (const symbol of ["BONK", "FLOKI", "WIF"]) {
      const reply = await client.request({ v: 2, data: `MARKET ${symbol}` });
      codes.push(reply.status === "OK" ? "OK" : `${reply.code}: ${reply.data}`);
    }
    // Two on-demand calls leave the 2 kept for the next top N round; the third is refused.
    assert.deepEqual(codes.slice(0, 2), ["OK", "OK"]);
    assert.match(codes[2], /^NO_DATA: Cannot fetch WIF now: .*coingecko upstream budget spent/);
    const info = await client.request({ v: 2, data: "INFO" });
    const data = info.data as Record<string, Record<string, Record<string, unknown>>>;
    const budget = data.upstream_budget.coingecko;
    assert.deepEqual([budget.limit, budget.made, budget.left], [7, 5, 2]);
    let sent = 0;
    for (const n of upstream.counts.values()) sent += n;
    assert.equal(sent, 5);
    assert.equal(data.long_tail.tracked, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
