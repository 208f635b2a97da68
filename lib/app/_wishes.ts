/**
 * The long tail in cluster mode: only the leader calls upstreams. A follower asked for a coin it
 * does not track records the wish in PostgreSQL (`coin_wishes`) and answers once the leader has
 * stored the coin (the stored coins' NOTIFY makes it load them); the leader takes the wishes
 * every half second and fetches them with its own look-ups, in the same batches. N replicas then
 * cost one upstream call per coin per refresh.
 *
 * @module
 */

import type { Repository, TrackedCoin } from "../storage/repository.ts";
import type { LongTail } from "../server/long_tail.ts";
import { brief } from "../ingest/failure_log.ts";

/** How often the leader takes the followers' wishes. */
export const WISH_POLL_MS = 500;
/**
 * How often a follower tells the leader again that a tracked coin is still asked for, so the
 * leader keeps it past `--track-for`.
 */
const REWISH_MS = 60 * 60 * 1000;

/** A follower's wishes, each waiting for its coin to be stored. */
export class FollowerWishes {
  readonly #repository: Repository;
  readonly #timeoutMs: number;
  readonly #waiting = new Map<string, Set<(coin: TrackedCoin) => void>>();
  readonly #wishedAt = new Map<string, number>();

  /** Wishes wait at most `timeoutMs` (`--upstream-timeout`). */
  constructor(repository: Repository, timeoutMs: number) {
    this.#repository = repository;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * What a follower does instead of fetching: records the wish and resolves with the coins once
   * stored (those already stored at once), or with what arrived by the deadline.
   */
  async fetch(ids: readonly string[]): Promise<TrackedCoin[]> {
    const arrived = new Map<string, TrackedCoin>();
    const all = Promise.withResolvers<void>();
    const handlers = ids.map((id) => {
      const handler = (coin: TrackedCoin) => {
        arrived.set(id, coin);
        if (arrived.size === ids.length) all.resolve();
      };
      const set = this.#waiting.get(id) ?? new Set();
      set.add(handler);
      this.#waiting.set(id, set);
      return [id, handler] as const;
    });
    const timer = setTimeout(all.resolve, this.#timeoutMs);
    try {
      await this.#repository.wishCoins(ids);
      for (const id of ids) this.#wishedAt.set(id, Date.now());
      // A coin another follower had wished is stored already, and no notice will come for it.
      this.arrived(await this.#repository.loadTracked());
      await all.promise;
    } finally {
      clearTimeout(timer);
      for (const [id, handler] of handlers) this.#waiting.get(id)?.delete(handler);
    }
    return [...arrived.values()];
  }

  /** Coins loaded from storage: the wishes they answer are answered. */
  arrived(coins: readonly TrackedCoin[]): void {
    for (const coin of coins) {
      const handlers = this.#waiting.get(coin.coin.id!);
      if (handlers === undefined) continue;
      for (const handler of handlers) handler(coin);
      if (handlers.size === 0) this.#waiting.delete(coin.coin.id!);
    }
  }

  /** A tracked coin was asked for: the leader hears of it at most once an hour. */
  asked(id: string): void {
    if (Date.now() - (this.#wishedAt.get(id) ?? 0) < REWISH_MS) return;
    this.#wishedAt.set(id, Date.now());
    this.#repository.wishCoins([id]).catch(() => {});
  }
}

/**
 * The leader's side: every {@linkcode WISH_POLL_MS} while `leads()`, takes the wishes and
 * fetches the coins not tracked yet (the fetch stores them, which tells the followers). On
 * becoming leader it tracks every stored coin, which the previous leader refreshed.
 */
export function serveWishes(
  repository: Repository,
  longTail: LongTail,
  leads: () => boolean,
  log: (line: string) => void,
): { stop(): void } {
  let leading = false;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    if (!leads()) {
      leading = false;
      return;
    }
    busy = true;
    try {
      if (!leading) longTail.refreshed(await repository.loadTracked(), true);
      leading = true;
      const ids = await repository.takeWishes();
      if (ids.length > 0) await longTail.want(ids);
    } catch (error) {
      log(`coins wished by followers not served: ${brief((error as Error).message)}`);
    } finally {
      busy = false;
    }
  }, WISH_POLL_MS);
  return { stop: () => clearInterval(timer) };
}
