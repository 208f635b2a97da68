/**
 * The interactive client: a prompt that takes command words (`price btc`, `history eth 7d`,
 * `watch btc eth`, `currency eur`, `help`) and the original assignment's menu numbers, which ask
 * for what they need (the items are in menu_items.ts). Input is a {@linkcode Prompter} or any
 * source of lines, so it works the same on a terminal, with piped stdin and in tests.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import { HISTORY_RANGES } from "../wire/history_range.ts";
import { isCurrencyCode } from "../wire/request.ts";
import { ConnectionError, ServerError } from "./price_client.ts";
import { currencyUnit } from "./currency.ts";
import { formatCurrencies } from "./format.ts";
import {
  type Command,
  type CommandClient,
  errorMessage,
  parseCommand,
  runCommand,
} from "./commands.ts";
import {
  ALIASES,
  CURRENCY_PROMPT,
  EXTRA_WORDS,
  helpText,
  MENU,
  menuText,
  type Session,
} from "./menu_items.ts";
import { linePrompter, type Prompter } from "./prompt.ts";
import { safeText } from "../text/safe_text.ts";
import { type Interrupt, watchCommand } from "./watch_command.ts";
import type { WatchClient } from "./watch_view.ts";

export { LineTooLongError, readLines } from "./read_lines.ts";

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
  /** The message for a server or connection error; defaults to `errorMessage`. */
  explain?: (err: unknown) => string;
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
  interrupts?: () => Interrupt;
  /** Calls a listener when the terminal is resized, until disposed (for watch). */
  onResize?: (listener: () => void) => Disposable;
}

/**
 * Runs the prompt until the user quits or the input ends, and returns the exit code: 0, or 1
 * when the first connection cannot be made. Server and connection errors during a command are
 * reported and the prompt goes on; a lost connection is reopened on the next command. Watching
 * runs until Enter or Ctrl-C (back to the prompt) or the end of input (exit, once the watched
 * coins were shown).
 */
export async function runMenu(options: MenuOptions): Promise<number> {
  return await new Menu(options).run();
}

/** One prompt session: its connection, currency and the symbols known for completion. */
class Menu implements Session {
  readonly #options: MenuOptions;
  readonly #prompter: Prompter;
  readonly #now: () => Date;
  readonly #columns: () => number;
  #client: MenuClient | undefined;
  /** Lower-case symbols for completion, fetched once. */
  #symbols: string[] | undefined;
  currency: string;
  unit: string | undefined;

  constructor(options: MenuOptions) {
    this.#options = options;
    this.#prompter = "read" in options.input
      ? options.input
      : linePrompter(options.input, options.write, options.echo ?? false);
    this.#now = options.now ?? (() => new Date());
    this.#columns = options.columns ?? (() => 80);
    this.currency = options.currency ?? "USD";
    this.unit = options.currency === undefined || options.currency === "USD" ? "$" : undefined;
    this.#prompter.setCompleter?.((line) => this.#complete(line));
  }

  async ask(prompt: string): Promise<string | null> {
    return (await this.#prompter.read(prompt))?.trim() ?? null;
  }

  async known(symbol: string): Promise<boolean> {
    let found = false;
    await this.#withClient(async (c) => {
      await c.market(symbol);
      found = true;
    });
    return found;
  }

  writeError(s: string): void {
    (this.#options.writeError ?? this.#options.write)(s);
  }

  /** Connects, then reads and runs lines until the user quits or the input ends. */
  async run(): Promise<number> {
    const { write } = this.#options;
    try {
      try {
        this.#client = await this.#options.connect();
      } catch (err) {
        if (!(err instanceof ConnectionError)) throw err;
        this.#reportError(err);
        return 1;
      }
      write(menuText(this.currency));
      for (;;) {
        const line = await this.ask("Choice: ");
        if (line === null) return 0;
        if (line === "") continue;
        if (!await this.#dispatch(line)) return 0;
        write("\n" + menuText(this.currency));
      }
    } finally {
      this.#client?.close();
      this.#prompter.close();
    }
  }

  /** The currency to ask the server for: undefined for its default, USD. */
  get #inCurrency(): string | undefined {
    return this.currency === "USD" ? undefined : this.currency;
  }

  #reportError(err: unknown): void {
    this.writeError(`error: ${(this.#options.explain ?? errorMessage)(err)}\n`);
  }

  /** Runs one step with a connection, reporting server and connection errors. */
  async #withClient(step: (c: MenuClient) => Promise<void>): Promise<void> {
    try {
      this.#client ??= await this.#options.connect();
      await step(this.#client);
    } catch (err) {
      if (err instanceof ConnectionError) {
        this.#client?.close();
        this.#client = undefined;
      } else if (!(err instanceof ServerError)) {
        throw err;
      }
      this.#reportError(err);
    }
  }

  async #complete(line: string): Promise<string[]> {
    const words = line.trimStart().split(/\s+/);
    const first = words[0].toLowerCase();
    const client = this.#client;
    if (words.length <= 1) return [...MENU.map((i) => i.word), ...EXTRA_WORDS].sort();
    if (first === "currency" && client !== undefined) {
      return (await client.currencies()).map((c) => c.code.toLowerCase());
    }
    if (!["price", "history", "watch"].includes(first)) return [];
    if (first === "history" && words.length === 3) return [...HISTORY_RANGES];
    if (this.#symbols === undefined && client !== undefined) {
      this.#symbols = (await client.marketAll()).map((c) => c.symbol.toLowerCase());
    }
    return this.#symbols ?? [];
  }

  /** Runs a command line; returns false when the session ends. */
  async #dispatch(line: string): Promise<boolean> {
    const [first, ...args] = line.split(/\s+/);
    const word = first.toLowerCase();
    const name = ALIASES[word] ?? word;
    if (name === "help") {
      this.#options.write(helpText());
      return true;
    }
    const item = MENU.find((i) => i.key === name || i.word === name);
    if (item === undefined && name !== "currencies") {
      this.writeError(
        `Unknown choice "${safeText(first)}": enter 1 to 6 or a command (help lists them), ` +
          `or 0 to exit\n`,
      );
      return true;
    }
    if (item?.word === "quit") return false;
    let words = args;
    const asked = words.length === 0 && item?.ask !== undefined;
    if (asked && item?.ask) {
      const asked = await item.ask(this);
      if (asked === "end") return false;
      if (asked === "back") return true;
      words = asked;
    }
    if (item?.word === "currency") return await this.#chooseCurrency(words, asked);
    let command: Command;
    try {
      command = parseCommand(item?.word ?? name, words);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      this.writeError(`${errorMessage(err)}\n`);
      return true;
    }
    if (command.kind === "watch") return await this.#watch(command.symbols);
    await this.#withClient((c) => this.#runCommand(c, command));
    return true;
  }

  async #runCommand(c: MenuClient, command: Exclude<Command, { kind: "watch" }>): Promise<void> {
    const { write, color } = this.#options;
    await runCommand(command, {
      client: c,
      currency: this.#inCurrency,
      unit: this.unit ??= await currencyUnit(c, this.currency),
      format: "text",
      write,
      error: (err) => this.#reportError(err),
      color,
      now: this.#now,
      columns: this.#columns,
    });
  }

  /** Watches until Enter, Ctrl-C or the end of input; returns false at the end of input. */
  async #watch(symbols: string[]): Promise<boolean> {
    const options = this.#options;
    const stop = new AbortController();
    using _ctrlC = this.#prompter.onInterrupt?.(() => stop.abort());
    const { promise: shown, resolve: onShown } = Promise.withResolvers<void>();
    let ended = false;
    // The line that stops the watch is no menu choice; one typed after a Ctrl-C is.
    const reading = new AbortController();
    stop.signal.addEventListener("abort", () => reading.abort(), { once: true });
    this.#prompter.read("", reading.signal).then((line) => {
      if (stop.signal.aborted) return;
      ended = line === null;
      // At the end of input, what was asked for is shown first.
      if (ended) shown.then(() => stop.abort());
      else stop.abort();
    });
    options.write("Watching: press Enter or Ctrl-C to go back to the menu\n");
    await this.#withClient(async (c) => {
      try {
        this.#client = await watchCommand({
          client: c,
          connect: options.connect,
          symbols,
          currency: this.#inCurrency,
          unit: this.unit ??= await currencyUnit(c, this.currency),
          interrupts: options.interrupts,
          stop,
          onShown,
          display: {
            write: options.write,
            warn: (err) => this.#reportError(err),
            terminal: options.terminal ?? false,
            color: options.color,
            columns: this.#columns,
            rows: options.rows,
            now: this.#now,
            onResize: options.onResize,
          },
        });
      } finally {
        onShown();
        stop.abort();
      }
      // Stop the server's updates, so they do not flow into the rest of the session.
      await this.#client?.unwatch();
    });
    return !ended;
  }

  /**
   * `currency CODE`; `?` lists the codes and asks again. When the code was asked for (menu 5),
   * a bad or unknown one asks again, as menu 3 does for a range; Enter goes back.
   */
  async #chooseCurrency(words: string[], asked: boolean): Promise<boolean> {
    const { write, color } = this.#options;
    let answer: string | null = words.join(" ");
    for (;;) {
      if (answer === null) return false;
      if (answer === "") return true;
      if (answer === "?") {
        await this.#withClient(async (c) =>
          write(formatCurrencies(await c.currencies(), { color }) + "\n")
        );
      } else if (await this.#switchCurrency(answer) || !asked) {
        return true;
      }
      answer = await this.ask(CURRENCY_PROMPT);
    }
  }

  /** Switches to the currency `answer` names, once the server knows it; false when not. */
  async #switchCurrency(answer: string): Promise<boolean> {
    const code = answer.toUpperCase();
    if (!isCurrencyCode(code)) {
      this.writeError(`"${safeText(answer)}" is not a currency code such as EUR or VND\n`);
      return false;
    }
    let switched = false;
    await this.#withClient(async (c) => {
      this.unit = await currencyUnit(c, code);
      this.currency = code;
      this.#options.write(`Prices are now shown in ${code}\n`);
      switched = true;
    });
    return switched;
  }
}
