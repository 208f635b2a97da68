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
import { displayWidth, truncate } from "../text/display_width.ts";
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
  if (options.signal.aborted) return;
  await new WatchView(options).run();
}

/** One running watch: the coins shown, the connection in use and the redraw state. */
class WatchView {
  readonly #options: WatchOptions;
  readonly #now: () => Date;
  readonly #columns: () => number;
  /** A table redrawn in place, rather than lines. */
  readonly #fancy: boolean;
  #symbols: string[];
  #client: WatchClient;
  readonly #coins = new Map<string, CoinView>();
  readonly #moves = new Map<string, number>();
  #drawnRows = 0;
  #updates = 0;
  #lastUpdate: Date | undefined;
  /** What the status line says while a dropped connection is reopened. */
  #reconnecting: string | undefined;
  #stopped = false;
  /** Rejects when handling an update fails; raced with the connection's end. */
  readonly #failed = Promise.withResolvers<never>();
  /**
   * Updates are handled one after another, so a slow currency look-up cannot reorder them,
   * and only once the current coins are shown (the gate opens), which an update may overtake
   * otherwise.
   */
  #gate = Promise.withResolvers<void>();
  #queue = Promise.resolve();
  /** Resolves with null once the signal aborts. */
  readonly #aborted = Promise.withResolvers<null>();
  #ticker: ReturnType<typeof setInterval> | undefined;
  #refresher: ReturnType<typeof setInterval> | undefined;
  #resize: Disposable | undefined;

  constructor(options: WatchOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#columns = options.columns ?? (() => 80);
    this.#fancy = options.terminal && !options.json;
    this.#symbols = [...new Set(options.symbols.map((s) => s.toUpperCase()))];
    this.#client = options.client;
    this.#failed.promise.catch(() => {}); // an error after the stop is of no interest
  }

  async run(): Promise<void> {
    const { signal } = this.#options;
    const onAbort = () => this.#aborted.resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const initial = await Promise.race([this.#subscribe(this.#client), this.#aborted.promise]);
      if (initial === null) return;
      await this.#refresh(this.#client, initial);
      this.#showFirst(initial);
      this.#gate.resolve();
      this.#options.onShown?.();
      this.#startRefresher();
      await this.#followConnection();
    } finally {
      this.#stopped = true;
      this.#gate.resolve();
      clearInterval(this.#ticker);
      clearInterval(this.#refresher);
      this.#resize?.[Symbol.dispose]();
      signal.removeEventListener("abort", onAbort);
      if (this.#fancy) this.#options.write(SHOW_CURSOR);
    }
  }

  /** The coin in the watch's currency: the server pushes USD. */
  #inCurrency(c: WatchClient, coin: CoinView): Promise<CoinView> | CoinView {
    const { currency } = this.#options;
    return currency !== undefined && coin.currency !== currency
      ? c.market(coin.symbol, currency)
      : coin;
  }

  /**
   * The status line in at most `width` columns: the parts least needed go first (the count of
   * updates, then the Ctrl-C hint, then the data's age), then the rest is cut.
   */
  #status(width: number): string {
    const parts: { text: string; drop?: number }[] = [];
    if (this.#reconnecting !== undefined) {
      parts.push({ text: this.#reconnecting });
    } else {
      const last = this.#lastUpdate;
      if (last === undefined) {
        parts.push({ text: "Waiting for updates" });
      } else {
        const age = formatAge(last.toISOString(), this.#now());
        parts.push(
          { text: `Last update ${last.toISOString().slice(11, 19)} UTC (${age})` },
          { text: `${this.#updates} update${this.#updates === 1 ? "" : "s"}`, drop: 1 },
        );
      }
      // How old the server's data is, as `price` says it: no update may also mean stale data.
      const fetched = [...this.#coins.values()].map((c) => c.fetched_at).sort().at(-1) ?? null;
      parts.push({ text: `data fetched ${formatAge(fetched, this.#now())}`, drop: 3 });
    }
    parts.push({ text: "Ctrl-C to stop", drop: 2 });
    const line = (shown: typeof parts) => shown.map((p) => p.text).join(" · ");
    let shown = parts;
    for (let drop = 1; drop <= 3 && displayWidth(line(shown)) > width; drop++) {
      shown = shown.filter((p) => p.drop !== drop);
    }
    return truncate(line(shown), width);
  }

  #draw(): void {
    if (this.#stopped) return;
    const { color, unit } = this.#options;
    const list = this.#symbols.flatMap((s) => this.#coins.get(s) ?? []);
    const width = Math.max(1, this.#columns());
    const line = this.#status(width);
    const table = formatTable(list, { color, now: this.#now(), moves: this.#moves, unit, width });
    const text = `${table}\n${color ? `\x1b[2m${line}\x1b[0m` : line}`;
    const rows = text.split("\n").reduce(
      (n, l) => n + Math.max(1, Math.ceil(displayWidth(l) / width)),
      0,
    );
    // Back to the first line drawn last time, then clear everything below and draw anew. A draw
    // taller than the screen scrolled, and moving up stops at the top row: it would leave a copy
    // in the scrollback every second, so it starts from a cleared screen instead.
    const tall = this.#drawnRows >= (this.#options.rows?.() ?? Infinity);
    const back = tall ? CLEAR_SCREEN : this.#drawnRows > 0 ? `\x1b[${this.#drawnRows}F` : "";
    this.#options.write(`${back}${CLEAR_BELOW}${text}\n`);
    this.#drawnRows = rows;
  }

  /** One coin as a line of JSON or text, when not drawing a table. */
  #show(coin: CoinView): void {
    const { json, terminal, unit, write } = this.#options;
    if (json) write(safeJson(coin) + "\n");
    else if (!terminal) write(formatUpdateLine(coin, { unit }) + "\n");
  }

  /** The watched coins the first time: the table and its timers, or one line each. */
  #showFirst(initial: readonly CoinView[]): void {
    if (!this.#fancy) {
      for (const coin of initial) this.#show(this.#coins.get(coin.symbol) ?? coin);
      return;
    }
    this.#options.write(HIDE_CURSOR);
    this.#draw();
    this.#ticker = setInterval(() => this.#draw(), this.#options.tickMs ?? 1000);
    this.#resize = this.#options.onResize?.(() => {
      // Lines the terminal re-wrapped cannot be counted back: start from a clear screen.
      this.#options.write(CLEAR_SCREEN);
      this.#drawnRows = 0;
      this.#draw();
    });
  }

  /** A listener for updates pushed on `from`, ignored once another connection took over. */
  #onUpdate(from: WatchClient): (update: CoinView) => void {
    return (update) => {
      const open = this.#gate.promise;
      this.#queue = this.#queue.then(() => open).then(async () => {
        if (this.#stopped || from !== this.#client) return;
        const coin = await this.#inCurrency(from, update);
        if (this.#stopped) return;
        const before = this.#coins.get(coin.symbol);
        if (before !== undefined && before.price !== coin.price) {
          this.#moves.set(coin.symbol, Math.sign(coin.price - before.price));
        }
        this.#coins.set(coin.symbol, coin);
        this.#updates++;
        this.#lastUpdate = this.#now();
        if (this.#fancy) this.#draw();
        else this.#show(coin);
      }).catch(this.#failed.reject);
    };
  }

  /** Starts the watch on `c`; drops (and reports) the symbols the server does not serve. */
  async #subscribe(c: WatchClient): Promise<CoinView[]> {
    try {
      return await c.watch(this.#symbols, this.#onUpdate(c));
    } catch (err) {
      const symbols = this.#symbols;
      if (!(err instanceof ServerError && err.code === "UNKNOWN_COIN") || symbols.length < 2) {
        throw err;
      }
      const served = new Set((await c.marketAll()).map((coin) => coin.symbol));
      const unknown = symbols.filter((s) => !served.has(s));
      this.#symbols = symbols.filter((s) => served.has(s));
      if (this.#symbols.length === 0) throw err;
      this.#options.warn?.(
        new ServerError(
          "UNKNOWN_COIN",
          `No coin with symbol ${unknown.join(", ")}: watching ${this.#symbols.join(", ")}`,
        ),
      );
      return await c.watch(this.#symbols, this.#onUpdate(c));
    }
  }

  /** Puts current coins in place, without counting them as updates or moves. */
  async #refresh(c: WatchClient, list: readonly CoinView[]): Promise<void> {
    for (const coin of await Promise.all(list.map((coin) => this.#inCurrency(c, coin)))) {
      this.#coins.set(coin.symbol, coin);
    }
  }

  /** With no pushes for a while, fetches the coins again: the server's data may be stale. */
  #startRefresher(): void {
    const refreshMs = this.#options.refreshMs ?? 10_000;
    this.#refresher = setInterval(() => {
      if (this.#reconnecting !== undefined || this.#stopped) return;
      const last = this.#lastUpdate;
      if (last !== undefined && this.#now().getTime() - last.getTime() < refreshMs) return;
      const c = this.#client;
      c.marketAll(this.#options.currency).then((all) => {
        if (c !== this.#client || this.#stopped) return;
        for (const coin of all) {
          if (this.#coins.has(coin.symbol)) this.#coins.set(coin.symbol, coin);
        }
        if (this.#fancy) this.#draw();
      }, () => {/* the connection's end is handled by #followConnection */});
    }, refreshMs);
  }

  /** Waits for the stop, reopening the connection each time it drops (when it may). */
  async #followConnection(): Promise<void> {
    for (;;) {
      const closed = await Promise.race([
        this.#aborted.promise,
        this.#client.closed,
        this.#failed.promise,
      ]);
      if (closed === null) return;
      if (this.#options.reconnect === undefined) throw closed;
      if (!await this.#reconnect(closed, this.#options.reconnect)) return;
    }
  }

  /**
   * Reconnects with backoff, showing it, until it works (true) or the watch is stopped (false).
   */
  async #reconnect(
    closed: ConnectionError,
    reconnect: () => Promise<WatchClient>,
  ): Promise<boolean> {
    for (let attempt = 1;; attempt++) {
      this.#reconnecting = `${closed.message}; reconnecting...${
        attempt > 1 ? ` (attempt ${attempt})` : ""
      }`;
      if (this.#fancy) this.#draw();
      else if (attempt === 1) this.#options.warn?.(new ConnectionError(this.#reconnecting));
      if (!await this.#wait(backoffDelay(attempt, RECONNECT_BACKOFF))) return false;
      try {
        this.#gate = Promise.withResolvers<void>();
        const next = await reconnect();
        this.#client = next;
        const list = await Promise.race([this.#subscribe(next), this.#aborted.promise]);
        if (list === null) return false;
        await this.#refresh(next, list);
        this.#reconnecting = undefined;
        if (this.#fancy) this.#draw();
        else for (const coin of list) this.#show(this.#coins.get(coin.symbol) ?? coin);
        this.#gate.resolve();
        return true;
      } catch (err) {
        if (!(err instanceof ConnectionError)) throw err;
      }
    }
  }

  /** Waits `ms`; false when the watch was stopped first. */
  async #wait(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([
      this.#aborted.promise,
      new Promise<true>((resolve) => timer = setTimeout(() => resolve(true), ms)),
    ]);
    clearTimeout(timer);
    return waited !== null;
  }
}
