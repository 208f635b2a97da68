/**
 * What a value that is unknown or cannot be shown is written as.
 *
 * @module
 */

/** An unknown value: `—`. */
export const DASH = "—";
