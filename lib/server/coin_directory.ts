/**
 * The coin directory in memory: every coin the provider lists, indexed when it loads so that a
 * look-up by symbol or id and a `SEARCH` touch no storage and scan no more than they must.
 *
 * @module
 */

import type { DirectoryEntry } from "../wire/coin.ts";

/** How many coins a search returns at most. */
export const SEARCH_LIMIT = 20;

/** The directory's index: by id, by symbol, symbols in order, names in lower case. */
export class CoinDirectory {
  /** How many coins it lists. */
  readonly size: number;
  readonly #byId = new Map<string, DirectoryEntry>();
  readonly #bySymbol = new Map<string, DirectoryEntry[]>();
  /** Distinct symbols in code-unit order, for prefix matches by binary search. */
  readonly #symbols: string[];
  /** Every word of every name in lower case, in order, with its coin: for name matches. */
  readonly #words: readonly string[];
  readonly #wordEntries: readonly DirectoryEntry[];

  /**
   * Indexes `entries` a slice at a time, giving the event loop a turn between slices: a whole
   * directory (17,000 coins) in one go would hold every client up while it splits the names.
   */
  static async build(entries: readonly DirectoryEntry[], slice = 1000): Promise<CoinDirectory> {
    const words: [string, DirectoryEntry][] = [];
    for (let start = 0; start < entries.length; start += slice) {
      for (let i = start; i < Math.min(entries.length, start + slice); i++) {
        nameWords(entries[i], words);
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return new CoinDirectory(entries, words);
  }

  /**
   * Indexes `entries` at once (ids are matched without regard to case); `words` are their names'
   * words when {@linkcode build} has split them already.
   */
  constructor(entries: readonly DirectoryEntry[], words?: [string, DirectoryEntry][]) {
    for (const entry of entries) {
      this.#byId.set(entry.id.toLowerCase(), entry);
      const same = this.#bySymbol.get(entry.symbol);
      if (same === undefined) this.#bySymbol.set(entry.symbol, [entry]);
      else same.push(entry);
    }
    if (words === undefined) {
      words = [];
      for (const entry of entries) nameWords(entry, words);
    }
    // A coin listed twice under one id is indexed once, as the last listing.
    words = words.filter(([, entry]) => this.#byId.get(entry.id.toLowerCase()) === entry);
    words.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    this.#words = words.map(([word]) => word);
    this.#wordEntries = words.map(([, entry]) => entry);
    this.#symbols = [...this.#bySymbol.keys()].sort();
    this.size = this.#byId.size;
  }

  /** Every coin listed (CoinGecko-compatible `coins/list`). */
  list(): DirectoryEntry[] {
    return [...this.#byId.values()];
  }

  /** The coin with this id, or undefined. */
  byId(id: string): DirectoryEntry | undefined {
    return this.#byId.get(id.toLowerCase());
  }

  /** Every coin with this symbol (upper case), or an empty list. */
  bySymbol(symbol: string): readonly DirectoryEntry[] {
    return this.#bySymbol.get(symbol) ?? [];
  }

  /**
   * Coins matching `query`, at most `limit`: those whose symbol is the query, then those whose
   * symbol starts with it (shorter symbols first), then those with a word of the name starting
   * with it. Every step is a binary search, never a scan of the directory.
   */
  search(query: string, limit = SEARCH_LIMIT): DirectoryEntry[] {
    const q = query.trim();
    if (q === "") return [];
    const symbol = q.toUpperCase();
    const found: DirectoryEntry[] = [...this.bySymbol(symbol)].slice(0, limit);
    const taken = new Set(found);
    const prefixed: string[] = [];
    for (let i = lowerBound(this.#symbols, symbol); i < this.#symbols.length; i++) {
      const s = this.#symbols[i];
      if (!s.startsWith(symbol)) break;
      if (s !== symbol) prefixed.push(s);
    }
    prefixed.sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
    for (const s of prefixed) {
      if (found.length >= limit) return found;
      for (const entry of this.#bySymbol.get(s)!) {
        if (found.length >= limit) return found;
        found.push(entry);
        taken.add(entry);
      }
    }
    const word = q.toLowerCase();
    for (let i = lowerBound(this.#words, word); i < this.#words.length; i++) {
      if (found.length >= limit || !this.#words[i].startsWith(word)) break;
      const entry = this.#wordEntries[i];
      if (!taken.has(entry)) {
        found.push(entry);
        taken.add(entry);
      }
    }
    return found;
  }
}

/** The first index of `sorted` whose value is not below `value`. */
function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Adds the words of `entry`'s name, in lower case, to `words`. */
function nameWords(entry: DirectoryEntry, words: [string, DirectoryEntry][]): void {
  for (const word of entry.name.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (word !== "") words.push([word, entry]);
  }
}
