/**
 * One server replica in cluster mode: ties a {@linkcode ClusterMember} to the replica's market
 * (what it serves) and ingestor (what only the leader runs).
 *
 * @module
 */

import { abortableSleep } from "../util/abortable_sleep.ts";
import { ratesFrom } from "../server/currency.ts";
import type { Market } from "../server/market.ts";
import type { Repository } from "../storage/repository.ts";
import type { Snapshot } from "../wire/coin.ts";
import { ClusterMember } from "../cluster/cluster.ts";
import type { DeferredRepository } from "../cluster/deferred_repository.ts";

/** Options of {@linkcode startReplica}. */
export interface ReplicaOptions {
  /** `postgres://user:password@host:port/name`. */
  url: string;
  refreshMs: number;
  repository: DeferredRepository;
  market: Market;
  /** Started when this replica leads, stopped when it no longer does. */
  ingestor: { start(): void; stop(): Promise<void> };
  /** Called with each snapshot loaded from the database, e.g. to remember the primary's coins. */
  onLoaded?: (snapshot: Snapshot) => void;
  /** Called after each catch-up, loaded or not (a notice may be of other stored data). */
  afterCatchUp?: () => Promise<void>;
  log: (line: string) => void;
  /** How often a follower tries the lock; defaults to 2000 ms. */
  lockRetryMs?: number;
}

/** Starts competing for leadership and following the leader's snapshots; returns the member. */
export function startReplica(options: ReplicaOptions): ClusterMember {
  const { repository, market, ingestor, refreshMs } = options;
  // The first snapshot loaded is logged as SQLite mode logs its stored one; later ones are not
  // (one line per refresh on every follower would only repeat the leader's "ingested" lines).
  let announced = false;
  const member: ClusterMember = new ClusterMember({
    url: options.url,
    refreshMs,
    log: options.log,
    lockRetryMs: options.lockRetryMs,
    ready: () => repository.ready(),
    catchUp: async () => {
      const loaded = await catchUp(await repository.ready(), market);
      if (loaded !== null) {
        if (!announced) {
          announced = true;
          options.log(`serving ${loaded.coins.length} stored coins fetched at ${loaded.fetchedAt}`);
        }
        options.onLoaded?.(loaded);
      }
      await options.afterCatchUp?.().catch((error) =>
        options.log(`catching up with stored coins failed: ${(error as Error).message}`)
      );
      return market.snapshot?.fetchedAt ?? null;
    },
    lead: (signal) => {
      // The previous leader's last snapshot counts: ingestion resumes one interval after it, so
      // a takeover does not add an upstream request (and comes within --refresh of a death).
      const age = market.ageMs ?? refreshMs;
      abortableSleep(Math.max(0, refreshMs - age), signal).then(() => {
        if (!signal.aborted) ingestor.start();
      });
    },
    follow: () => ingestor.stop(),
  });
  member.start();
  return member;
}

/**
 * Serves the latest stored snapshot and exchange rates when they are newer than what `market`
 * serves; returns the snapshot when it was newer.
 */
export async function catchUp(repository: Repository, market: Market): Promise<Snapshot | null> {
  const latest = await repository.latestSnapshotTime();
  const served = market.snapshot?.fetchedAt ?? null;
  if (latest === null || (served !== null && Date.parse(latest) <= Date.parse(served))) {
    return null;
  }
  const [snapshot, rates] = await Promise.all([repository.loadSnapshot(), repository.loadRates()]);
  if (snapshot === null) return null;
  // Rates first, as the leader does, so the update events are encoded once with them.
  if (rates !== null && rates.fetchedAt !== market.rates?.fetchedAt) {
    market.updateRates(ratesFrom(rates.rates, rates.fetchedAt));
  }
  market.update(snapshot);
  return snapshot;
}
