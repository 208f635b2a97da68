/**
 * The command line of the price client: flags, commands, output and exit codes. `client.ts`
 * only wires it to the real process; everything here takes its I/O as arguments.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import { VERSION } from "../util/version.ts";
import { isCurrencyCode } from "../wire/request.ts";
import { ConnectionError, type ConnectOptions, PriceClient, ServerError } from "./price_client.ts";
import { currencyUnit } from "./currency.ts";
import {
  type Command,
  CSV_COMMANDS,
  errorMessage,
  type OutputFormat,
  parseCommand,
  reportError,
  runCommand,
} from "./commands.ts";
import { safeText } from "../text/safe_text.ts";
import { readLines, runMenu } from "./menu.ts";
import { CLIENT_FLAGS, type ClientFlag, clientFlags, clientHelp } from "./flags.ts";
import { configPath, readConfig } from "./config_file.ts";
import type { FlagValues } from "../util/flag_table.ts";
import { type Interrupt, watchCommand } from "./watch_command.ts";
import type { Prompter } from "./prompt.ts";

export type { Interrupt } from "./watch_command.ts";

/** The process around the CLI, injected so tests need no terminal, network setup or files. */
export interface CliIO {
  /** Standard output. */
  stdout: (s: string) => void;
  /** Standard error. */
  stderr: (s: string) => void;
  /** Standard input, read only by the menu. */
  stdin: ReadableStream<Uint8Array>;
  /** Whether stdin is a terminal (otherwise the menu echoes what it reads). */
  stdinIsTerminal: boolean;
  /** Whether stdout is a terminal: `watch` then redraws a table in place. Default false. */
  stdoutIsTerminal?: boolean;
  /** Terminal columns, for the history sparkline and the watch table; default 80. */
  columns?: () => number;
  /** Terminal rows, for the watch table; default no limit. */
  rows?: () => number;
  /**
   * Starts catching Ctrl-C for a `watch`, which it stops; without it a watch runs until the
   * connection ends.
   */
  interrupts?: () => Interrupt;
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /** Whether stdout may be coloured (see `useColor`). */
  color: boolean;
  /** Reads the `--ca` file. */
  readTextFile: (path: string) => Promise<string>;
  /** Clock for ages such as `3m ago`. */
  now?: () => Date;
  /** Makes the prompt for a terminal (line editing, history, completion); else stdin's lines. */
  prompter?: () => Prompter;
  /** Calls a listener when the terminal is resized, until disposed (for `watch`). */
  onResize?: (listener: () => void) => Disposable;
}

/** Exit codes of the client. */
const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** The `--help` text. */
export const HELP: string = clientHelp();

interface Invocation {
  connect: ConnectOptions;
  caFile: string | undefined;
  format: OutputFormat;
  /** Upper case; undefined for the server's default, USD. */
  currency: string | undefined;
  /** Undefined for the prompt. */
  command: Command | undefined;
}

/** Runs the client with command-line `args` and returns the process exit code. */
export async function main(args: string[], io: CliIO): Promise<number> {
  // Known before the flags parse, so that even a usage error comes as JSON when asked for.
  let json = args.includes("--json");
  let inv: Invocation;
  try {
    const read = CLIENT_FLAGS.parse(args, io.env, { positionals: true });
    if (read.action === "help") {
      io.stdout(HELP);
      return ExitCode.Ok;
    }
    if (read.action === "version") {
      io.stdout(`crypto-client ${VERSION}\n`);
      return ExitCode.Ok;
    }
    json = read.values.json;
    // `help` and `version` work as commands too, as they do at the prompt.
    const [word, ...rest] = read.positionals;
    if (rest.length === 0 && (word === "help" || word === "version")) {
      io.stdout(word === "help" ? HELP : `crypto-client ${VERSION}\n`);
      return ExitCode.Ok;
    }
    inv = invocation(await withConfigFile(args, io, read), read.positionals);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (json) reportError(err, true, io.stderr);
    else io.stderr(`error: ${errorMessage(err)}\nTry --help for usage.\n`);
    return ExitCode.Usage;
  }
  try {
    if (inv.caFile !== undefined) inv.connect.caCerts = [await readCa(inv.caFile, io)];
    return await run(inv, io);
  } catch (err) {
    // Known failures get their own one-line message; anything else still gets no stack trace.
    if (json) reportError(err, true, io.stderr);
    else io.stderr(`error: ${errorMessage(err)}${tlsHint(err, inv)}\n`);
    // A currency the server does not know is a bad --currency, like one that is no code.
    const usage = err instanceof ServerError && err.code === "UNKNOWN_CURRENCY";
    return usage ? ExitCode.Usage : ExitCode.Failure;
  }
}

/** The flags' values with the config file's under them, when there is one. */
async function withConfigFile(
  args: string[],
  io: CliIO,
  read: { values: FlagValues<ClientFlag> },
): Promise<FlagValues<ClientFlag>> {
  const path = configPath(io.env);
  const config = path === undefined ? {} : await readConfig(path, io.readTextFile);
  if (Object.keys(config).length === 0) return read.values;
  const again = clientFlags(config).parse(args, io.env, { positionals: true });
  return again.action === "run" ? again.values : read.values;
}

/** Runs what the command line asks for: the prompt, a watch or one command. */
async function run(inv: Invocation, io: CliIO): Promise<number> {
  const connectOptions = inv.connect;
  const connect = () => PriceClient.connect(connectOptions);
  const { command, currency } = inv;
  const now = io.now ?? (() => new Date());
  const columns = io.columns ?? (() => 80);
  if (command === undefined) {
    return await runMenu({
      input: io.prompter?.() ?? readLines(io.stdin),
      write: io.stdout,
      writeError: io.stderr,
      explain: (err) => errorMessage(err) + tlsHint(err, inv),
      connect,
      color: io.color,
      echo: !io.stdinIsTerminal,
      now,
      currency,
      columns,
      rows: io.rows,
      terminal: io.stdoutIsTerminal ?? false,
      interrupts: io.interrupts,
      onResize: io.onResize,
    });
  }
  await using client = await connect();
  const json = inv.format === "json";
  // Checked before anything is shown; amounts are then marked with its unit.
  const unit = currency === undefined ? undefined : await currencyUnit(client, currency);
  if (command.kind === "watch") {
    const last = await watchCommand({
      client,
      connect,
      symbols: command.symbols,
      currency,
      unit,
      interrupts: io.interrupts,
      display: {
        write: io.stdout,
        warn: (err) => reportError(err, json, io.stderr),
        onResize: io.onResize,
        terminal: io.stdoutIsTerminal ?? false,
        color: io.color,
        json,
        columns,
        rows: io.rows,
        now,
      },
    });
    if (last !== client) last.close();
    return ExitCode.Ok;
  }
  const ok = await runCommand(command, {
    client,
    currency,
    unit,
    format: inv.format,
    write: io.stdout,
    error: (err) => reportError(err, json, io.stderr),
    color: io.color,
    now,
    columns,
  });
  return ok ? ExitCode.Ok : ExitCode.Failure;
}

function invocation(
  values: FlagValues<ClientFlag>,
  positionals: string[],
): Invocation {
  const { host, port } = values;
  if (host.trim() === "") throw new UsageError("--host must not be empty");
  if (values.ca === "") throw new UsageError("--ca needs a file name");
  const code = values.currency.toUpperCase();
  if (!isCurrencyCode(code)) {
    throw new UsageError(
      `--currency needs a currency code such as EUR or VND, got "${safeText(values.currency)}"`,
    );
  }
  // The server's default: asking for it changes nothing, and spares a check of the code.
  const currency = code === "USD" ? undefined : code;
  if (values.json && values.csv) throw new UsageError("--json and --csv cannot be combined");
  const format: OutputFormat = values.json ? "json" : values.csv ? "csv" : "text";

  const [name, ...rest] = positionals;
  let command: Command | undefined;
  if (name === undefined) {
    if (format !== "text") {
      throw new UsageError(
        `--${format} needs a command: ${
          format === "json"
            ? "list, price, history, currencies, info or watch"
            : "list, price or history"
        }`,
      );
    }
  } else {
    command = parseCommand(name, rest);
    if (format === "csv" && !CSV_COMMANDS.includes(command.kind)) {
      throw new UsageError(`--csv works with list, price and history, not ${command.kind}`);
    }
  }

  return {
    connect: { host, port, tls: values.tls === true || values.ca !== undefined },
    caFile: values.ca,
    format,
    currency,
    command,
  };
}

async function readCa(path: string, io: CliIO): Promise<string> {
  let pem: string;
  try {
    pem = await io.readTextFile(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Error
      ? err.message
      : String(err);
    throw new Error(`Cannot read CA file ${path}: ${reason}`, { cause: err });
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`CA file ${path} contains no PEM certificate`);
  }
  return pem;
}

/** The flag that most likely fixes a TLS mix-up, as `; try --tls`, or "". */
function tlsHint(err: unknown, inv: Invocation | undefined): string {
  if (inv === undefined || !(err instanceof ConnectionError)) return "";
  switch (err.code) {
    case "TLS_UNTRUSTED":
      return inv.caFile === undefined ? "; pass the server's certificate with --ca FILE" : "";
    case "TLS_EXPECTED":
      return inv.connect.tls ? "" : "; try --tls";
    case "TLS_NOT_SPOKEN":
      return inv.connect.tls ? "; try without --tls" : "";
    case "CLOSED_UNANSWERED":
      return inv.connect.tls ? "" : "; if the server speaks TLS, try --tls";
    default:
      return "";
  }
}
