/**
 * The one test for "a JSON object", shared by every reader of untrusted JSON.
 *
 * @module
 */

/** A plain JSON object (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
