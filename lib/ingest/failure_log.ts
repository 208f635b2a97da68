/**
 * Logging a failure by its changes of state: one line when something starts failing, one when it
 * works again, and while it stays down a short summary at most every few minutes, instead of the
 * same line every round.
 *
 * @module
 */

import type { Log } from "../util/log.ts";

/** While something keeps failing, a summary line at most this often: 5 minutes. */
const FAILURE_SUMMARY_MS = 300_000;
/** Reasons are cut to this many characters in log lines; the full text stays in INFO. */
const MAX_REASON_CHARS = 200;

/** What the line functions of {@linkcode FailureLog} are told. */
export interface FailureStreak {
  /** Failures in a row, the current one included (on success: the ones just ended). */
  count: number;
  /** When the first failure of the streak happened, ms since the epoch. */
  sinceMs: number;
}

/** Options of {@linkcode FailureLog}. */
export interface FailureLogOptions {
  log: Log;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
  /** Least time between two summary lines; defaults to {@linkcode FAILURE_SUMMARY_MS}. */
  summaryEveryMs?: number;
}

/** Counts one thing's failures in a row and logs only the changes (see the module docs). */
export class FailureLog {
  readonly #log: Log;
  readonly #now: () => number;
  readonly #summaryEveryMs: number;
  #count = 0;
  #sinceMs = 0;
  #loggedAt = 0;

  constructor(options: FailureLogOptions) {
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#summaryEveryMs = options.summaryEveryMs ?? FAILURE_SUMMARY_MS;
  }

  /** Failures in a row so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Records a failure. The first of a streak is logged with `first`; later ones with `summary`
   * once {@linkcode FailureLogOptions.summaryEveryMs} has passed since the last line, or at once
   * when `force` is set (for something an operator must see, such as a long `Retry-After`).
   */
  failed(
    first: (streak: FailureStreak) => string,
    summary: (streak: FailureStreak) => string,
    force = false,
  ): void {
    const now = this.#now();
    if (this.#count++ === 0) this.#sinceMs = now;
    const streak = { count: this.#count, sinceMs: this.#sinceMs };
    if (this.#count === 1) {
      this.#log(first(streak), "warn");
    } else if (force || now - this.#loggedAt >= this.#summaryEveryMs) {
      this.#log(summary(streak), "warn");
    } else {
      return;
    }
    this.#loggedAt = now;
  }

  /** Records a success; when it ends a streak of failures, logs `recovered`. */
  succeeded(recovered: (streak: FailureStreak) => string): void {
    if (this.#count === 0) return;
    const streak = { count: this.#count, sinceMs: this.#sinceMs };
    this.#count = 0;
    this.#log(recovered(streak));
  }
}

/** A reason shortened for a log line: at most {@linkcode MAX_REASON_CHARS} characters. */
export function brief(reason: string, max = MAX_REASON_CHARS): string {
  return reason.length <= max ? reason : `${reason.slice(0, max - 1)}…`;
}
