/**
 * A circuit breaker per provider: after a run of failed rounds a provider is skipped for a
 * cool-down, then probed once; a success closes it again. The clock is injected.
 *
 * @module
 */

/** `closed`: used; `open`: skipped until its cool-down ends; `half-open`: one probe allowed. */
export type BreakerState = "closed" | "open" | "half-open";

/** Options of {@linkcode CircuitBreaker}. */
export interface BreakerOptions {
  /** Failed rounds in a row that open the circuit; defaults to 3. */
  failureThreshold?: number;
  /** How long an open circuit skips the provider, in milliseconds; defaults to 5 minutes. */
  cooldownMs?: number;
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
}

/** The default of {@linkcode BreakerOptions.failureThreshold}. */
export const DEFAULT_BREAKER_FAILURES = 3;
/** The default of {@linkcode BreakerOptions.cooldownMs}. */
export const DEFAULT_BREAKER_COOLDOWN_MS = 300_000;

/**
 * Counts a provider's failed rounds: closed → open after `failureThreshold` in a row → half-open
 * once `cooldownMs` has passed → closed on a success, or open again (a new cool-down) on a
 * failure. The half-open state is derived from the clock, so no timer is needed.
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly #now: () => number;
  #failures = 0;
  #openedAt: number | null = null;
  #lastError: string | null = null;

  constructor(options: BreakerOptions = {}) {
    const failures = options.failureThreshold ?? DEFAULT_BREAKER_FAILURES;
    const cooldownMs = options.cooldownMs ?? DEFAULT_BREAKER_COOLDOWN_MS;
    if (!Number.isInteger(failures) || failures < 1) {
      throw new RangeError(`Cannot open after ${failures} failures: expected a positive integer`);
    }
    if (!(cooldownMs >= 0)) {
      throw new RangeError(`Cannot cool down for ${cooldownMs} ms: expected 0 or more`);
    }
    this.failureThreshold = failures;
    this.cooldownMs = cooldownMs;
    this.#now = options.now ?? Date.now;
  }

  /** The state now. */
  get state(): BreakerState {
    if (this.#openedAt === null) return "closed";
    return this.#now() >= this.#openedAt + this.cooldownMs ? "half-open" : "open";
  }

  /** Failed rounds in a row. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** The last failure's message, kept after a success for INFO; null before any failure. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** When an open circuit lets a probe through (ms since the epoch); null when closed. */
  get retryAt(): number | null {
    return this.#openedAt === null ? null : this.#openedAt + this.cooldownMs;
  }

  /** Records a successful round; returns the state it left. */
  recordSuccess(): BreakerState {
    const before = this.state;
    this.#failures = 0;
    this.#openedAt = null;
    return before;
  }

  /** Records a failed round; returns the new state. */
  recordFailure(message: string): BreakerState {
    const before = this.state;
    this.#failures++;
    this.#lastError = message;
    if (before === "half-open" || this.#failures >= this.failureThreshold) {
      this.#openedAt = this.#now();
    }
    return this.state;
  }
}
