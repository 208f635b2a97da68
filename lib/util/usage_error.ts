/**
 * The error of a command line a program cannot run with.
 *
 * @module
 */

/** A command line or environment variable a program cannot run with; exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
