/**
 * Issue 23: a record that fails validation costs only itself. Each provider whose parser
 * validates records is asked over real HTTP, through the provider chain as the server and
 * `deno task ingest` use it, by the hostile upstream.
 */
import assert from "node:assert/strict";
import { ProviderChain } from "../../lib/ingest/provider_chain.ts";
import { createProviders } from "../../lib/ingest/providers.ts";
import { UpstreamError } from "../../lib/ingest/upstream_error.ts";
import {
  BAD_SYMBOL,
  MOSTLY_BAD,
  OK_TICKERS,
  startHostileUpstream,
} from "../fakes/hostile_upstream.ts";
import { LogCapture } from "../helpers.ts";

const PROVIDERS = ["coingecko", "coinpaprika", "coinmarketcap"] as const;

for (const name of PROVIDERS) {
  Deno.test(`${name}: one bad coin is skipped and logged once, the rest is served; most bad fails the round`, async (t) => {
    await using upstream = await startHostileUpstream();
    const logs = new LogCapture();
    const { providers } = createProviders({
      providers: [name],
      apiUrl: `${upstream.url}/api/v3`,
      coinpaprikaUrl: upstream.url,
      cmcUrl: upstream.url,
      cmcKey: "test-key",
    });
    const chain = new ProviderChain({ providers, top: OK_TICKERS, log: logs.log });
    const signal = new AbortController().signal;
    const skips = () => logs.matching(/skipped/);
    const round = async () => (await chain.fetchCoins(signal)).coins.map((coin) => coin.symbol);
    const all = Array.from({ length: OK_TICKERS }, (_, i) => `C${i}`);

    await t.step("a bad symbol costs only its coin, and the skip names it and why", async () => {
      upstream.next = "bad_symbol";
      assert.deepEqual(await round(), all.filter((symbol) => symbol !== "C2"));
      assert.equal(skips().length, 1, logs.lines.join("\n"));
      assert.match(skips()[0], new RegExp(`^provider ${name} skipped 1 record .* kept the rest`));
      // Which coin (its place and its symbol, escaped) and why.
      assert.match(skips()[0], /invalid coin #3: symbol must be a word .* got "\\u202eADA"$/);
      assert.ok(!skips()[0].includes(BAD_SYMBOL), "the raw override reached the log");
    });

    await t.step("the same skip next round is not logged again", async () => {
      upstream.next = "bad_symbol";
      assert.equal((await round()).length, OK_TICKERS - 1);
      assert.equal(skips().length, 1, logs.lines.join("\n"));
    });

    await t.step(
      "a clean round serves every coin; a bad one after it is logged again",
      async () => {
        assert.deepEqual(await round(), all);
        upstream.next = "bad_symbol";
        assert.equal((await round()).length, OK_TICKERS - 1);
        assert.equal(skips().length, 2, logs.lines.join("\n"));
      },
    );

    await t.step("fewer than half valid: the round fails, saying why", async () => {
      upstream.next = "mostly_bad";
      const error = await chain.fetchCoins(signal).then(
        () => assert.fail("a round with most coins invalid succeeded"),
        (error: unknown) => error,
      );
      assert.ok(error instanceof UpstreamError, String(error));
      assert.match(
        error.message,
        new RegExp(`\\(${MOSTLY_BAD} of ${OK_TICKERS} records invalid, too many to trust`),
      );
      assert.match(error.message, /invalid coin #1: symbol must be a word .* got "\\u202eADA"/);
    });
  });
}
