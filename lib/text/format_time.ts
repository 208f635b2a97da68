/**
 * Times as a user reads them: `2022-10-04 20:16 UTC`, or how long ago, `3m ago`.
 *
 * @module
 */

import { DASH } from "./dash.ts";

/** `2022-10-04 20:16 UTC`, or `—` for a time that does not parse. */
export function formatTime(iso: string): string {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return DASH;
  return `${then.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * How long ago `iso` was: `12s ago`, `3m ago`, `5h ago`; older times as `2022-10-04 20:16 UTC`.
 * Unknown or unparsable times give `—`.
 */
export function formatAge(iso: string | null, now: Date): string {
  if (iso === null) return DASH;
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return DASH;
  const seconds = Math.floor((now.getTime() - then.getTime()) / 1000);
  if (seconds < 1) return "just now"; // also a little clock skew into the future
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return formatTime(iso);
}
