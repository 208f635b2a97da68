/**
 * The live view of `watch`: a table redrawn in place on a terminal, or one line per update
 * when the output is a pipe or a file.
 *
 * @module
 */

import type { CoinView, ConnectionError } from "./price_client.ts";
import { displayWidth, formatTable, formatUpdateLine } from "./format.ts";

/** What the view needs from a connection; {@linkcode PriceClient} has it. */
export interface WatchClient {
  watch(symbols: readonly string[], onUpdate: (coin: CoinView) => void): Promise<CoinView[]>;
  market(symbol: string, currency?: string): Promise<CoinView>;
  readonly closed: Promise<ConnectionError>;
}

/** Options for {@linkcode runWatch}. */
export interface WatchOptions {
  client: WatchClient;
  /** Coin symbols, case-insensitive; repeats are dropped. */
  symbols: readonly string[];
  /** Show prices in this currency; the server pushes USD, so each update is looked up in it. */
  currency?: string;
  /** Marks amounts in a currency `Intl` does not know (see `formatMoney`). */
  unit?: string;
  /** Writes output. */
  write: (s: string) => void;
  /** Redraw a table in place (a terminal) rather than print one line per update. */
  terminal: boolean;
  /** Colour the output with ANSI codes. */
  color: boolean;
  /** Print each coin as one line of JSON instead. */
  json?: boolean;
  /** Terminal columns, to count wrapped lines when redrawing; default 80. */
  columns?: () => number;
  /** The clock, for the time of the last update. */
  now?: () => Date;
  /** Ends the view, e.g. on Ctrl-C. */
  signal: AbortSignal;
}

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
const CLEAR_BELOW = "\x1b[J";

/**
 * Shows the watched coins, then each update, until `signal` aborts. Resolves when stopped;
 * rejects with the `ConnectionError` when the connection ends first, or with the error of a
 * failed look-up (e.g. an unknown coin, before anything was shown).
 */
export async function runWatch(options: WatchOptions): Promise<void> {
  const { client, currency, unit, write, terminal, color, signal } = options;
  const now = options.now ?? (() => new Date());
  const columns = options.columns ?? (() => 80);
  const symbols = [...new Set(options.symbols.map((s) => s.toUpperCase()))];
  const coins = new Map<string, CoinView>();
  const moves = new Map<string, number>();
  let drawnRows = 0;
  let updates = 0;
  let lastUpdate: Date | undefined;
  let stopped = false;

  const { promise: failed, reject: fail } = Promise.withResolvers<never>();
  failed.catch(() => {}); // raced below; an error after the stop is of no interest

  const inCurrency = (coin: CoinView): Promise<CoinView> | CoinView =>
    currency !== undefined && coin.currency !== currency
      ? client.market(coin.symbol, currency)
      : coin;

  const draw = () => {
    const list = symbols.flatMap((s) => coins.get(s) ?? []);
    const status = lastUpdate === undefined
      ? "Waiting for updates · Ctrl-C to stop"
      : `Last update ${lastUpdate.toISOString().slice(11, 19)} UTC · ${updates} update${
        updates === 1 ? "" : "s"
      } · Ctrl-C to stop`;
    const text = `${formatTable(list, { color, now: now(), moves, unit })}\n${
      color ? `\x1b[2m${status}\x1b[0m` : status
    }`;
    const width = Math.max(1, columns());
    const rows = text.split("\n").reduce(
      (n, line) => n + Math.max(1, Math.ceil(displayWidth(line) / width)),
      0,
    );
    // Back to the first line drawn last time, then clear everything below and draw anew.
    write(`${drawnRows > 0 ? `\x1b[${drawnRows}F` : ""}${CLEAR_BELOW}${text}\n`);
    drawnRows = rows;
  };

  const show = (coin: CoinView) => {
    if (options.json) write(JSON.stringify(coin) + "\n");
    else if (!terminal) write(formatUpdateLine(coin, { unit }) + "\n");
  };

  // Updates are handled one after another, so a slow currency look-up cannot reorder them,
  // and only once the current coins are shown, which an update may overtake otherwise.
  const { promise: shown, resolve: startUpdates } = Promise.withResolvers<void>();
  let queue = shown;
  const onUpdate = (update: CoinView) => {
    queue = queue.then(async () => {
      if (stopped) return;
      const coin = await inCurrency(update);
      if (stopped) return;
      const before = coins.get(coin.symbol);
      if (before !== undefined && before.price !== coin.price) {
        moves.set(coin.symbol, Math.sign(coin.price - before.price));
      }
      coins.set(coin.symbol, coin);
      updates++;
      lastUpdate = now();
      if (terminal && !options.json) draw();
      else show(coin);
    }).catch(fail);
  };

  const { promise: aborted, resolve: abort } = Promise.withResolvers<void>();
  if (signal.aborted) return;
  const onAbort = () => abort();
  signal.addEventListener("abort", onAbort, { once: true });
  const fancy = terminal && !options.json;
  try {
    const initial = await Promise.race([
      client.watch(symbols, onUpdate).then((list) => Promise.all(list.map(inCurrency))),
      aborted.then(() => null),
    ]);
    if (initial === null) return;
    for (const coin of initial) coins.set(coin.symbol, coin);
    if (fancy) {
      write(HIDE_CURSOR);
      draw();
    } else {
      for (const coin of initial) show(coin);
    }
    startUpdates();
    const closed = await Promise.race([aborted.then(() => null), client.closed, failed]);
    if (closed !== null) throw closed;
  } finally {
    stopped = true;
    startUpdates();
    signal.removeEventListener("abort", onAbort);
    if (fancy) write(SHOW_CURSOR);
  }
}
