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

/**
 * The longest provider id (`id:bitcoin` names a coin by id): CoinGecko's ids are longer than
 * symbols, up to about 80 characters.
 */
export const MAX_ID_LENGTH = 100;

/** The prefix that names a coin by its provider id instead of its symbol: `MARKET id:pepe`. */
export const ID_PREFIX = "ID:";
