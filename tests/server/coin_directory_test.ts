/**
 * The coin directory's index: look-ups by symbol and id, and SEARCH's order, on the generated
 * directory of ~17,000 coins. Searches run with every permission revoked: they touch no file and
 * no network.
 */

import assert from "node:assert/strict";
import { CoinDirectory, SEARCH_LIMIT } from "../../lib/server/coin_directory.ts";
import { directoryEntry } from "../../lib/ingest/coingecko_directory.ts";
import { coinList } from "./../fakes/coin_list.ts";

const list = await coinList();
const directory = new CoinDirectory(list.map(directoryEntry).filter((e) => e !== null));

Deno.test({
  name: "SEARCH on 17,000 coins: exact symbol, then symbol prefixes, then name words, bounded",
  permissions: "none",
  fn() {
    assert.ok(directory.size >= 17_000);
    const btc = directory.search("btc");
    assert.equal(btc[0].id, "bitcoin");
    assert.ok(btc.every((e) => e.symbol.startsWith("BTC") || /\bbtc/i.test(e.name)));
    const pep = directory.search("PeP");
    assert.deepEqual(pep.slice(0, 2).map((e) => e.id), ["pepe", "based-pepe"]);
    assert.ok(pep.length <= SEARCH_LIMIT);
    // "Pepe" by name: the symbol PEPE matched first, so name matches add only new coins.
    assert.equal(new Set(pep.map((e) => e.id)).size, pep.length);
    const byName = directory.search("dogwif");
    assert.deepEqual(byName.map((e) => e.id), ["dogwifcoin"]);
    for (const query of ["x", "a", "ko", "zen"]) {
      assert.equal(directory.search(query).length, SEARCH_LIMIT, query);
    }
    assert.deepEqual(directory.search("   "), []);
    assert.deepEqual(directory.search("no-such-coin-at-all"), []);
  },
});

Deno.test({
  name: "look-ups by symbol list every coin sharing it; ids match without regard to case",
  permissions: "none",
  fn() {
    assert.deepEqual(directory.bySymbol("PEPECOIN")[0].id, "pepecoin-network");
    assert.ok(directory.bySymbol("PEPE").length >= 2);
    assert.equal(directory.byId("PEPE")?.id, "pepe");
    assert.equal(directory.byId("nope"), undefined);
    assert.deepEqual(directory.bySymbol("NOPE"), []);
  },
});

Deno.test("build indexes a slice at a time, letting other work run, and answers as at once", async () => {
  const entries = list.map(directoryEntry).filter((e) => e !== null);
  // A task that reschedules itself counts the turns the event loop gets during the build.
  let turns = 0;
  let counting = true;
  const tick = () => {
    turns++;
    if (counting) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  const built = await CoinDirectory.build(entries, 1000);
  counting = false;
  assert.ok(turns >= Math.floor(entries.length / 1000) - 1, `${turns} turns`);
  for (const query of ["pep", "btc", "bit", "coin", "usd"]) {
    assert.deepEqual(built.search(query), directory.search(query), query);
  }
  assert.equal(built.size, directory.size);
});
