/**
 * The interactive menu of the client: list all coins or look one up, until the user exits or
 * the input ends. Input is any source of lines, so it works the same on a terminal, with piped
 * stdin and in tests.
 *
 * @module
 */

import { type CoinView, ConnectionError, isSymbol, ServerError } from "./client.ts";
import { formatCoin, formatTable } from "./format.ts";

/** What the menu needs from a connection; {@linkcode PriceClient} has it. */
export interface MenuClient {
  marketAll(): Promise<CoinView[]>;
  market(symbol: string): Promise<CoinView>;
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
}

const MENU = "\n1. List all coins\n2. Look up a coin\n0. Exit\n";

/**
 * Runs the menu until the user chooses `0`/`q` or the input ends, and returns the exit code:
 * 0, or 1 when the first connection cannot be made. Server and connection errors during a
 * command are reported and the menu goes on; a lost connection is reopened on the next command.
 */
export async function runMenu(options: MenuOptions): Promise<number> {
  const { write, connect, color, echo = false } = options;
  const writeError = options.writeError ?? write;
  const now = options.now ?? (() => new Date());
  const lines = options.input[Symbol.asyncIterator]();

  const ask = async (prompt: string): Promise<string | null> => {
    write(prompt);
    const next = await lines.next();
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
      write(await command(client) + "\n");
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

  try {
    try {
      client = await connect();
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      writeError(`error: ${err.message}\n`);
      return 1;
    }
    write(MENU.slice(1));
    for (;;) {
      const choice = await ask("Choice: ");
      if (choice === null) return 0;
      switch (choice.toLowerCase()) {
        case "1":
          await withClient(async (c) => formatTable(await c.marketAll(), { color, now: now() }));
          break;
        case "2": {
          const symbol = await ask("Symbol (e.g. BTC): ");
          if (symbol === null) return 0;
          if (symbol === "") break;
          if (!isSymbol(symbol)) {
            writeError(`"${symbol}" is not a coin symbol: enter one symbol such as BTC\n`);
            break;
          }
          await withClient(async (c) => formatCoin(await c.market(symbol), { color, now: now() }));
          break;
        }
        case "0":
        case "q":
        case "quit":
        case "exit":
          return 0;
        case "":
          continue;
        default:
          writeError(`Unknown choice "${choice}": enter 1, 2 or 0 (q also exits)\n`);
          continue;
      }
      write(MENU);
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
