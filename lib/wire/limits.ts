/**
 * The protocol's size limits, shared by the server, which enforces them, and the client, which
 * refuses what the server would.
 *
 * @module
 */

/** The longest request accepted, in bytes, not counting its newline. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** How many symbols one connection may watch at once. */
export const MAX_WATCHED = 50;

/**
 * The longest coin symbol, in UTF-16 code units. The server answers a longer one with
 * `UNKNOWN_COIN` before any look-up; the client refuses it before sending.
 */
export const MAX_SYMBOL_LENGTH = 32;
