/**
 * A price alert's condition and its state: `above 50000`, `below 1500` or `change 5%` within a
 * window. An alert fires when its condition becomes true and not again until the price has
 * crossed back, so the same price seen twice (e.g. again after a reconnect) fires once.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import { safeText } from "../text/safe_text.ts";

/** What an alert waits for. */
export type AlertCondition =
  | { kind: "above" | "below"; threshold: number }
  | { kind: "change"; percent: number; windowMs: number };

/** One firing of an alert. */
export interface AlertFiring {
  /** The price that made it fire. */
  price: number;
  /** For `change`: the price the move is measured from, and the move in percent. */
  from?: number;
  change_pct?: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A window such as `15m`, `1h` or `1d`, in ms.
 *
 * @throws {UsageError} for anything else
 */
export function parseWindow(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text);
  const ms = match === null ? 0 : Number(match[1]) * UNITS[match[2]];
  if (!(ms > 0)) {
    throw new UsageError(
      `--window needs a duration such as 15m, 1h or 1d, got "${safeText(text)}"`,
    );
  }
  return ms;
}

/**
 * Parses `above PRICE`, `below PRICE` or `change PERCENT%`.
 *
 * @throws {UsageError} with an example
 */
export function parseCondition(words: readonly string[], windowMs: number): AlertCondition {
  const [kind, value] = words;
  if (words.length === 2 && (kind === "above" || kind === "below")) {
    const threshold = Number(value);
    if (value.trim() !== "" && threshold >= 0 && Number.isFinite(threshold)) {
      return { kind, threshold };
    }
  }
  if (words.length === 2 && kind === "change") {
    const percent = Number(value.replace(/%$/, ""));
    if (value.endsWith("%") && percent > 0 && Number.isFinite(percent)) {
      return { kind, percent, windowMs };
    }
  }
  throw new UsageError(
    `alert needs a condition: above PRICE, below PRICE or change PERCENT%, e.g. alert BTC ` +
      `above 50000 or alert BTC change 5%; got "${safeText(words.join(" "))}"`,
  );
}

/** The condition as a person reads it: `above 50000`, `change 5% in 1h`. */
export function describeCondition(c: AlertCondition, money: (n: number) => string): string {
  if (c.kind !== "change") return `${c.kind} ${money(c.threshold)}`;
  const unit = Object.entries(UNITS).reverse().find(([, ms]) => c.windowMs % ms === 0)!;
  return `change ${c.percent}% in ${c.windowMs / unit[1]}${unit[0]}`;
}

/** An alert's memory of the prices it saw: whether it may fire, and the window's prices. */
export class AlertState {
  readonly condition: AlertCondition;
  /** Whether the condition was false since the last firing (or ever, for a new alert). */
  #armed = true;
  /** `[time in ms, price]` within the window, oldest first (for `change`). */
  #window: [number, number][] = [];

  constructor(condition: AlertCondition) {
    this.condition = condition;
  }

  /** Sees one price at `time` (ms); returns the firing when the alert fires now. */
  observe(price: number, time: number): AlertFiring | undefined {
    const c = this.condition;
    if (c.kind !== "change") {
      const holds = c.kind === "above" ? price >= c.threshold : price <= c.threshold;
      if (!holds) {
        this.#armed = true;
        return undefined;
      }
      if (!this.#armed) return undefined;
      this.#armed = false;
      return { price };
    }
    while (this.#window.length > 0 && this.#window[0][0] < time - c.windowMs) this.#window.shift();
    const from = this.#window[0]?.[1];
    this.#window.push([time, price]);
    if (from === undefined || !(from > 0)) return undefined;
    const change = ((price - from) / from) * 100;
    if (Math.abs(change) < c.percent) return undefined;
    // The move is measured afresh from here: the same move does not fire twice.
    this.#window = [[time, price]];
    return { price, from, change_pct: change };
  }
}
