/**
 * Validation of one coin as a provider sent it: what may be served, and what a symbol or a name
 * may contain so that it cannot reorder or hide text on a user's terminal or break a log line.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { MAX_SYMBOL_LENGTH } from "../wire/limits.ts";
import { ExactNumber } from "./exact_json.ts";
import { invalid, isNonEmptyString, quote } from "./upstream_message.ts";

/** Longer names are cut to this many characters (the longest real top-250 name has 38). */
export const MAX_NAME_CHARS = 64;
/** Longest number or date text accepted; real ones have at most 25 characters. */
const MAX_VALUE_CHARS = 40;
/**
 * Characters a symbol may not have and a name loses: white space (in a symbol), controls
 * (`Cc`), format characters (`Cf`: bidirectional overrides such as U+202E, zero-width
 * characters), line and paragraph separators and lone surrogates. They could reorder or hide
 * text on a user's terminal or break a log line.
 */
const HOSTILE_IN_SYMBOL = /[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const HOSTILE_IN_NAME = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+/gu;

/**
 * A provider's coin name made safe to show: hostile characters (see above) removed, runs of
 * white space made one space, at most {@linkcode MAX_NAME_CHARS} characters. Empty when nothing
 * printable is left.
 */
export function cleanName(name: string): string {
  // Cut first, generously, so a 1 MiB name costs no more than a short one.
  const head = name.slice(0, MAX_NAME_CHARS * 4);
  const clean = head.replace(/\s+/g, " ").replace(HOSTILE_IN_NAME, "").trim();
  return [...clean].slice(0, MAX_NAME_CHARS).join("").trim();
}

/** The fields of one coin as a provider sent them, before validation. */
export interface RawCoin {
  symbol: unknown;
  name: unknown;
  rank: unknown;
  price: unknown;
  marketCap: unknown;
  change24h: unknown;
  updatedAt: unknown;
}

/** How a provider calls the fields of {@linkcode RawCoin}, so messages use its own words. */
export type FieldNames = Record<keyof RawCoin, string>;

/**
 * Validates one coin. `price` and `marketCap` must be {@linkcode ExactNumber}s (see
 * {@linkcode keepNumberText}); the symbol is upper-cased. `fallbackRank` is used when the
 * provider gave no rank.
 *
 * @throws {UpstreamError} naming the host, the coin and the field that is wrong
 */
export function validateCoin(
  raw: RawCoin,
  names: FieldNames,
  context: { host: string; index: number; fallbackRank?: number },
): Coin {
  const { host } = context;
  const { symbol, name, rank, price, marketCap, change24h, updatedAt } = raw;
  let where = `coin #${context.index + 1}`;
  if (
    !isNonEmptyString(symbol) || HOSTILE_IN_SYMBOL.test(symbol) ||
    symbol.length > MAX_SYMBOL_LENGTH
  ) {
    throw invalid(
      host,
      where,
      `${names.symbol} must be a word of at most ${MAX_SYMBOL_LENGTH} printable characters`,
      symbol,
    );
  }
  where += ` (${quote(symbol)})`;
  const cleanedName = typeof name === "string" ? cleanName(name) : "";
  if (cleanedName === "") {
    throw invalid(host, where, `${names.name} must be a string with printable characters`, name);
  }
  if (!(price instanceof ExactNumber) || !isAmount(price.value) || !isShort(price.text)) {
    throw invalid(host, where, `${names.price} must be a non-negative number`, price);
  }
  if (
    marketCap != null &&
    !(marketCap instanceof ExactNumber && isAmount(marketCap.value) && isShort(marketCap.text))
  ) {
    throw invalid(
      host,
      where,
      `${names.marketCap} must be a non-negative number or null`,
      marketCap,
    );
  }
  if (rank != null && !(Number.isSafeInteger(rank) && (rank as number) > 0)) {
    throw invalid(host, where, `${names.rank} must be a positive integer or null`, rank);
  }
  if (change24h != null && !(typeof change24h === "number" && Number.isFinite(change24h))) {
    throw invalid(host, where, `${names.change24h} must be a number or null`, change24h);
  }
  if (
    updatedAt != null &&
    !(typeof updatedAt === "string" && isShort(updatedAt) && !Number.isNaN(Date.parse(updatedAt)))
  ) {
    throw invalid(host, where, `${names.updatedAt} must be an ISO date or null`, updatedAt);
  }
  const fallbackRank = context.fallbackRank ?? context.index + 1;
  return {
    symbol: symbol.trim().toUpperCase(),
    name: cleanedName,
    rank: (rank as number | null | undefined) ?? fallbackRank,
    price: price.value,
    priceText: price.text,
    marketCap: marketCap instanceof ExactNumber ? marketCap.value : null,
    marketCapText: marketCap instanceof ExactNumber ? marketCap.text : null,
    change24h: (change24h as number | null | undefined) ?? null,
    updatedAt: (updatedAt as string | null | undefined) ?? null,
  };
}

/**
 * Keeps the better-ranked coin of each symbol and sorts by rank: a symbol is the lookup key of
 * the protocol, and the larger coin is the one a user most likely means.
 */
export function uniqueBySymbol(coins: Iterable<Coin>): Coin[] {
  const bySymbol = new Map<string, Coin>();
  for (const coin of coins) {
    const seen = bySymbol.get(coin.symbol);
    if (seen === undefined || coin.rank < seen.rank) bySymbol.set(coin.symbol, coin);
  }
  // Array.prototype.sort is stable, so coins with equal ranks keep the upstream's order.
  return [...bySymbol.values()].sort((a, b) => a.rank - b.rank);
}

function isShort(text: string): boolean {
  return text.length <= MAX_VALUE_CHARS;
}

function isAmount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
