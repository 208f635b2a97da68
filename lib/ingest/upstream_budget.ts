/**
 * The upstream budget: calls per minute per provider, spent on the top N refresh first, then on
 * coins asked for on demand, then on the coin directory, never over it. A `429` or a
 * `Retry-After` shrinks it for a while. Every request to a provider goes through
 * {@linkcode UpstreamBudget.fetch}, which refuses a call the budget cannot pay for before it is
 * made.
 *
 * @module
 */

import { UpstreamError } from "./upstream_error.ts";
import { parseRetryAfter } from "./upstream_http.ts";

/** What a call is for, in the order the budget serves them. */
export type CallPurpose = "top" | "on_demand" | "directory";

/**
 * Calls a minute each provider allows without a key: CoinGecko's public API about 10 (5 to 15
 * depending on load), CoinPaprika's free API far more, CoinMarketCap's basic plan 30.
 */
export const DEFAULT_BUDGETS: Readonly<Record<string, number>> = {
  coingecko: 10,
  coinpaprika: 20,
  coinmarketcap: 30,
};
/** CoinGecko's demo key allows 30 calls a minute. */
export const COINGECKO_KEY_BUDGET = 30;

/** Calls kept for the next top N round (its coins and its exchange rates). */
const TOP_RESERVE = 2;
/** Calls kept for coins asked for, over the top N's, before the directory may spend one. */
const ON_DEMAND_RESERVE = 2;
const MINUTE_MS = 60_000;
/** How long a 429 without a `Retry-After` shrinks the budget. */
const DEFAULT_PENALTY_MS = 60_000;

/** One provider's budget and what it spent, for `INFO` and `/metrics`. */
export interface BudgetStatus {
  /** Calls a minute allowed now (shrunk after a 429), or null for no limit. */
  limit: number | null;
  /** Calls made in the last minute. */
  made: number;
  /** Calls left in the last minute's window, or null for no limit. */
  left: number | null;
  /** Calls made since start. */
  total: number;
  /** Calls refused because the budget was spent, since start. */
  refused: number;
  /** Until when a 429 shrank the budget (ISO-8601), or null. */
  throttled_until: string | null;
}

/** One provider's calls per minute. */
export class ProviderBudget {
  readonly #limit: number | null;
  readonly #now: () => number;
  /** When each call of the last minute was made, oldest first. */
  readonly #calls: number[] = [];
  #total = 0;
  #refused = 0;
  /** Until when no call is made at all (`Retry-After`), and until when the limit is halved. */
  #blockedUntil = 0;
  #shrunkUntil = 0;
  #shrunkLimit = 0;

  /** `limit` calls a minute; null for none. */
  constructor(limit: number | null, now: () => number = Date.now) {
    this.#limit = limit;
    this.#now = now;
  }

  /** Takes one call for `purpose` if the budget allows it; returns whether it did. */
  take(purpose: CallPurpose): boolean {
    const now = this.#now();
    this.#expire(now);
    if (now < this.#blockedUntil) return this.#refuse();
    const limit = this.#currentLimit(now);
    const keep = purpose === "top" ? 0 : purpose === "on_demand" ? TOP_RESERVE : TOP_RESERVE +
      ON_DEMAND_RESERVE;
    // A budget too small for the reserves still serves each purpose once a minute at most.
    if (limit !== null && this.#calls.length + 1 + Math.min(keep, limit - 1) > limit) {
      return this.#refuse();
    }
    this.#calls.push(now);
    this.#total++;
    return true;
  }

  /**
   * The upstream answered 429 or asked to wait: no call for `retryAfterMs`, half as many after.
   * A provider without a limit (a loopback upstream) is left to the ingestor's own backoff.
   */
  throttle(retryAfterMs: number | undefined): void {
    if (this.#limit === null) return;
    const now = this.#now();
    this.#expire(now);
    const wait = retryAfterMs ?? 0;
    this.#blockedUntil = Math.max(this.#blockedUntil, now + wait);
    this.#shrunkLimit = Math.max(1, Math.floor(this.#currentLimit(now)! / 2));
    this.#shrunkUntil = now + Math.max(wait, DEFAULT_PENALTY_MS);
  }

  /** What was spent and what is left. */
  status(): BudgetStatus {
    const now = this.#now();
    this.#expire(now);
    const limit = this.#currentLimit(now);
    const until = Math.max(this.#blockedUntil, this.#shrunkUntil);
    return {
      limit,
      made: this.#calls.length,
      left: limit === null ? null : Math.max(0, limit - this.#calls.length),
      total: this.#total,
      refused: this.#refused,
      throttled_until: until > now ? new Date(until).toISOString() : null,
    };
  }

  #currentLimit(now: number): number | null {
    if (this.#limit === null || now >= this.#shrunkUntil) return this.#limit;
    return Math.min(this.#limit, this.#shrunkLimit);
  }

  #expire(now: number): void {
    let spent = 0;
    while (spent < this.#calls.length && this.#calls[spent] <= now - MINUTE_MS) spent++;
    if (spent > 0) this.#calls.splice(0, spent);
  }

  #refuse(): false {
    this.#refused++;
    return false;
  }
}

/** The budgets of every provider, and the `fetch` that spends them. */
export class UpstreamBudget {
  readonly #budgets = new Map<string, ProviderBudget>();
  /** Base URLs to provider names, longest first so a nested path wins. */
  readonly #origins: [string, string][];
  readonly #fetch: typeof fetch;

  /**
   * `providers` maps each provider's name to its base URL and calls a minute (null: no limit);
   * `inner` makes the calls.
   */
  constructor(
    providers: Record<string, { url: string; perMinute: number | null }>,
    inner: typeof fetch = globalThis.fetch,
    now: () => number = Date.now,
  ) {
    for (const [name, { perMinute }] of Object.entries(providers)) {
      this.#budgets.set(name, new ProviderBudget(perMinute, now));
    }
    this.#origins = Object.entries(providers).map(([name, { url }]) =>
      [url.replace(/\/+$/, ""), name] as [string, string]
    ).sort((a, b) => b[0].length - a[0].length);
    this.#fetch = inner;
  }

  /** Each provider's status, by name. */
  statuses(): Record<string, BudgetStatus> {
    return Object.fromEntries([...this.#budgets].map(([name, b]) => [name, b.status()]));
  }

  /**
   * A `fetch` for calls of `purpose`: one the budget of the URL's provider cannot pay for fails
   * with an {@linkcode UpstreamError} before anything is sent; a `429` or a `Retry-After`
   * answered throttles that provider.
   */
  fetch(purpose: CallPurpose): typeof fetch {
    return async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const provider = this.#origins.find(([origin]) => url.startsWith(origin))?.[1];
      const budget = provider === undefined ? undefined : this.#budgets.get(provider);
      if (budget !== undefined && !budget.take(purpose)) {
        const { left, limit } = budget.status();
        throw new UpstreamError(
          `${provider} upstream budget spent: ${limit} calls a minute, ${left} left, kept ` +
            `for ${purpose === "directory" ? "prices" : "the top coins"}`,
        );
      }
      const response = await this.#fetch(input, init);
      const retryAfter = response.headers.get("retry-after");
      if (budget !== undefined && (response.status === 429 || retryAfter !== null)) {
        budget.throttle(parseRetryAfter(retryAfter));
      }
      return response;
    };
  }
}
