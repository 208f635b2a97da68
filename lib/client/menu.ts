/**
 * The interactive menu of the client: list all coins, look one up, see a coin's history, watch
 * coins live, choose the currency and see the server's status, until the user exits or the
 * input ends. Input is any source of lines, so it works the same on a terminal, with piped
 * stdin and in tests.
 *
 * @module
 */

import { HISTORY_RANGES, type HistoryRange, isSymbol, MAX_WATCHED } from "../wire/protocol.ts";
import {
  type CoinView,
  ConnectionError,
  type CurrencyInfo,
  type History,
  ServerError,
} from "./price_client.ts";
import { currencyUnit, historyIn } from "./currency.ts";
import { formatCoin, formatCurrencies, formatHistory, formatInfo, formatTable } from "./format.ts";
import { runWatch, type WatchClient } from "./watch_view.ts";

/** What the menu needs from a connection; {@linkcode PriceClient} has it. */
export interface MenuClient extends WatchClient {
  marketAll(currency?: string): Promise<CoinView[]>;
  market(symbol: string, currency?: string): Promise<CoinView>;
  history(symbol: string, range?: HistoryRange): Promise<History>;
  currencies(): Promise<CurrencyInfo[]>;
  info(): Promise<Record<string, unknown>>;
  unwatch(symbols?: readonly string[]): Promise<string[]>;
  close(): void;
}

/** Options for {@linkcode runMenu}. */
export interface MenuOptions {
  /** Lines typed by the user, without line endings, e.g. from {@linkcode readLines}. */
  input: AsyncIterable<string>;
  /** Writes menu text and results. */
  write: (s: string) => void;
  /** Writes error messages; defaults to `write`. */
  writeError?: (s: string) => void;
  /** Opens a connection; called at the start and again after a connection was lost. */
  connect: () => Promise<MenuClient>;
  /** Colour the output with ANSI codes. */
  color: boolean;
  /** Repeat each input line after its prompt, so a transcript of piped input reads naturally. */
  echo?: boolean;
  /** The clock for ages like `3m ago`. */
  now?: () => Date;
  /** The currency to start with (upper case); default USD. */
  currency?: string;
  /** Terminal columns, for sparklines and the watch table; default 80. */
  columns?: () => number;
  /** Whether the output is a terminal, so watch redraws its table in place. */
  terminal?: boolean;
  /** Catches Ctrl-C while watching, which then returns to the menu. */
  interrupts?: () => { readonly signal: AbortSignal } & Disposable;
}

const MENU_ITEMS = [
  "1. List all coins",
  "2. Look up a coin",
  "3. Price history of a coin",
  "4. Watch coins live",
  "5. Choose the currency",
  "6. Server info",
  "0. Exit",
];

/**
 * Runs the menu until the user chooses `0`/`q` or the input ends, and returns the exit code:
 * 0, or 1 when the first connection cannot be made. Server and connection errors during a
 * command are reported and the menu goes on; a lost connection is reopened on the next command.
 * Watching runs until Enter or Ctrl-C (back to the menu) or the end of input (exit).
 */
export async function runMenu(options: MenuOptions): Promise<number> {
  const { write, connect, color, echo = false } = options;
  const writeError = options.writeError ?? write;
  const now = options.now ?? (() => new Date());
  const columns = options.columns ?? (() => 80);
  const lines = options.input[Symbol.asyncIterator]();
  let currency = options.currency ?? "USD";
  /** The unit of `currency`, once checked with the server. */
  let unit: string | undefined = currency === "USD" ? "$" : undefined;
  /** A line being read while watching, which the next prompt must take rather than lose. */
  let reading: Promise<IteratorResult<string>> | undefined;
  const nextLine = () => {
    const next = reading ?? lines.next();
    reading = undefined;
    return next;
  };

  const menu = () =>
    MENU_ITEMS.map((item) => item.startsWith("5.") ? `${item} (now ${currency})` : item)
      .join("\n") + "\n";

  const ask = async (prompt: string): Promise<string | null> => {
    write(prompt);
    const next = await nextLine();
    if (next.done) {
      write("\n"); // leave the shell prompt on a fresh line
      return null;
    }
    if (echo) write(next.value + "\n");
    return next.value.trim();
  };

  let client: MenuClient | undefined;
  /** Runs one command, reporting server and connection errors. */
  const withClient = async (command: (c: MenuClient) => Promise<string>): Promise<void> => {
    try {
      client ??= await connect();
      const text = await command(client);
      if (text !== "") write(text + "\n");
    } catch (err) {
      if (err instanceof ConnectionError) {
        client?.close();
        client = undefined;
      } else if (!(err instanceof ServerError)) {
        throw err;
      }
      writeError(`error: ${err.message}\n`);
    }
  };
  const opts = async (c: MenuClient) => ({
    color,
    now: now(),
    unit: unit ??= await currencyUnit(c, currency),
  });
  const inCurrency = () => currency === "USD" ? undefined : currency;
  const askSymbol = async (): Promise<string | null | undefined> => {
    const symbol = await ask("Symbol (e.g. BTC): ");
    if (symbol === null || symbol === "") return symbol === null ? null : undefined;
    if (!isSymbol(symbol)) {
      writeError(`"${symbol}" is not a coin symbol: enter one symbol such as BTC\n`);
      return undefined;
    }
    return symbol;
  };

  /** Watches until Enter, Ctrl-C or the end of input; returns false at the end of input. */
  const watch = async (symbols: string[]): Promise<boolean> => {
    const stop = new AbortController();
    using interrupt = options.interrupts?.();
    interrupt?.signal.addEventListener("abort", () => stop.abort(), { once: true });
    let ended = false;
    const line = reading = lines.next();
    line.then((next) => {
      if (stop.signal.aborted) return;
      // The line only stopped the watch: it is not a menu choice.
      if (reading === line) reading = undefined;
      ended = next.done === true;
      stop.abort();
    }, () => stop.abort());
    write("Watching: press Enter or Ctrl-C to go back to the menu\n");
    await withClient(async (c) => {
      try {
        await runWatch({
          client: c,
          symbols,
          currency: inCurrency(),
          unit: (await opts(c)).unit,
          write,
          terminal: options.terminal ?? false,
          color,
          columns,
          now,
          signal: stop.signal,
        });
      } finally {
        stop.abort();
      }
      // Stop the server's updates, so they do not flow into the rest of the session.
      await c.unwatch();
      return "";
    });
    return !ended;
  };

  try {
    try {
      client = await connect();
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      writeError(`error: ${err.message}\n`);
      return 1;
    }
    write(menu());
    for (;;) {
      const choice = await ask("Choice: ");
      if (choice === null) return 0;
      switch (choice.toLowerCase()) {
        case "1":
          await withClient(async (c) =>
            formatTable(await c.marketAll(inCurrency()), await opts(c))
          );
          break;
        case "2": {
          const symbol = await askSymbol();
          if (symbol === null) return 0;
          if (symbol === undefined) break;
          await withClient(async (c) =>
            formatCoin(await c.market(symbol, inCurrency()), await opts(c))
          );
          break;
        }
        case "3": {
          const symbol = await askSymbol();
          if (symbol === null) return 0;
          if (symbol === undefined) break;
          const answer = await ask(`Range (${HISTORY_RANGES.join(", ")}; Enter for 24h): `);
          if (answer === null) return 0;
          const range = (answer || "24h").toLowerCase() as HistoryRange;
          if (!HISTORY_RANGES.includes(range)) {
            writeError(`"${answer}" is not a range: enter ${HISTORY_RANGES.join(", ")}\n`);
            break;
          }
          await withClient(async (c) => {
            const shown = await historyIn(c, await c.history(symbol, range), inCurrency());
            return formatHistory(shown.history, {
              ...await opts(c),
              width: columns(),
              note: shown.note,
            });
          });
          break;
        }
        case "4": {
          const answer = await ask("Symbols to watch (e.g. BTC ETH): ");
          if (answer === null) return 0;
          if (answer === "") break;
          const symbols = [...new Set(answer.split(/[\s,]+/).filter(Boolean))];
          const bad = symbols.find((s) => !isSymbol(s));
          if (bad !== undefined || symbols.length > MAX_WATCHED) {
            writeError(
              bad !== undefined
                ? `"${bad}" is not a coin symbol: enter symbols such as BTC ETH\n`
                : `Too many symbols: at most ${MAX_WATCHED} can be watched\n`,
            );
            break;
          }
          if (!await watch(symbols)) return 0;
          break;
        }
        case "5": {
          const answer = await ask("Currency code (e.g. EUR, VND; ? lists them): ");
          if (answer === null) return 0;
          if (answer === "") break;
          if (answer === "?") {
            await withClient(async (c) => formatCurrencies(await c.currencies(), { color }));
            continue;
          }
          const code = answer.toUpperCase();
          await withClient(async (c) => {
            unit = await currencyUnit(c, code);
            currency = code;
            return `Prices are now shown in ${code}`;
          });
          break;
        }
        case "6":
          await withClient(async (c) => formatInfo(await c.info(), { color, now: now() }));
          break;
        case "0":
        case "q":
        case "quit":
        case "exit":
          return 0;
        case "":
          continue;
        default:
          writeError(`Unknown choice "${choice}": enter 1 to 6, or 0 to exit (q also exits)\n`);
          continue;
      }
      write("\n" + menu());
    }
  } finally {
    client?.close();
    await lines.return?.();
  }
}

/** An input line was longer than the limit given to {@linkcode readLines}. */
export class LineTooLongError extends Error {
  override name = "LineTooLongError";
}

/**
 * Splits a byte stream into lines (UTF-8, `\n` or `\r\n` endings; a last line without an ending
 * counts too). Lines longer than `maxLineBytes` throw a {@linkcode LineTooLongError}.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  { maxLineBytes = 64 * 1024 }: { maxLineBytes?: number } = {},
): AsyncGenerator<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array) => {
    size += bytes.length;
    if (size > maxLineBytes) {
      throw new LineTooLongError(`Input line is longer than ${maxLineBytes} bytes`);
    }
    if (bytes.length > 0) parts.push(bytes.slice());
  };
  const take = () => {
    const line = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      line.set(p, off);
      off += p.length;
    }
    parts = [];
    size = 0;
    const text = decoder.decode(line);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let from = 0;
      for (let nl = value.indexOf(0x0a); nl !== -1; nl = value.indexOf(0x0a, from)) {
        push(value.subarray(from, nl));
        from = nl + 1;
        yield take();
      }
      push(value.subarray(from));
    }
    if (size > 0) yield take();
  } finally {
    reader.releaseLock();
  }
}
