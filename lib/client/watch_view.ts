/**
 * The live view of `watch`: a table redrawn in place on a terminal (ages ticking every second,
 * redrawn whole on resize), or one line per update when the output is a pipe or a file. Unknown
 * symbols are reported and the rest watched; a dropped connection is reopened with backoff and
 * the same watch resumed.
 *
 * @module
 */

import { backoffDelay } from "../util/backoff.ts";
import { ConnectionError, ServerError } from "./price_client.ts";
import type { CoinView } from "../wire/coin_view.ts";
import { formatUpdateLine } from "./format.ts";
import { displayWidth } from "../text/display_width.ts";
import { formatTable } from "../text/format_table.ts";
import { formatAge } from "../text/format_time.ts";
import { safeJson } from "../text/safe_text.ts";

/** What the view needs from a connection; {@linkcode PriceClient} has it. */
export interface WatchClient {
  watch(symbols: readonly string[], onUpdate: (coin: CoinView) => void): Promise<CoinView[]>;
  market(symbol: string, currency?: string): Promise<CoinView>;
  marketAll(currency?: string): Promise<CoinView[]>;
  readonly closed: Promise<ConnectionError>;
}

/** Options for {@linkcode runWatch}. */
export interface WatchOptions {
  client: WatchClient;
  /** Opens a new connection after the last one dropped; without it the watch ends instead. */
  reconnect?: () => Promise<WatchClient>;
  /** Coin symbols, case-insensitive; repeats are dropped. */
  symbols: readonly string[];
  /** Show prices in this currency; the server pushes USD, so each update is looked up in it. */
  currency?: string;
  /** Marks amounts in a currency `Intl` does not know (see `formatMoney`). */
  unit?: string;
  /** Writes output. */
  write: (s: string) => void;
  /** Reports a problem the watch goes on after: unknown symbols, a dropped connection. */
  warn?: (err: Error) => void;
  /** Redraw a table in place (a terminal) rather than print one line per update. */
  terminal: boolean;
  /** Colour the output with ANSI codes. */
  color: boolean;
  /** Print each coin as one line of JSON instead. */
  json?: boolean;
  /** Terminal columns, to fit the table and count wrapped lines; default 80. */
  columns?: () => number;
  /** Terminal rows: a table taller than the screen is redrawn from a cleared screen; default no limit. */
  rows?: () => number;
  /** The clock, for ages and the time of the last update. */
  now?: () => Date;
  /** Ends the view, e.g. on Ctrl-C. */
  signal: AbortSignal;
  /** Called once the watched coins were shown the first time. */
  onShown?: () => void;
  /** Calls a listener when the terminal is resized, until disposed. */
  onResize?: (listener: () => void) => Disposable;
  /** How often the table is redrawn so that ages tick, in ms; default 1000. */
  tickMs?: number;
  /**
   * With no update for this long, the coins are fetched again so that their age and staleness
   * stay true; default 10 000 ms.
   */
  refreshMs?: number;
}

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
const CLEAR_BELOW = "\x1b[J";
const CLEAR_SCREEN = "\x1b[H\x1b[2J";
/** Backoff of reconnection: from half a second up to 10 s between attempts. */
const RECONNECT_BACKOFF = { baseMs: 500, maxMs: 10_000 };

/**
 * Shows the watched coins, then each update, until `signal` aborts. Resolves when stopped;
 * rejects with the `ConnectionError` when the connection ends first and there is no
 * `reconnect`, or with the error of a failed look-up (e.g. no symbol known at all).
 */
export async function runWatch(options: WatchOptions): Promise<void> {
  const { currency, unit, write, terminal, color, signal } = options;
  const now = options.now ?? (() => new Date());
  const columns = options.columns ?? (() => 80);
  const fancy = terminal && !options.json;
  let symbols = [...new Set(options.symbols.map((s) => s.toUpperCase()))];
  let client = options.client;
  const coins = new Map<string, CoinView>();
  const moves = new Map<string, number>();
  let drawnRows = 0;
  let updates = 0;
  let lastUpdate: Date | undefined;
  let reconnecting: string | undefined;
  let stopped = false;

  const inCurrency = (c: WatchClient, coin: CoinView): Promise<CoinView> | CoinView =>
    currency !== undefined && coin.currency !== currency ? c.market(coin.symbol, currency) : coin;

  const status = () => {
    if (reconnecting !== undefined) return `${reconnecting} · Ctrl-C to stop`;
    // How old the server's data is, as `price` says it: no update may also mean stale data.
    const fetched = [...coins.values()].map((c) => c.fetched_at).sort().at(-1) ?? null;
    const data = `data fetched ${formatAge(fetched, now())}`;
    if (lastUpdate === undefined) return `Waiting for updates · ${data} · Ctrl-C to stop`;
    const age = formatAge(lastUpdate.toISOString(), now());
    return `Last update ${lastUpdate.toISOString().slice(11, 19)} UTC (${age}) · ${updates} update${
      updates === 1 ? "" : "s"
    } · ${data} · Ctrl-C to stop`;
  };

  const draw = () => {
    if (stopped) return;
    const list = symbols.flatMap((s) => coins.get(s) ?? []);
    const width = Math.max(1, columns());
    const line = status();
    const text = `${formatTable(list, { color, now: now(), moves, unit, width })}\n${
      color ? `\x1b[2m${line}\x1b[0m` : line
    }`;
    const rows = text.split("\n").reduce(
      (n, l) => n + Math.max(1, Math.ceil(displayWidth(l) / width)),
      0,
    );
    // Back to the first line drawn last time, then clear everything below and draw anew. A draw
    // taller than the screen scrolled, and moving up stops at the top row: it would leave a copy
    // in the scrollback every second, so it starts from a cleared screen instead.
    const tall = drawnRows >= (options.rows?.() ?? Infinity);
    const back = tall ? CLEAR_SCREEN : drawnRows > 0 ? `\x1b[${drawnRows}F` : "";
    write(`${back}${CLEAR_BELOW}${text}\n`);
    drawnRows = rows;
  };

  const show = (coin: CoinView) => {
    if (options.json) write(safeJson(coin) + "\n");
    else if (!terminal) write(formatUpdateLine(coin, { unit }) + "\n");
  };

  const { promise: failed, reject: fail } = Promise.withResolvers<never>();
  failed.catch(() => {}); // raced below; an error after the stop is of no interest
  // Updates are handled one after another, so a slow currency look-up cannot reorder them,
  // and only once the current coins are shown, which an update may overtake otherwise.
  let gate = Promise.withResolvers<void>();
  let queue = Promise.resolve();
  const onUpdate = (from: WatchClient) => (update: CoinView) => {
    const open = gate.promise;
    queue = queue.then(() => open).then(async () => {
      if (stopped || from !== client) return;
      const coin = await inCurrency(from, update);
      if (stopped) return;
      const before = coins.get(coin.symbol);
      if (before !== undefined && before.price !== coin.price) {
        moves.set(coin.symbol, Math.sign(coin.price - before.price));
      }
      coins.set(coin.symbol, coin);
      updates++;
      lastUpdate = now();
      if (fancy) draw();
      else show(coin);
    }).catch(fail);
  };

  /** Starts the watch on `c`; drops (and reports) the symbols the server does not serve. */
  const subscribe = async (c: WatchClient): Promise<CoinView[]> => {
    try {
      return await c.watch(symbols, onUpdate(c));
    } catch (err) {
      if (!(err instanceof ServerError && err.code === "UNKNOWN_COIN") || symbols.length < 2) {
        throw err;
      }
      const served = new Set((await c.marketAll()).map((coin) => coin.symbol));
      const unknown = symbols.filter((s) => !served.has(s));
      symbols = symbols.filter((s) => served.has(s));
      if (symbols.length === 0) throw err;
      options.warn?.(
        new ServerError(
          "UNKNOWN_COIN",
          `No coin with symbol ${unknown.join(", ")}: watching ${symbols.join(", ")}`,
        ),
      );
      return await c.watch(symbols, onUpdate(c));
    }
  };

  /** Puts current coins in place, without counting them as updates or moves. */
  const refresh = async (c: WatchClient, list: readonly CoinView[]) => {
    for (const coin of await Promise.all(list.map((coin) => inCurrency(c, coin)))) {
      coins.set(coin.symbol, coin);
    }
  };

  const { promise: aborted, resolve: abort } = Promise.withResolvers<null>();
  if (signal.aborted) return;
  const onAbort = () => abort(null);
  signal.addEventListener("abort", onAbort, { once: true });
  let ticker: ReturnType<typeof setInterval> | undefined;
  let refresher: ReturnType<typeof setInterval> | undefined;
  let resize: Disposable | undefined;
  try {
    const initial = await Promise.race([subscribe(client), aborted]);
    if (initial === null) return;
    await refresh(client, initial);
    if (fancy) {
      write(HIDE_CURSOR);
      draw();
      ticker = setInterval(draw, options.tickMs ?? 1000);
      resize = options.onResize?.(() => {
        // Lines the terminal re-wrapped cannot be counted back: start from a clear screen.
        write(CLEAR_SCREEN);
        drawnRows = 0;
        draw();
      });
    } else {
      for (const coin of initial) show(coins.get(coin.symbol) ?? coin);
    }
    gate.resolve();
    options.onShown?.();
    const refreshMs = options.refreshMs ?? 10_000;
    refresher = setInterval(() => {
      if (reconnecting !== undefined || stopped) return;
      if (lastUpdate !== undefined && now().getTime() - lastUpdate.getTime() < refreshMs) return;
      // No pushes: the server's data may be stale, which a fresh look says.
      const c = client;
      c.marketAll(currency).then((all) => {
        if (c !== client || stopped) return;
        for (const coin of all) if (coins.has(coin.symbol)) coins.set(coin.symbol, coin);
        if (fancy) draw();
      }, () => {/* the connection's end is handled below */});
    }, refreshMs);

    for (;;) {
      const closed = await Promise.race([aborted, client.closed, failed]);
      if (closed === null) return;
      if (options.reconnect === undefined) throw closed;
      // Reconnect with backoff, showing it, until it works or the watch is stopped.
      for (let attempt = 1;; attempt++) {
        reconnecting = `${closed.message}; reconnecting...${
          attempt > 1 ? ` (attempt ${attempt})` : ""
        }`;
        if (fancy) draw();
        else if (attempt === 1) options.warn?.(new ConnectionError(reconnecting));
        const delay = backoffDelay(attempt, RECONNECT_BACKOFF);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const waited = await Promise.race([
          aborted,
          new Promise<true>((resolve) => timer = setTimeout(() => resolve(true), delay)),
        ]);
        clearTimeout(timer);
        if (waited === null) return;
        try {
          gate = Promise.withResolvers<void>();
          const next = await options.reconnect();
          client = next;
          const list = await Promise.race([subscribe(next), aborted]);
          if (list === null) return;
          await refresh(next, list);
          reconnecting = undefined;
          if (fancy) draw();
          else for (const coin of list) show(coins.get(coin.symbol) ?? coin);
          gate.resolve();
          break;
        } catch (err) {
          if (!(err instanceof ConnectionError)) throw err;
        }
      }
    }
  } finally {
    stopped = true;
    gate.resolve();
    clearInterval(ticker);
    clearInterval(refresher);
    resize?.[Symbol.dispose]();
    signal.removeEventListener("abort", onAbort);
    if (fancy) write(SHOW_CURSOR);
  }
}
