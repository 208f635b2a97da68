/**
 * The error codes a reply can carry.
 *
 * @module
 */

/** The error codes a reply can carry; each is documented in the README. */
export const ERROR_CODES = [
  "BAD_JSON",
  "BAD_REQUEST",
  "UNKNOWN_COMMAND",
  "UNKNOWN_COIN",
  "UNKNOWN_CURRENCY",
  "NO_DATA",
  "LINE_TOO_LONG",
  "TIMEOUT",
  "BUSY",
] as const;

/** An error code a reply can carry. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Whether `value` is one of the {@linkcode ERROR_CODES}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value);
}
