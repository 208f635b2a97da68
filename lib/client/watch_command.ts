/**
 * `watch` as a command, set up the same way from the command line and from the prompt: the
 * currency checked before anything is shown, Ctrl-C caught, and connections reopened after a
 * drop handed back or closed.
 *
 * @module
 */

import { currencyUnit } from "./currency.ts";
import type { CurrencyInfo } from "./price_client.ts";
import { runWatch, type WatchClient, type WatchOptions } from "./watch_view.ts";

/** A connection a watch can use and close. */
export interface WatchConnection extends WatchClient {
  currencies(): Promise<CurrencyInfo[]>;
  close(): void;
}

/** A Ctrl-C listener: `signal` aborts on Ctrl-C until it is disposed. */
export interface Interrupt extends Disposable {
  readonly signal: AbortSignal;
}

/** What the view is shown with, besides its connection, coins and stop signal. */
export type WatchDisplay = Omit<
  WatchOptions,
  "client" | "reconnect" | "symbols" | "currency" | "unit" | "signal" | "onShown"
>;

/** Options for {@linkcode watchCommand}. */
export interface WatchCommandOptions<C extends WatchConnection> {
  /** The connection to start with. */
  client: C;
  /** Opens another connection after one dropped. */
  connect: () => Promise<C>;
  symbols: readonly string[];
  /** Upper case; undefined for USD. */
  currency: string | undefined;
  /** The unit of `currency` when already known; else it is asked (which checks the code). */
  unit?: string;
  display: WatchDisplay;
  /** Starts catching Ctrl-C, which stops the watch. */
  interrupts?: () => Interrupt;
  /** Stops the watch, e.g. on Enter at the prompt; Ctrl-C aborts it too. */
  stop?: AbortController;
  /** Called once the watched coins were shown the first time. */
  onShown?: () => void;
}

/**
 * Runs a watch until Ctrl-C, `stop` or (with no reconnection possible) the end of the
 * connection, and returns the connection in use at the end: `client`, or the last one opened
 * after a drop, which the caller then owns. Others opened on the way are closed.
 */
export async function watchCommand<C extends WatchConnection>(
  options: WatchCommandOptions<C>,
): Promise<C> {
  const { client, currency } = options;
  // Checks the currency before anything is shown; the view then marks amounts with it.
  const unit = options.unit ??
    (currency === undefined ? undefined : await currencyUnit(client, currency));
  const stop = options.stop ?? new AbortController();
  using interrupt = options.interrupts?.();
  interrupt?.signal.addEventListener("abort", () => stop.abort(), { once: true });
  const opened: C[] = [];
  let ended = false;
  try {
    await runWatch({
      ...options.display,
      client,
      reconnect: async () => {
        const next = await options.connect();
        opened.push(next);
        return next;
      },
      symbols: options.symbols,
      currency,
      unit,
      signal: stop.signal,
      onShown: options.onShown,
    });
    ended = true;
  } finally {
    // The last connection opened is the one the watch used last; after a failure, none is kept.
    for (const c of ended ? opened.slice(0, -1) : opened) c.close();
  }
  return opened.at(-1) ?? client;
}
