/**
 * Coins beyond the top N, end to end: the service in process against a local CoinGecko with a
 * directory of ~17,000 coins, a SQLite file, and clients over real sockets.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseServerArgs } from "../../lib/app/config.ts";
import { type Service, startService } from "../../lib/app/service.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { LineClient, LogCapture, withDeadline } from "../helpers.ts";
import {
  type FakeLongTailUpstream,
  startFakeLongTailUpstream,
} from "../fakes/fake_long_tail_upstream.ts";
import type { ListedCoin } from "../fakes/coin_list.ts";
import { runClient } from "../client_process.ts";

interface LongTailService extends AsyncDisposable {
  service: Service;
  upstream: FakeLongTailUpstream;
  logs: LogCapture;
  db: string;
  port: number;
}

/** The service with its directory fetched; `gatherMs` is how long look-ups are batched. */
async function start(flags: string[] = [], gatherMs = 1000): Promise<LongTailService> {
  const upstream = await startFakeLongTailUpstream();
  const dir = await Deno.makeTempDir({ prefix: "long-tail-" });
  const db = join(dir, "crypto.sqlite");
  const args = ["--port", "0", "--http-port", "0", "--db", db, "--api-url", upstream.baseUrl];
  args.push("--providers");
  const command = parseServerArgs([...args, "coingecko", ...flags], () => undefined);
  if (command.action !== "serve") throw new TypeError("Test flags must start a server");
  const logs = new LogCapture();
  const service = await startService(command.config, { log: logs.log, gatherMs });
  await logs.waitFor(/^coin directory: \d+ coins listed by coingecko$/);
  return {
    service,
    upstream,
    logs,
    db,
    port: service.addr.port,
    async [Symbol.asyncDispose]() {
      await service.shutdown();
      await upstream.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function ask(port: number, data: string, v = 2): Promise<Record<string, unknown>> {
  await using client = await LineClient.connect(port);
  return await client.request({ v, data });
}

/** Listed coins outside the top 100 whose symbol no other coin has. */
function uniqueLongTail(list: readonly ListedCoin[], count: number): ListedCoin[] {
  const bySymbol = new Map<string, number>();
  for (const c of list) bySymbol.set(c.symbol, (bySymbol.get(c.symbol) ?? 0) + 1);
  return list.slice(200).filter((c) => bySymbol.get(c.symbol) === 1).slice(0, count);
}

Deno.test("the directory is stored in the SQLite file and SEARCH answers from it", async () => {
  await using s = await start();
  await using repo = await SqliteRepository.open(s.db);
  const stored = await repo.loadDirectory("coingecko");
  assert.equal(stored?.entries.length, s.upstream.list.length);
  assert.ok(s.upstream.list.length >= 17_000);

  const reply = await ask(s.port, "SEARCH pep");
  assert.equal(reply.status, "OK");
  const found = reply.data as { id: string; symbol: string; name: string }[];
  assert.ok(found.length > 3 && found.length <= 20, `${found.length} results`);
  // No coin is called PEP: the symbols starting with it come first, shortest first, then names.
  assert.deepEqual(found.slice(0, 2).map((c) => c.id), ["pepe", "based-pepe"]);
  const group = (c: { symbol: string }) =>
    c.symbol === "PEP" ? 0 : c.symbol.startsWith("PEP") ? c.symbol.length : 99;
  const groups = found.map(group);
  assert.deepEqual(groups, [...groups].sort((a, b) => a - b));
  assert.equal(((await ask(s.port, "SEARCH btc")).data as { id: string }[])[0].id, "bitcoin");
  const bad = await ask(s.port, "SEARCH");
  assert.equal(bad.code, "BAD_REQUEST");
  // The same over HTTP.
  const http = `http://127.0.0.1:${s.service.httpAddr!.port}/api/v1/search`;
  assert.deepEqual(await (await fetch(`${http}?q=pep`)).json(), reply.data);
  for (const q of ["", "two%20words", "x".repeat(101)]) {
    const refused = await fetch(`${http}?q=${q}`);
    assert.equal(refused.status, 400, q);
    await refused.body?.cancel();
  }
});

Deno.test("1,000 concurrent MARKET requests for 50 long-tail coins cost one upstream request", async () => {
  await using s = await start();
  const coins = uniqueLongTail(s.upstream.list, 50);
  assert.equal(coins.length, 50);
  const clients = await Promise.all(
    Array.from({ length: 1000 }, () => LineClient.connect(s.port)),
  );
  try {
    const replies = await withDeadline(
      Promise.all(clients.map((client, i) => {
        const coin = coins[i % coins.length];
        return client.request({ v: 2, data: `MARKET ${coin.symbol}` }).then((r) => [coin, r]);
      })),
      "1,000 MARKET replies",
      60_000,
    );
    for (const [coin, reply] of replies as [ListedCoin, Record<string, unknown>][]) {
      assert.equal(reply.status, "OK", JSON.stringify(reply));
      const data = reply.data as Record<string, unknown>;
      assert.equal(data.id, coin.id);
      assert.equal(data.symbol, coin.symbol.toUpperCase());
      assert.equal(data.name, coin.name);
    }
  } finally {
    clients.forEach((client) => client.close());
  }
  assert.equal(s.upstream.idRequests.length, 1, "one /coins/markets?ids= request");
  assert.equal(new Set(s.upstream.idRequests[0]).size, 50);

  // Asked again: served from what is tracked, no upstream call.
  const again = await ask(s.port, `MARKET ${coins[0].symbol}`);
  assert.equal((again.data as { id: string }).id, coins[0].id);
  assert.equal(s.upstream.idRequests.length, 1);

  // Unknown symbols are answered at once from the directory, with no upstream call.
  const before = s.upstream.count("/coins/markets");
  await using client = await LineClient.connect(s.port);
  const burst = Array.from({ length: 300 }, (_, i) => `{"v":2,"data":"MARKET NOPE${i}"}\n`);
  await client.send(burst.join(""));
  for (let i = 0; i < burst.length; i++) {
    const reply = await client.readJson();
    assert.equal(reply.code, "UNKNOWN_COIN");
  }
  assert.equal(s.upstream.count("/coins/markets"), before);
});

Deno.test("an ambiguous symbol is the largest coin; id: names one; v1 MARKET ALL stays the top N", async () => {
  await using s = await start();
  const pepe = await ask(s.port, "MARKET PEPE");
  assert.equal((pepe.data as { id: string }).id, "pepe");
  const based = await ask(s.port, "MARKET id:based-pepe");
  assert.equal((based.data as { id: string }).id, "based-pepe");
  assert.equal((based.data as { symbol: string }).symbol, "PEPE");
  const v1 = await ask(s.port, "MARKET PEPE", 1);
  assert.equal(typeof v1.data, "number");
  const eur = await ask(s.port, "MARKET PEPE EUR");
  assert.equal((eur.data as { currency: string }).currency, "EUR");
  const all = await ask(s.port, "MARKET ALL", 1);
  assert.equal(Object.keys(all.data as object).length, 10);
  assert.ok(!("Pepe" in (all.data as object)));
  const unknownId = await ask(s.port, "MARKET id:no-such-coin");
  assert.equal(unknownId.code, "UNKNOWN_COIN");
  // Over HTTP: a coin beyond the top N, by symbol and by id.
  const http = `http://127.0.0.1:${s.service.httpAddr!.port}/api/v1/coins`;
  const byId = await fetch(`${http}/id:based-pepe?currency=eur`);
  assert.equal(byId.status, 200);
  const coin = await byId.json() as { id: string; currency: string };
  assert.deepEqual([coin.id, coin.currency], ["based-pepe", "EUR"]);
  assert.equal((await (await fetch(`${http}/pepe`)).json() as { id: string }).id, "pepe");
  const none = await fetch(`${http}/id:no-such-coin`);
  assert.equal(none.status, 404);
  await none.body?.cancel();
});

Deno.test("WATCH of a long-tail coin answers once fetched and streams its updates", async () => {
  await using s = await start(["--refresh", "0.3"], 10);
  await using client = await LineClient.connect(s.port);
  const first = await client.request({ v: 2, data: "WATCH BTC PEPE" });
  assert.equal(first.status, "OK", JSON.stringify(first));
  const [btc, pepe] = first.data as { symbol: string; id?: string; price: number }[];
  assert.equal(btc.symbol, "BTC");
  assert.equal(pepe.id, "pepe");
  s.upstream.generation = 5;
  const update = await withDeadline(
    (async () => {
      for (;;) {
        const line = await client.readJson();
        const data = line.data as { symbol: string; price: number };
        if (line.event === "update" && data.symbol === "PEPE") return data;
      }
    })(),
    "an update event for PEPE",
    10_000,
  );
  assert.ok(Math.abs(update.price / pepe.price - 1.05) < 1e-6, `${update.price} vs ${pepe.price}`);
});

Deno.test("on-demand fetches per client address are bounded", async () => {
  await using s = await start([], 10);
  const coins = uniqueLongTail(s.upstream.list, 70);
  const codes: string[] = [];
  for (const coin of coins) {
    const reply = await ask(s.port, `MARKET ${coin.symbol}`);
    codes.push(reply.status === "OK" ? "OK" : String(reply.code));
  }
  assert.deepEqual(codes.slice(0, 60), Array(60).fill("OK"));
  assert.deepEqual(codes.slice(60), Array(10).fill("BUSY"));
  // Coins already tracked are still answered.
  assert.equal((await ask(s.port, `MARKET ${coins[0].symbol}`)).status, "OK");
});

Deno.test("the client's search, price and --json of long-tail coins", async () => {
  await using s = await start([], 10);
  const [searchCode, search] = await runClient(s.port, ["search", "pep"]);
  assert.equal(searchCode, 0, search);
  const lines = search.trim().split("\n");
  assert.match(lines[0], /^PEPE\s+Pepe\s+\(id:pepe\)$/);
  assert.match(lines[1], /^PEPE\s+Based Pepe\s+\(id:based-pepe\)$/);
  const [priceCode, price] = await runClient(s.port, ["price", "PEPE"]);
  assert.equal(priceCode, 0, price);
  // The name alone: it is the symbol (lib/text/format_coin.ts's title).
  assert.match(price, /^Pepe\n/);
  assert.match(price, /Rank\s+#120/);
  const [jsonCode, json] = await runClient(s.port, ["--json", "price", "id:based-pepe"]);
  assert.equal(jsonCode, 0, json);
  assert.equal(JSON.parse(json).name, "Based Pepe");
  const [unknownCode, unknown] = await runClient(s.port, ["price", "NOPE123"]);
  assert.equal(unknownCode, 1);
  assert.match(unknown, /No coin with symbol NOPE123/);
});
