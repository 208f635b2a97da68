/**
 * The metrics of the upstream budget and of coins beyond the top N: calls made and left per
 * provider, what the budget refused, the directory's size and the coins tracked on demand.
 *
 * @module
 */

import type { MetricRegistry, Sample } from "./registry.ts";

/** One provider's budget now, as the upstream budget reports it. */
export interface BudgetCounters {
  /** Calls a minute allowed now, or null for no limit (a loopback upstream). */
  readonly limit: number | null;
  /** Calls made in the last minute. */
  readonly made: number;
  /** Calls left in this minute, or null for no limit. */
  readonly left: number | null;
  /** Calls made since start. */
  readonly total: number;
  /** Calls refused because the budget was spent, since start. */
  readonly refused: number;
}

/** The coins beyond the top N. */
export interface LongTailCounters {
  /** Coins in the directory. */
  readonly directory: number;
  /** Coins beyond the top N being kept fresh. */
  readonly tracked: number;
  /** Batched upstream requests made for them. */
  readonly batches: number;
}

/** Where these metrics come from, read at each scrape. */
export interface LongTailSources {
  /** Each provider's budget, by provider name. */
  budget?(): Readonly<Record<string, BudgetCounters>>;
  /** The long tail, or null when it is off. */
  longTail?(): LongTailCounters | null;
}

/** Adds the budget's and the long tail's families to `registry`. */
export function longTailFamilies(registry: MetricRegistry, sources: LongTailSources): void {
  const perProvider = (pick: (b: BudgetCounters) => number | null) => (): Sample[] =>
    Object.entries(sources.budget?.() ?? {}).flatMap(([provider, budget]) => {
      const value = pick(budget);
      return value === null ? [] : [{ labels: { provider }, value }];
    });
  registry.collect(
    "crypto_upstream_budget_calls_per_minute",
    "Calls a minute each provider's budget allows now; absent for no limit.",
    "gauge",
    perProvider((b) => b.limit),
  );
  registry.collect(
    "crypto_upstream_budget_calls_made",
    "Calls made to each provider in the last minute.",
    "gauge",
    perProvider((b) => b.made),
  );
  registry.collect(
    "crypto_upstream_budget_calls_left",
    "Calls left in this minute's budget of each provider; absent for no limit.",
    "gauge",
    perProvider((b) => b.left),
  );
  registry.collect(
    "crypto_upstream_budget_refused_total",
    "Calls the budget refused because it was spent, by provider.",
    "counter",
    perProvider((b) => b.refused),
  );
  const tail = (pick: (t: LongTailCounters) => number) => (): Sample[] => {
    const counters = sources.longTail?.() ?? null;
    return counters === null ? [] : [{ value: pick(counters) }];
  };
  registry.collect(
    "crypto_directory_coins",
    "Coins in the coin directory.",
    "gauge",
    tail((t) => t.directory),
  );
  registry.collect(
    "crypto_tracked_coins",
    "Coins beyond the top N kept fresh because clients asked for them.",
    "gauge",
    tail((t) => t.tracked),
  );
  registry.collect(
    "crypto_on_demand_batches_total",
    "Batched upstream requests for coins beyond the top N.",
    "counter",
    tail((t) => t.batches),
  );
}
