/**
 * How history is stored on both engines so that a `HISTORY` over any range reads a bounded
 * number of rows, whatever the refresh interval: every ingested price also updates one bucket
 * per resolution (5 s, 1 min, 10 min, 1 h) with the bucket's last price, count, minimum and
 * maximum. A query reads the finest resolution that covers its window in at most ~1,500 rows.
 * Finer resolutions are thinned by age (kept 2 h, 25 h, 8 days); the hourly buckets and the
 * exact raw prices (kept 2 h) follow the retention.
 *
 * For example, 30 days at a 1 s refresh is 2.6 M prices for one coin; the hourly buckets hold 720
 * rows for it, and the 30-day query reads those 720 rows, not 2.6 M.
 *
 * @module
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A resolution: bucket width in seconds, and how long its buckets are kept (by age). */
export interface RollupLevel {
  readonly step: number;
  readonly keepMs: number;
}

/** Resolutions, finest first; a window of `keepMs` or less is answered from that resolution. */
export const ROLLUP_LEVELS: readonly RollupLevel[] = [
  { step: 5, keepMs: 2 * HOUR },
  { step: 60, keepMs: 25 * HOUR },
  { step: 600, keepMs: 8 * DAY },
  { step: 3600, keepMs: Infinity },
];

/** How long exact prices (with their decimal text) are kept. */
const RAW_KEEP_MS = 2 * HOUR;

/** The resolution (bucket width in seconds) that answers a window of `windowMs`. */
function stepFor(windowMs: number): number {
  return (ROLLUP_LEVELS.find((level) => windowMs <= level.keepMs) ?? ROLLUP_LEVELS.at(-1)!).step;
}

/** The start, in seconds since the epoch, of the `step`-second bucket holding `atIso`. */
export function bucketOf(atIso: string, step: number): number {
  return Math.floor(Date.parse(atIso) / 1000 / step) * step;
}

/**
 * What a history query reads: the resolution, and the first bucket that can hold a price at or
 * after `sinceIso` (the bucket holding `sinceIso` itself, i.e. buckets after `fromBucket`).
 */
export function historyWindow(
  latestIso: string,
  sinceIso: string,
): { step: number; afterBucket: number } {
  const step = stepFor(Date.parse(latestIso) - Date.parse(sinceIso));
  return { step, afterBucket: bucketOf(sinceIso, step) - step };
}

/** Checks `maxPoints` of a history query. */
export function checkMaxPoints(maxPoints: number): void {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`Cannot thin history to ${maxPoints} points: expected an integer >= 2`);
  }
}

/** Checks `batchSize` of a prune. */
export function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Cannot prune in batches of ${batchSize}: expected an integer >= 1`);
  }
}

/**
 * What a prune deletes: rows older than the retention (`beforeIso`), and rows of the finer
 * resolutions (and raw prices) older than they are kept, counted back from the latest snapshot.
 */
export function pruneCutoffs(
  latestIso: string | null,
  beforeIso: string,
): { raw: string; byStep: [number, string][] } {
  const before = Date.parse(beforeIso);
  const latest = latestIso === null ? -Infinity : Date.parse(latestIso);
  const cutoff = (keepMs: number) => new Date(Math.max(before, latest - keepMs)).toISOString();
  return {
    raw: cutoff(RAW_KEEP_MS),
    byStep: ROLLUP_LEVELS.map((level) => [level.step, cutoff(level.keepMs)]),
  };
}

/** A bucket as a history query reads it; `i` is its place in the window of `n` buckets. */
export interface Bucket {
  first_at: string;
  first_price: number;
  last_at: string;
  price: number;
  i: number | bigint | string;
  n: number | bigint | string;
}

/**
 * The points of thinned buckets: each bucket is drawn at its last price, except the window's
 * first bucket, drawn at its first price (and, when it is also the last one, at both).
 */
export function seriesPoints(rows: readonly Bucket[]): [string, number][] {
  const points: [string, number][] = [];
  for (const r of rows) {
    const i = Number(r.i);
    if (i === 0) points.push([r.first_at, r.first_price]);
    if (i > 0 || (Number(r.n) === 1 && r.last_at !== r.first_at)) points.push([r.last_at, r.price]);
  }
  return points;
}

/** The snapshot must have coins. */
export function checkSnapshotCoins(count: number): void {
  if (count === 0) {
    throw new RangeError("Cannot save a snapshot without coins: expected at least one coin");
  }
}
