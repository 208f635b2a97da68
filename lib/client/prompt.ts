/**
 * Where the interactive client reads its lines: a terminal with line editing, history and Tab
 * completion (node:readline), or any source of lines such as piped stdin.
 *
 * @module
 */

import * as readline from "node:readline";
import type { Readable, Writable } from "node:stream";

/** A source of typed lines. */
export interface Prompter {
  /**
   * Shows `prompt` and resolves with the next line, or null at the end of input. A read given
   * a `signal` that aborts first resolves with null at once and leaves the next line to the
   * next read (a watch reads the line that stops it that way).
   */
  read(prompt: string, signal?: AbortSignal): Promise<string | null>;
  /** Calls `listener` on Ctrl-C typed into this prompter's terminal, until disposed. */
  onInterrupt?(listener: () => void): Disposable;
  /** Sets what Tab completes to, for the line typed so far. */
  setCompleter?(complete: (line: string) => Promise<string[]>): void;
  /** Stops reading; an open read resolves with null. */
  close(): void;
}

/**
 * A prompter over lines from a pipe or a test: it writes each prompt, and with `echo` repeats the
 * line read after it, so a transcript of piped input reads naturally. At the end of input it
 * ends the last prompt's line.
 */
export function linePrompter(
  lines: AsyncIterable<string>,
  write: (s: string) => void,
  echo: boolean,
): Prompter {
  const iterator = lines[Symbol.asyncIterator]();
  /** The line being read; it stays here until a read that was not abandoned takes it. */
  let inflight: Promise<IteratorResult<string>> | undefined;
  return {
    read(prompt, signal) {
      write(prompt);
      const line = inflight ??= iterator.next();
      return new Promise((resolve, reject) => {
        signal?.addEventListener("abort", () => resolve(null), { once: true });
        line.then((next) => {
          if (signal?.aborted) return;
          if (inflight === line) inflight = undefined;
          if (next.done) {
            // Leave the shell prompt on a fresh line (the watch's empty prompt left one).
            if (prompt !== "") write("\n");
            resolve(null);
            return;
          }
          // The line that stops a watch (an empty prompt) is not repeated.
          if (echo && prompt !== "") write(next.value + "\n");
          resolve(next.value);
        }, reject);
      });
    },
    close() {
      void iterator.return?.();
    },
  };
}

/** Options of {@linkcode terminalPrompter}. */
export interface TerminalPrompterOptions {
  input: Readable;
  output: Writable;
  /** Lines kept for the arrow keys; default 200. */
  historySize?: number;
}

/**
 * A prompter on a terminal with node:readline: arrow keys edit and recall earlier lines, Tab
 * completes with the completer set, Ctrl-C goes to the interrupt listeners (with none, it ends
 * the input like Ctrl-D, on a fresh line).
 */
export function terminalPrompter(options: TerminalPrompterOptions): Prompter {
  let complete: (line: string) => Promise<string[]> = () => Promise.resolve([]);
  const rl = readline.createInterface({
    input: options.input,
    output: options.output,
    terminal: true,
    historySize: options.historySize ?? 200,
    removeHistoryDuplicates: true,
    completer: (
      line: string,
      callback: (err: Error | null, result: [string[], string]) => void,
    ) => {
      // Only the word being typed is completed; readline keeps the words before it. A word
      // completed whole is followed by a space, ready for the next one.
      const word = /\S*$/.exec(line)![0];
      complete(line).then(
        (all) =>
          callback(null, [
            all.filter((w) => w.startsWith(word.toLowerCase())).map((w) => `${w} `),
            word,
          ]),
        () => callback(null, [[], word]),
      );
    },
  });
  const queued: string[] = [];
  /** Reads waiting for a line, oldest first. */
  const waiting: ((line: string | null) => void)[] = [];
  let closed = false;
  let closedByUs = false;
  const interrupts = new Set<() => void>();
  rl.on("line", (line: string) => {
    const resolve = waiting.shift();
    if (resolve === undefined) queued.push(line);
    else resolve(line);
  });
  rl.on("close", () => {
    closed = true;
    // Ctrl-D or Ctrl-C: leave the shell prompt on a fresh line.
    if (!closedByUs) options.output.write("\n");
    for (const resolve of waiting.splice(0)) resolve(null);
  });
  rl.on("SIGINT", () => {
    if (interrupts.size > 0) {
      for (const listener of interrupts) listener();
      return;
    }
    rl.close();
  });
  return {
    read(prompt, signal) {
      if (queued.length > 0) return Promise.resolve(queued.shift()!);
      if (closed) return Promise.resolve(null);
      rl.setPrompt(prompt);
      rl.prompt(true);
      return new Promise((resolve) => {
        waiting.push(resolve);
        signal?.addEventListener("abort", () => {
          const at = waiting.indexOf(resolve);
          if (at !== -1) waiting.splice(at, 1);
          resolve(null);
        }, { once: true });
      });
    },
    onInterrupt(listener) {
      interrupts.add(listener);
      return { [Symbol.dispose]: () => void interrupts.delete(listener) };
    },
    setCompleter(completer) {
      complete = completer;
    },
    close() {
      closedByUs = true;
      rl.close();
    },
  };
}
