import assert from "node:assert/strict";
import { ProviderChain } from "../../lib/ingest/provider_chain.ts";
import { type Provider } from "../../lib/ingest/providers.ts";
import { UpstreamError } from "../../lib/ingest/upstream_error.ts";
import { fixtureSnapshot } from "../helpers.ts";

Deno.test("the provider chain counts rounds, failures and requests by outcome", async () => {
  const { coins } = await fixtureSnapshot();
  // The first provider answers 503 (retried once at once), then 429, then well.
  const outcomes = [503, 503, 429, 0];
  const first: Provider = {
    name: "first",
    host: "first.test",
    fetchTop: (top) => {
      const status = outcomes.shift()!;
      if (status === 0) return Promise.resolve(coins.slice(0, top));
      return Promise.reject(new UpstreamError(`HTTP ${status}`, { status }));
    },
  };
  const second: Provider = {
    name: "second",
    host: "second.test",
    fetchTop: () => Promise.reject(new UpstreamError("Cannot reach second.test")),
  };
  const chain = new ProviderChain({
    providers: [first, second],
    top: 5,
    failureThreshold: 10,
    cooldownMs: 60_000,
    log: () => {},
    sleep: () => Promise.resolve(),
  });
  const signal = new AbortController().signal;
  for (let round = 0; round < 3; round++) await chain.fetchCoins(signal).catch(() => {});
  const counts = chain.counts.map(({ name, attempts, failures, calls }) => ({
    name,
    attempts,
    failures,
    calls: Object.fromEntries(calls),
  }));
  assert.deepEqual(counts, [
    { name: "first", attempts: 3, failures: 2, calls: { "503": 2, "429": 1, ok: 1 } },
    { name: "second", attempts: 2, failures: 2, calls: { error: 2 } },
  ]);
});
