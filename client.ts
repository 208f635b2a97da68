/**
 * Command-line client for the crypto price server. See `deno task client --help`.
 *
 * @module
 */

import { type Interrupt, main } from "./lib/client/cli.ts";
import { useColor } from "./lib/client/format.ts";
import { terminalPrompter } from "./lib/client/prompt.ts";
import process from "node:process";
import { readEnv as env } from "./lib/util/read_env.ts";

const encoder = new TextEncoder();

/** Writes all of `s` synchronously, so output and prompts appear in order. */
function writer(file: typeof Deno.stdout): (s: string) => void {
  return (s) => {
    const bytes = encoder.encode(s);
    try {
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
    } catch (err) {
      // The reader went away (e.g. `| head`): stop quietly, as a SIGPIPE would.
      if (err instanceof Deno.errors.BrokenPipe) Deno.exit(0);
      throw err;
    }
  };
}

/** Watches waiting for Ctrl-C. */
const watching = new Set<AbortController>();
let catchingCtrlC = false;

/**
 * Catches Ctrl-C for a watch. The listener stays once added, as Deno does not restore the
 * default action when it is removed; with no watch running, Ctrl-C exits as it would have.
 */
function interrupts(): Interrupt {
  if (!catchingCtrlC) {
    Deno.addSignalListener("SIGINT", () => {
      // The terminal echoed ^C: leave the shell prompt on a fresh line.
      if (Deno.stdout.isTerminal()) Deno.stdout.writeSync(encoder.encode("\n"));
      if (watching.size === 0) Deno.exit(130);
      for (const controller of watching) controller.abort();
    });
    catchingCtrlC = true;
  }
  const controller = new AbortController();
  watching.add(controller);
  return {
    signal: controller.signal,
    [Symbol.dispose]: () => void watching.delete(controller),
  };
}

/** Terminal columns: the terminal's own width, else `COLUMNS`, else 80. */
function columns(): number {
  if (Deno.stdout.isTerminal()) {
    try {
      return Deno.consoleSize().columns;
    } catch {
      // Not a console after all, e.g. some Windows pipes.
    }
  }
  const fromEnv = Number(env("COLUMNS"));
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80;
}

/** Terminal rows, when standard output is a terminal. */
function rows(): number {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().rows : Infinity;
  } catch {
    return Infinity;
  }
}

if (import.meta.main) {
  const code = await main(Deno.args, {
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
    stdin: Deno.stdin.readable,
    stdinIsTerminal: Deno.stdin.isTerminal(),
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    columns,
    rows,
    interrupts,
    env,
    color: useColor(Deno.stdout, env),
    readTextFile: Deno.readTextFile,
    // Line editing only where someone types: with stdin and stdout on a terminal.
    prompter: Deno.stdin.isTerminal() && Deno.stdout.isTerminal()
      ? () => terminalPrompter({ input: process.stdin, output: process.stdout })
      : undefined,
    onResize: (listener) => {
      Deno.addSignalListener("SIGWINCH", listener);
      return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGWINCH", listener) };
    },
  });
  Deno.exit(code);
}
