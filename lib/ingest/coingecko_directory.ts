/**
 * CoinGecko beyond the top N: the directory of every coin it lists (`/coins/list`) and the
 * markets of coins named by id (`/coins/markets?ids=...`).
 *
 * @module
 */

import type { Coin, DirectoryEntry } from "../wire/coin.ts";
import { MAX_ID_LENGTH, MAX_SYMBOL_LENGTH } from "../wire/limits.ts";
import { describeUrl } from "../util/describe_url.ts";
import { isRecord } from "../util/is_record.ts";
import {
  DEFAULT_API_URL,
  EXACT_NUMBERS,
  parseCoin,
  requestJson,
  type RequestOptions,
} from "./coingecko.ts";
import { cleanName } from "./validate_coin.ts";
import { kindOf } from "./upstream_message.ts";
import { UpstreamError } from "./upstream_error.ts";

/** CoinGecko answers at most this many ids in one `/coins/markets` request. */
export const MAX_IDS_PER_REQUEST = 250;

/** What an id may be: a word of letters, digits, `.`, `_` and `-` (CoinGecko's are lower case). */
const ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_ID_LENGTH - 1}}$`);
const SYMBOL_PATTERN = new RegExp(
  `^[^\\s\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]{1,${MAX_SYMBOL_LENGTH}}$`,
  "u",
);

/**
 * One `/coins/list` entry as a {@linkcode DirectoryEntry} (symbol in upper case, name cleaned),
 * or null when it cannot name a coin: such entries are left out, as one bad entry among 17,000
 * must not cost the directory.
 */
export function directoryEntry(value: unknown): DirectoryEntry | null {
  if (!isRecord(value)) return null;
  const { id, symbol, name } = value;
  if (typeof id !== "string" || !ID_PATTERN.test(id)) return null;
  if (typeof symbol !== "string" || !SYMBOL_PATTERN.test(symbol.trim())) return null;
  const cleaned = typeof name === "string" ? cleanName(name) : "";
  if (cleaned === "") return null;
  return { id, symbol: symbol.trim().toUpperCase(), name: cleaned };
}

/**
 * Fetches `/coins/list`: every coin CoinGecko lists, with its id.
 *
 * @throws {UpstreamError} when the upstream fails or sends something other than a list with
 *   valid entries.
 */
export async function fetchCoinList(options: RequestOptions = {}): Promise<DirectoryEntry[]> {
  const body = await requestJson("/coins/list", options);
  const host = describeUrl(options.apiUrl ?? DEFAULT_API_URL);
  if (!Array.isArray(body)) {
    throw new UpstreamError(`${host} sent ${kindOf(body)} where a list of coins was expected`);
  }
  const seen = new Set<string>();
  const entries: DirectoryEntry[] = [];
  for (const value of body) {
    const entry = directoryEntry(value);
    if (entry === null || seen.has(entry.id)) continue;
    seen.add(entry.id);
    entries.push(entry);
  }
  if (entries.length === 0) throw new UpstreamError(`${host} sent no valid coins in its list`);
  return entries;
}

/**
 * Fetches the markets of up to {@linkcode MAX_IDS_PER_REQUEST} coins named by id, in one
 * request. Each coin keeps its `id`; a coin without a rank is ranked 0. Ids the upstream does not
 * answer for are missing from the result.
 *
 * @throws {UpstreamError} when the upstream fails or its answer is not a list.
 */
export async function fetchMarketsByIds(
  ids: readonly string[],
  options: RequestOptions = {},
): Promise<Coin[]> {
  if (ids.length < 1 || ids.length > MAX_IDS_PER_REQUEST) {
    throw new RangeError(
      `Cannot fetch ${ids.length} coins by id: expected 1 to ${MAX_IDS_PER_REQUEST}`,
    );
  }
  const query = `vs_currency=usd&ids=${ids.map(encodeURIComponent).join(",")}` +
    `&per_page=${MAX_IDS_PER_REQUEST}&page=1`;
  const body = await requestJson("/coins/markets?" + query, options, EXACT_NUMBERS);
  const host = describeUrl(options.apiUrl ?? DEFAULT_API_URL);
  if (!Array.isArray(body)) {
    throw new UpstreamError(`${host} sent ${kindOf(body)} where a list of coins was expected`);
  }
  const asked = new Set(ids);
  const coins: Coin[] = [];
  body.forEach((entry, index) => {
    if (!isRecord(entry) || typeof entry.id !== "string" || !asked.has(entry.id)) return;
    // A long-tail coin often has no rank; 0 says so without inventing one.
    const unranked = entry.market_cap_rank == null;
    try {
      const coin = parseCoin(unranked ? { ...entry, market_cap_rank: 1 } : entry, index, host);
      coins.push({ ...coin, rank: unranked ? 0 : coin.rank, id: entry.id });
    } catch (error) {
      // One bad coin costs only itself: it is answered as not available.
      if (!(error instanceof UpstreamError)) throw error;
    }
  });
  return coins;
}
