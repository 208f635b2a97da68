/**
 * Coins beyond the top N: the directory says which symbols and ids exist, and a coin asked for
 * that the snapshot does not hold is fetched on demand. Every id asked for in the same moment
 * goes into one batched upstream request; a client waits only for its own coin; the coins are
 * then kept fresh with each ingestion while they are asked for, and dropped after a quiet period.
 *
 * @module
 */

import type { DirectoryEntry } from "../wire/coin.ts";
import { ID_PREFIX } from "../wire/limits.ts";
import type { TrackedCoin } from "../storage/repository.ts";
import { CoinDirectory } from "./coin_directory.ts";

/** A coin being served from the long tail, with when it was last asked for. */
export interface Tracked extends TrackedCoin {
  askedAtMs: number;
}

/** What a key (`PEPE` or `ID:PEPE`) outside the snapshot names now. */
export type Lookup =
  | { kind: "coin"; tracked: Tracked }
  | { kind: "pending"; promise: Promise<Tracked | string> }
  | { kind: "unknown" }
  | { kind: "refused"; message: string };

/** Options of a {@linkcode LongTail}. */
export interface LongTailOptions {
  /**
   * Fetches (and stores) the coins of these ids, at most {@linkcode MAX_BATCH} a call; ids the
   * upstream does not know are missing from the result. Throws when the upstream fails.
   */
  fetch: (ids: string[]) => Promise<TrackedCoin[]>;
  /** How long an answer waits for its fetch (`--upstream-timeout`). */
  timeoutMs: number;
  /** How long a coin stays tracked after it was last asked for (`--track-for`). */
  trackForMs: number;
  /** Coins tracked at most (`--max-tracked`); the least recently asked goes first. */
  maxTracked: number;
  /** Ids one client address may have fetched per minute. */
  perAddressPerMinute: number;
  /** How long ids are gathered into one request after the first; defaults to 10 ms. */
  gatherMs?: number;
  /** Told of each look-up answered from a tracked coin (a follower tells its leader). */
  onAsked?: (id: string) => void;
  now?: () => number;
}

/** Ids gathered for one upstream request, and its outcome (the coins, or why there are none). */
interface Gathering {
  ids: Set<string>;
  done: PromiseWithResolvers<Map<string, TrackedCoin> | string>;
}

/** CoinGecko's `/coins/markets` takes at most this many ids. */
export const MAX_BATCH = 250;
/** Coins sharing a symbol fetched to choose among them: enough for every real symbol's top. */
const MAX_CANDIDATES = 25;
const MINUTE_MS = 60_000;

/** The coins outside the snapshot: the directory, what is tracked, what is being fetched. */
export class LongTail {
  readonly #options: LongTailOptions;
  readonly #now: () => number;
  #directory = new CoinDirectory([]);
  readonly #tracked = new Map<string, Tracked>();
  /** Which id an ambiguous symbol resolved to, while that coin is tracked. */
  readonly #resolved = new Map<string, string>();
  /** Ids waiting for the next batch, and ids of batches in flight, with their outcome. */
  readonly #fetching = new Map<string, Promise<TrackedCoin | string>>();
  #gathered:
    | { ids: Set<string>; done: PromiseWithResolvers<Map<string, TrackedCoin> | string> }
    | null = null;
  readonly #byAddress = new Map<string, { since: number; count: number }>();
  /** Upstream requests made for coins asked for, for `INFO`. */
  batches = 0;

  constructor(options: LongTailOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The directory in use. */
  get directory(): CoinDirectory {
    return this.#directory;
  }

  /** How many coins are tracked. */
  get trackedCount(): number {
    return this.#tracked.size;
  }

  /** Indexes a new directory, serving the one before until it is ready. */
  async setDirectory(entries: readonly DirectoryEntry[]): Promise<void> {
    this.#directory = await CoinDirectory.build(entries);
  }

  /** The ids to keep fresh, dropping those no one asked for within `--track-for`. */
  trackedIds(): string[] {
    const cutoff = this.#now() - this.#options.trackForMs;
    for (const [id, tracked] of this.#tracked) {
      if (tracked.askedAtMs < cutoff) this.#forget(id);
    }
    return [...this.#tracked.keys()];
  }

  /**
   * Takes fresh data of coins (a refresh, or coins stored by another replica); returns those
   * whose price, market cap or change moved, to tell their watchers.
   */
  refreshed(coins: readonly TrackedCoin[], track = false): Tracked[] {
    const changed: Tracked[] = [];
    for (const fresh of coins) {
      const id = fresh.coin.id!;
      const old = this.#tracked.get(id);
      if (old === undefined && !track) continue;
      const tracked = { ...fresh, askedAtMs: old?.askedAtMs ?? this.#now() };
      this.#tracked.set(id, tracked);
      const c = old?.coin;
      if (
        c === undefined || c.priceText !== fresh.coin.priceText ||
        c.marketCapText !== fresh.coin.marketCapText || c.change24h !== fresh.coin.change24h
      ) changed.push(tracked);
    }
    this.#evict();
    return changed;
  }

  /** The keys a tracked coin is watched under: `ID:<id>`, and its symbol if it resolves to it. */
  keysOf(tracked: Tracked): string[] {
    const id = tracked.coin.id!;
    const keys = [ID_PREFIX + id.toUpperCase()];
    if (this.#resolved.get(tracked.coin.symbol) === id) keys.push(tracked.coin.symbol);
    return keys;
  }

  /** What `key` (a symbol or `ID:id`, upper case) names, for a client at `address`. */
  lookup(key: string, address: string): Lookup {
    const candidates = this.#candidates(key);
    if (candidates.length === 0) return { kind: "unknown" };
    const resolved = key.startsWith(ID_PREFIX) ? candidates[0].id : this.#resolved.get(key);
    const known = resolved === undefined ? undefined : this.#tracked.get(resolved);
    if (known !== undefined) {
      known.askedAtMs = this.#now();
      this.#options.onAsked?.(known.coin.id!);
      return { kind: "coin", tracked: known };
    }
    const ids = candidates.slice(0, MAX_CANDIDATES).map((entry) => entry.id);
    const fresh = ids.filter((id) => !this.#fetching.has(id));
    if (fresh.length > 0 && !this.#allow(address, fresh.length)) {
      return {
        kind: "refused",
        message: `Too many look-ups of coins outside the top N from ${hostOf(address)}: ` +
          `at most ${this.#options.perAddressPerMinute} a minute, try again shortly`,
      };
    }
    const outcomes = ids.map((id) => this.#fetch(id));
    return { kind: "pending", promise: this.#choose(key, outcomes) };
  }

  /**
   * Coins another replica was asked for (by id): those tracked count as asked for now, the
   * others are fetched with the next batch and tracked. Resolves once they are.
   */
  async want(ids: readonly string[]): Promise<void> {
    const now = this.#now();
    const missing = ids.filter((id) => {
      const tracked = this.#tracked.get(id);
      if (tracked !== undefined) tracked.askedAtMs = now;
      return tracked === undefined && this.#directory.byId(id) !== undefined;
    });
    const outcomes = await Promise.all(missing.map((id) => this.#fetch(id)));
    this.refreshed(outcomes.filter((outcome) => typeof outcome !== "string"), true);
  }

  /** SEARCH: matching coins of the directory. */
  search(query: string): DirectoryEntry[] {
    return this.#directory.search(query);
  }

  #candidates(key: string): readonly DirectoryEntry[] {
    if (!key.startsWith(ID_PREFIX)) return this.#directory.bySymbol(key);
    const entry = this.#directory.byId(key.slice(ID_PREFIX.length));
    return entry === undefined ? [] : [entry];
  }

  /** Whether `address` may start `count` more fetches this minute; counts them if so. */
  #allow(address: string, count: number): boolean {
    const host = hostOf(address);
    const now = this.#now();
    let window = this.#byAddress.get(host);
    if (window === undefined || now - window.since >= MINUTE_MS) {
      if (this.#byAddress.size > 10_000) this.#byAddress.clear();
      window = { since: now, count: 0 };
      this.#byAddress.set(host, window);
    }
    // A single look-up is always allowed a first time, however many coins share its symbol.
    if (window.count > 0 && window.count + count > this.#options.perAddressPerMinute) return false;
    window.count += count;
    return true;
  }

  /** The largest coin by market cap among the fetched candidates, tracked from now on. */
  async #choose(key: string, outcomes: Promise<TrackedCoin | string>[]): Promise<Tracked | string> {
    const { promise: timeout, resolve } = Promise.withResolvers<string>();
    const timer = setTimeout(
      () => resolve(`the upstream did not answer within ${this.#options.timeoutMs / 1000} s`),
      this.#options.timeoutMs,
    );
    try {
      const settled = await Promise.race([Promise.all(outcomes), timeout]);
      if (typeof settled === "string") return settled;
      const coins = settled.filter((outcome) => typeof outcome !== "string");
      if (coins.length === 0) {
        return settled.find((outcome) => typeof outcome === "string") ??
          "the upstream has no price for it";
      }
      const best = coins.reduce((a, b) =>
        (b.coin.marketCap ?? -1) > (a.coin.marketCap ?? -1) ? b : a
      );
      const id = best.coin.id!;
      if (!key.startsWith(ID_PREFIX)) this.#resolved.set(key, id);
      const tracked = this.#tracked.get(id) ?? { ...best, askedAtMs: this.#now() };
      tracked.askedAtMs = this.#now();
      this.#tracked.set(id, tracked);
      this.#evict();
      return tracked;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The outcome of fetching `id`: with the batch gathering now, or the one in flight. */
  #fetch(id: string): Promise<TrackedCoin | string> {
    const pending = this.#fetching.get(id);
    if (pending !== undefined) return pending;
    if (this.#gathered === null || this.#gathered.ids.size >= MAX_BATCH) {
      const gathered = {
        ids: new Set<string>(),
        done: Promise.withResolvers<Map<string, TrackedCoin> | string>(),
      };
      this.#gathered = gathered;
      setTimeout(() => this.#flush(gathered), this.#options.gatherMs ?? 10);
    }
    const gathered = this.#gathered;
    gathered.ids.add(id);
    const outcome = gathered.done.promise.then((result) =>
      typeof result === "string" ? result : result.get(id) ?? "the upstream has no price for it"
    );
    this.#fetching.set(id, outcome);
    return outcome;
  }

  async #flush(gathered: Gathering): Promise<void> {
    if (this.#gathered === gathered) this.#gathered = null;
    const ids = [...gathered.ids];
    try {
      this.batches++;
      const coins = await this.#options.fetch(ids);
      gathered.done.resolve(new Map(coins.map((coin) => [coin.coin.id!, coin])));
    } catch (error) {
      gathered.done.resolve(`the upstream failed: ${(error as Error).message}`);
    } finally {
      for (const id of ids) this.#fetching.delete(id);
    }
  }

  #evict(): void {
    if (this.#tracked.size <= this.#options.maxTracked) return;
    const byAge = [...this.#tracked.values()].sort((a, b) => a.askedAtMs - b.askedAtMs);
    for (const tracked of byAge.slice(0, this.#tracked.size - this.#options.maxTracked)) {
      this.#forget(tracked.coin.id!);
    }
  }

  #forget(id: string): void {
    const tracked = this.#tracked.get(id);
    this.#tracked.delete(id);
    if (tracked !== undefined && this.#resolved.get(tracked.coin.symbol) === id) {
      this.#resolved.delete(tracked.coin.symbol);
    }
  }
}

/** The host part of `host:port` (IPv6 in brackets or not). */
function hostOf(address: string): string {
  const colon = address.lastIndexOf(":");
  return colon <= 0 ? address : address.slice(0, colon).replace(/^\[|\]$/g, "");
}
