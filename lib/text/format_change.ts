/**
 * A change in percent as a user reads it: `+3.51%`.
 *
 * @module
 */

import { DASH } from "./dash.ts";

/** Formats a 24-hour change in percent: `+3.51%`, `-8.20%`, `0.00%`, or `—` when unknown. */
export function formatChange(pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return DASH;
  const digits = Math.abs(pct).toFixed(2);
  if (Number(digits) === 0) return "0.00%";
  return `${pct > 0 ? "+" : "-"}${digits}%`;
}
