/**
 * Retry delays: exponential backoff with "equal jitter".
 *
 * The un-jittered delay is `baseMs * 2 ** (attempt - 1)` capped at `maxMs` (by default 1 s, 2 s,
 * 4 s, … up to 5 min). The result is uniformly drawn from `[d / 2, d]`: half the delay is kept so
 * a failing upstream is never hammered, and the other half is random so many servers that failed
 * together do not retry in lockstep.
 *
 * @module
 */

/** Options of {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter; defaults to 1000 ms. */
  baseMs?: number;
  /** Upper bound of the delay; defaults to 300 000 ms (5 min). */
  maxMs?: number;
  /** A source of numbers in `[0, 1)`; defaults to `Math.random`. */
  random?: () => number;
}

/** Default delay before the first retry. */
const DEFAULT_BASE_MS = 1000;
/** Default upper bound of a retry delay. */
const DEFAULT_MAX_MS = 5 * 60 * 1000;

/**
 * The delay in whole milliseconds before retry number `attempt` (1 = the first retry).
 *
 * @throws {RangeError} when `attempt` is not an integer of at least 1, or the options are invalid.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = DEFAULT_BASE_MS, maxMs = DEFAULT_MAX_MS, random = Math.random } = options;
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(
      `Cannot compute a backoff for attempt ${attempt}: expected an integer >= 1`,
    );
  }
  if (!(baseMs > 0) || !(maxMs >= baseMs) || !Number.isFinite(maxMs)) {
    throw new RangeError(
      `Cannot compute a backoff with baseMs ${baseMs} and maxMs ${maxMs}: expected 0 < baseMs <= maxMs`,
    );
  }
  // 2 ** attempt overflows to Infinity for huge attempts, which the cap absorbs.
  const delay = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  const jitter = Math.min(Math.max(random(), 0), 1);
  return Math.round(delay / 2 + (delay / 2) * jitter);
}
