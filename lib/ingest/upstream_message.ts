/**
 * How upstream values are named in error messages: short, quoted, and safe to log.
 *
 * @module
 */

import { sample } from "../util/sample.ts";
import { ExactNumber } from "./exact_json.ts";
import { UpstreamError } from "./upstream_error.ts";

/** An {@linkcode UpstreamError} for a field that is not what was expected. */
export function invalid(
  host: string,
  where: string,
  expected: string,
  got: unknown,
): UpstreamError {
  return new UpstreamError(
    `${host} sent an invalid ${where}: ${expected}, got ${describeUpstreamValue(got)}`,
  );
}

/** A short description of a value from the upstream, for messages. */
export function describeUpstreamValue(value: unknown): string {
  if (value instanceof ExactNumber) return value.text;
  if (value === undefined) return "nothing";
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/** What kind of JSON value this is, for messages: `null`, `a list`, `an object`, `a string`. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Quotes and shortens text from the upstream so it cannot mangle a log line: the same escaping
 * as the server uses for samples of client input (control, bidi and other non-ASCII characters).
 */
export function quote(text: string, max = 40): string {
  return sample(text, max);
}

/** A string with something other than white space. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "";
}
