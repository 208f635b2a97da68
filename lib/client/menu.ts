/**
 * The interactive client: a prompt that takes command words (`price btc`, `history eth 7d`,
 * `watch btc eth`, `currency eur`, `help`) and the original assignment's menu numbers, which ask
 * for what they need. One table of items drives the menu text, `help`, completion and dispatch.
 * Input is a {@linkcode Prompter} or any source of lines, so it works the same on a terminal,
 * with piped stdin and in tests.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import { HISTORY_RANGES } from "../wire/history_range.ts";
import { isCurrencyCode, isSymbol } from "../wire/request.ts";
import { ConnectionError, ServerError } from "./price_client.ts";
import type { CoinView } from "../wire/coin_view.ts";
import { currencyUnit } from "./currency.ts";
import { formatCurrencies } from "./format.ts";
import {
  checkRange,
  checkWatchList,
  type Command,
  type CommandClient,
  errorMessage,
  parseCommand,
  runCommand,
} from "./commands.ts";
import { linePrompter, type Prompter } from "./prompt.ts";
import { safeText } from "../text/safe_text.ts";
import { runWatch, type WatchClient } from "./watch_view.ts";

/** What the menu needs from a connection; {@linkcode PriceClient} has it. */
export interface MenuClient extends WatchClient, CommandClient {
  unwatch(symbols?: readonly string[]): Promise<string[]>;
  close(): void;
}

/** Options for {@linkcode runMenu}. */
export interface MenuOptions {
  /** A prompter, or lines typed by the user without line endings (e.g. from `readLines`). */
  input: Prompter | AsyncIterable<string>;
  /** Writes menu text and results. */
  write: (s: string) => void;
  /** Writes error messages; defaults to `write`. */
  writeError?: (s: string) => void;
  /** Opens a connection; called at the start and again after a connection was lost. */
  connect: () => Promise<MenuClient>;
  /** Colour the output with ANSI codes. */
  color: boolean;
  /** With lines as input: repeat each line after its prompt, so a transcript reads naturally. */
  echo?: boolean;
  /** The clock for ages like `3m ago`. */
  now?: () => Date;
  /** The currency to start with (upper case); default USD. */
  currency?: string;
  /** Terminal columns, for tables, charts and the watch table; default 80. */
  columns?: () => number;
  /** Terminal rows, for the watch table; default no limit. */
  rows?: () => number;
  /** Whether the output is a terminal, so watch redraws its table in place. */
  terminal?: boolean;
  /** Catches Ctrl-C while watching, which then returns to the menu. */
  interrupts?: () => { readonly signal: AbortSignal } & Disposable;
  /** Calls a listener when the terminal is resized, until disposed (for watch). */
  onResize?: (listener: () => void) => Disposable;
}

/** The state a menu item works with. */
interface Session {
  ask(prompt: string): Promise<string | null>;
  /** Whether the server serves `symbol`; reports it when not. */
  known(symbol: string): Promise<boolean>;
  writeError(s: string): void;
  currency: string;
  /** The unit of `currency`, once checked with the server. */
  unit: string | undefined;
}

/** What a numbered choice asked for: the words after the command word, or why there are none. */
type Asked = string[] | "back" | "end";

/** One entry of the menu: its number, its command word and how a number asks for arguments. */
interface MenuItem {
  key: string;
  word: string;
  label: string;
  /** The command line form, for `help`. */
  usage: string;
  /** Asks for the arguments when chosen by number or typed without them. */
  ask?: (session: Session) => Promise<Asked>;
}

const MENU: readonly MenuItem[] = [
  { key: "1", word: "list", label: "List all coins", usage: "list" },
  {
    key: "2",
    word: "price",
    label: "Look up a coin",
    usage: "price SYMBOL...",
    ask: askSymbol,
  },
  {
    key: "3",
    word: "history",
    label: "Price history of a coin",
    usage: `history SYMBOL [${HISTORY_RANGES.join("|")}]`,
    ask: async (s) => {
      const asked = await askSymbol(s);
      if (!Array.isArray(asked)) return asked;
      const [symbol] = asked;
      // The symbol is checked before the range is asked, and kept while that is asked again.
      if (!await s.known(symbol)) return "back";
      for (;;) {
        const answer = await s.ask(`Range (${HISTORY_RANGES.join(", ")}; Enter for 24h): `);
        if (answer === null) return "end";
        try {
          return [symbol, checkRange(answer || "24h")];
        } catch (err) {
          s.writeError(`${errorMessage(err)}\n`);
        }
      }
    },
  },
  {
    key: "4",
    word: "watch",
    label: "Watch coins live",
    usage: "watch SYMBOL...",
    ask: (s) =>
      askWith(s, "Symbols to watch (e.g. BTC ETH): ", (answer) => {
        const words = answer.split(/[\s,]+/).filter(Boolean);
        try {
          checkWatchList(words);
          return words;
        } catch (err) {
          s.writeError(`${errorMessage(err)}\n`);
          return "back";
        }
      }),
  },
  {
    key: "5",
    word: "currency",
    label: "Choose the currency",
    usage: "currency CODE",
    ask: (s) => askWith(s, "Currency code (e.g. EUR, VND; ? lists them): ", (a) => [a]),
  },
  { key: "6", word: "info", label: "Server info", usage: "info" },
  { key: "0", word: "quit", label: "Exit", usage: "quit" },
];

/** Other words the prompt knows, beside the items' own. */
const ALIASES: Readonly<Record<string, string>> = { q: "quit", exit: "quit", "?": "help" };
const EXTRA_WORDS = ["help", "currencies", "search"];

/** Asks with `prompt`: the end of input ends, an empty line goes back, else `use` decides. */
async function askWith(
  s: Session,
  prompt: string,
  use: (answer: string) => Asked,
): Promise<Asked> {
  const answer = await s.ask(prompt);
  if (answer === null) return "end";
  return answer === "" ? "back" : use(answer);
}

function askSymbol(s: Session): Promise<Asked> {
  return askWith(s, "Symbol (e.g. BTC): ", (answer) => {
    if (isSymbol(answer)) return [answer];
    s.writeError(`"${safeText(answer)}" is not a coin symbol: enter one symbol such as BTC\n`);
    return "back";
  });
}

function menuText(currency: string): string {
  return MENU.map((item) =>
    `${item.key}. ${item.label}${item.word === "currency" ? ` (now ${currency})` : ""}`
  ).join("\n") + "\n";
}

function helpText(): string {
  const width = Math.max(...MENU.map((i) => i.usage.length), "currencies".length);
  return [
    "Type a command, or its number:",
    ...MENU.map((i) => `  ${i.key}  ${i.usage.padEnd(width)}  ${i.label.toLowerCase()}`),
    `     ${"currencies".padEnd(width)}  list the currencies`,
    `     ${"search WORD".padEnd(width)}  find coins beyond the list by symbol or name`,
    `     ${"help".padEnd(width)}  this text`,
    "Arrow keys edit and recall lines; Tab completes commands and coin symbols.",
  ].join("\n") + "\n";
}

/**
 * Runs the prompt until the user quits or the input ends, and returns the exit code: 0, or 1
 * when the first connection cannot be made. Server and connection errors during a command are
 * reported and the prompt goes on; a lost connection is reopened on the next command. Watching
 * runs until Enter or Ctrl-C (back to the prompt) or the end of input (exit, once the watched
 * coins were shown).
 */
export async function runMenu(options: MenuOptions): Promise<number> {
  const { write, connect, color } = options;
  const writeError = options.writeError ?? write;
  const now = options.now ?? (() => new Date());
  const columns = options.columns ?? (() => 80);
  const prompter = "read" in options.input
    ? options.input
    : linePrompter(options.input, write, options.echo ?? false);
  const session: Session = {
    ask: async (prompt) => (await prompter.read(prompt))?.trim() ?? null,
    known: async (symbol) => {
      let found = false;
      await withClient(async (c) => {
        await c.market(symbol);
        found = true;
      });
      return found;
    },
    writeError,
    currency: options.currency ?? "USD",
    unit: options.currency === undefined || options.currency === "USD" ? "$" : undefined,
  };
  const inCurrency = () => session.currency === "USD" ? undefined : session.currency;

  let client: MenuClient | undefined;
  /** Runs one step with a connection, reporting server and connection errors. */
  const withClient = async (step: (c: MenuClient) => Promise<void>): Promise<void> => {
    try {
      client ??= await connect();
      await step(client);
    } catch (err) {
      if (err instanceof ConnectionError) {
        client?.close();
        client = undefined;
      } else if (!(err instanceof ServerError)) {
        throw err;
      }
      writeError(`error: ${errorMessage(err)}\n`);
    }
  };

  let symbols: string[] | undefined;
  prompter.setCompleter?.(async (line) => {
    const words = line.trimStart().split(/\s+/);
    if (words.length <= 1) return [...MENU.map((i) => i.word), ...EXTRA_WORDS].sort();
    if (words[0].toLowerCase() === "currency" && client !== undefined) {
      return (await client.currencies()).map((c) => c.code.toLowerCase());
    }
    if (!["price", "history", "watch"].includes(words[0].toLowerCase())) return [];
    if (words[0].toLowerCase() === "history" && words.length === 3) return [...HISTORY_RANGES];
    if (symbols === undefined && client !== undefined) {
      symbols = (await client.marketAll()).map((c: CoinView) => c.symbol.toLowerCase());
    }
    return symbols ?? [];
  });

  /** Watches until Enter, Ctrl-C or the end of input; returns false at the end of input. */
  const watch = async (symbols: string[]): Promise<boolean> => {
    const stop = new AbortController();
    using interrupt = options.interrupts?.();
    interrupt?.signal.addEventListener("abort", () => stop.abort(), { once: true });
    using _ctrlC = prompter.onInterrupt?.(() => stop.abort());
    const { promise: shown, resolve: onShown } = Promise.withResolvers<void>();
    let ended = false;
    // The line that stops the watch is no menu choice; one typed after a Ctrl-C is.
    const reading = new AbortController();
    stop.signal.addEventListener("abort", () => reading.abort(), { once: true });
    prompter.read("", reading.signal).then((line) => {
      if (stop.signal.aborted) return;
      ended = line === null;
      // At the end of input, what was asked for is shown first.
      if (ended) shown.then(() => stop.abort());
      else stop.abort();
    });
    write("Watching: press Enter or Ctrl-C to go back to the menu\n");
    await withClient(async (c) => {
      try {
        await runWatch({
          client: c,
          reconnect: async () => client = await connect(),
          symbols,
          currency: inCurrency(),
          unit: session.unit ??= await currencyUnit(c, session.currency),
          write,
          warn: (err) => writeError(`error: ${errorMessage(err)}\n`),
          terminal: options.terminal ?? false,
          color,
          columns,
          rows: options.rows,
          now,
          signal: stop.signal,
          onShown,
          onResize: options.onResize,
        });
      } finally {
        onShown();
        stop.abort();
      }
      // Stop the server's updates, so they do not flow into the rest of the session.
      await client?.unwatch();
    });
    return !ended;
  };

  /** Runs a command line; returns false when the session ends. */
  const dispatch = async (line: string): Promise<boolean> => {
    const [first, ...args] = line.split(/\s+/);
    const word = first.toLowerCase();
    const name = ALIASES[word] ?? word;
    if (name === "help") {
      write(helpText());
      return true;
    }
    const item = MENU.find((i) => i.key === name || i.word === name);
    if (item === undefined && name !== "currencies") {
      writeError(
        `Unknown choice "${safeText(first)}": enter 1 to 6 or a command (help lists them), ` +
          `or 0 to exit\n`,
      );
      return true;
    }
    if (item?.word === "quit") return false;
    let words = args;
    if (words.length === 0 && item?.ask) {
      const asked = await item.ask(session);
      if (asked === "end") return false;
      if (asked === "back") return true;
      words = asked;
    }
    if (item?.word === "currency") return await chooseCurrency(words);
    let command: Command;
    try {
      command = parseCommand(item?.word ?? name, words);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      writeError(`${errorMessage(err)}\n`);
      return true;
    }
    if (command.kind === "watch") return await watch(command.symbols);
    await withClient(async (c) => {
      await runCommand(command as Exclude<Command, { kind: "watch" }>, {
        client: c,
        currency: inCurrency(),
        unit: session.unit ??= await currencyUnit(c, session.currency),
        format: "text",
        write,
        error: (err) => writeError(`error: ${errorMessage(err)}\n`),
        color,
        now,
        columns,
      });
    });
    return true;
  };

  /** `currency CODE`; `?` lists the codes and asks again. */
  const chooseCurrency = async (words: string[]): Promise<boolean> => {
    let answer: string | null = words.join(" ");
    for (;;) {
      if (answer === null) return false;
      if (answer === "") return true;
      if (answer !== "?") break;
      await withClient(async (c) =>
        write(formatCurrencies(await c.currencies(), { color }) + "\n")
      );
      answer = await session.ask("Currency code (e.g. EUR, VND; ? lists them): ");
    }
    const code = answer.toUpperCase();
    if (!isCurrencyCode(code)) {
      writeError(`"${safeText(answer)}" is not a currency code such as EUR or VND\n`);
      return true;
    }
    await withClient(async (c) => {
      session.unit = await currencyUnit(c, code);
      session.currency = code;
      write(`Prices are now shown in ${code}\n`);
    });
    return true;
  };

  try {
    try {
      client = await connect();
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      writeError(`error: ${errorMessage(err)}\n`);
      return 1;
    }
    write(menuText(session.currency));
    for (;;) {
      const line = await session.ask("Choice: ");
      if (line === null) return 0;
      if (line === "") continue;
      if (!await dispatch(line)) return 0;
      write("\n" + menuText(session.currency));
    }
  } finally {
    client?.close();
    prompter.close();
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
