/**
 * Who watches which coin: the index `WATCH`, `UNWATCH`, a closed connection and a new snapshot
 * consult. A plain data structure over opaque watcher values; it knows nothing of sockets.
 *
 * @module
 */

import { MAX_WATCHED } from "../wire/protocol.ts";

/** The outcome of {@linkcode WatchRegistry.watch}. */
export type WatchResult =
  | { ok: true }
  /** Nothing was added: the watcher would pass the cap; `watching` is how many it has now. */
  | { ok: false; watching: number };

/**
 * Symbols by watcher and watchers by symbol, kept in step. A watcher's symbols keep the order
 * they were first watched in, which is the order `UNWATCH` replies list them in.
 *
 * @typeParam W the watcher, e.g. a connection's state; compared by identity
 */
export class WatchRegistry<W> {
  /** How many symbols one watcher may watch at once. */
  readonly maxPerWatcher: number;
  readonly #bySymbol = new Map<string, Set<W>>();
  readonly #byWatcher = new Map<W, Set<string>>();

  /** @param maxPerWatcher the cap of symbols per watcher; the protocol's `MAX_WATCHED` by default */
  constructor(maxPerWatcher: number = MAX_WATCHED) {
    if (!Number.isInteger(maxPerWatcher) || maxPerWatcher < 1) {
      throw new RangeError(`Invalid maxPerWatcher ${maxPerWatcher}: expected a positive integer`);
    }
    this.maxPerWatcher = maxPerWatcher;
  }

  /**
   * Adds `symbols` to what `watcher` watches, all or none: when the symbols it does not watch
   * yet would take it past {@linkcode maxPerWatcher}, nothing changes.
   */
  watch(watcher: W, symbols: readonly string[]): WatchResult {
    const watching = this.#byWatcher.get(watcher);
    const fresh = watching === undefined
      ? [...new Set(symbols)]
      : symbols.filter((symbol) => !watching.has(symbol));
    const count = watching?.size ?? 0;
    if (count + fresh.length > this.maxPerWatcher) return { ok: false, watching: count };
    if (fresh.length === 0) return { ok: true };
    let own = watching;
    if (own === undefined) this.#byWatcher.set(watcher, own = new Set());
    for (const symbol of fresh) {
      own.add(symbol);
      let set = this.#bySymbol.get(symbol);
      if (set === undefined) this.#bySymbol.set(symbol, set = new Set());
      set.add(watcher);
    }
    return { ok: true };
  }

  /**
   * Stops `watcher` watching `symbols`, or all of its symbols when `symbols` is null; symbols it
   * does not watch are ignored.
   *
   * @returns the symbols it still watches, in the order they were first watched
   */
  unwatch(watcher: W, symbols: readonly string[] | null): string[] {
    const watching = this.#byWatcher.get(watcher);
    if (watching === undefined) return [];
    for (const symbol of symbols ?? [...watching]) {
      if (watching.delete(symbol)) this.#removeWatcher(symbol, watcher);
    }
    if (watching.size === 0) this.#byWatcher.delete(watcher);
    return [...watching];
  }

  /** Forgets `watcher` entirely, e.g. when its connection closes. */
  remove(watcher: W): void {
    this.unwatch(watcher, null);
  }

  /** How many watchers watch at least one symbol. */
  get size(): number {
    return this.#byWatcher.size;
  }

  /** The watchers of `symbol`, or undefined when it has none. Do not change the set. */
  watchersOf(symbol: string): ReadonlySet<W> | undefined {
    return this.#bySymbol.get(symbol);
  }

  #removeWatcher(symbol: string, watcher: W): void {
    const set = this.#bySymbol.get(symbol);
    set?.delete(watcher);
    if (set?.size === 0) this.#bySymbol.delete(symbol);
  }
}
