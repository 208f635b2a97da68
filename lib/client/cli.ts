/**
 * The command line of the price client: flags, commands, output and exit codes. `client.ts`
 * only wires it to the real process; everything here takes its I/O as arguments.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../util/usage_error.ts";
import { VERSION } from "../util/version.ts";
import { isCurrencyCode } from "../wire/request.ts";
import { MAX_WATCHED } from "../wire/limits.ts";
import { type ConnectOptions, PriceClient } from "./price_client.ts";
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
import { safeText } from "./safe_text.ts";
import { readLines, runMenu } from "./menu.ts";
import type { Prompter } from "./prompt.ts";
import { runWatch } from "./watch_view.ts";

/** A Ctrl-C listener: `signal` aborts on Ctrl-C until it is disposed. */
export interface Interrupt extends Disposable {
  readonly signal: AbortSignal;
}

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
export const HELP = `Usage: crypto-client [OPTIONS] [COMMAND]
       deno task client [OPTIONS] [COMMAND]

Shows cryptocurrency prices from a price server.

Commands:
  (none)              interactive prompt: type a command below, or a menu number (1 list,
                      2 price, 3 history, 4 watch, 5 currency, 6 info, 0 quit); help lists
                      them; arrow keys edit and recall, Tab completes words and symbols.
                      Also reads piped stdin, e.g. printf '1\\n2\\nBTC\\n0\\n' | crypto-client
  list                print all coins as a table, in rank order; more columns when wide
  price SYMBOL...     print one or more coins, e.g. price BTC ETH (case-insensitive)
                      (any coin the server's provider lists; id:ID names one)
  search WORD         coins whose symbol or name starts with WORD: search pep
  history SYMBOL [RANGE]
                      print a coin's low, high and change over RANGE (1h, 24h, 7d or 30d;
                      default 24h) and a chart as wide as the terminal
  currencies          list the currencies prices can be shown in
  info                print the server's status: version, uptime, counters, ingestion, data
  watch SYMBOL...     show up to ${MAX_WATCHED} coins live until Ctrl-C: a table updated in place on a
                      terminal, one line per update (time, symbol, price, 24h change) otherwise;
                      unknown symbols are reported and the rest watched; reconnects when the
                      connection drops

Options:
  --host HOST         server host name or IP address (default 127.0.0.1)
  --port PORT         server port, 1-65535 (default 8000)
  --tls               connect with TLS; the certificate and host name are verified
  --ca FILE           also trust the PEM certificate(s) in FILE, e.g. data/cert.pem; implies --tls
  --currency CODE     show amounts in CODE, e.g. EUR or VND (default USD), written the way
                      that currency is; used by every command, also with --json and --csv.
                      The server keeps history in USD: history converts it at today's rate
  --json              print the server's data as JSON instead (with list, price, history,
                      currencies and info: one line; with watch: one line per coin and update);
                      errors are then one line {"error":{"code":...,"message":...}} on stderr
  --csv               print list or history as CSV with a header row
  -h, --help          show this help and exit
  --version           show the version and exit

Environment:
  CRYPTO_HOST         default for --host
  CRYPTO_PORT         default for --port
  COLUMNS             terminal width when stdout is not a terminal (default 80)
  NO_COLOR            when set and not empty, no colour; colour is only used on a terminal

Exit status:
  0  success, also a watch stopped with Ctrl-C
  1  server error (e.g. unknown coin or currency, also one of several price symbols),
     connection error or unreadable --ca file
  2  bad usage: unknown option or command, missing symbol, bad range, currency or port
`;

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
  const fail = (err: unknown): number => {
    if (err instanceof UsageError) {
      if (json) reportError(err, true, io.stderr);
      else io.stderr(`error: ${errorMessage(err)}\nTry --help for usage.\n`);
      return ExitCode.Usage;
    }
    if (json) reportError(err, true, io.stderr);
    else io.stderr(withHint(`error: ${errorMessage(err)}\n`, inv));
    return ExitCode.Failure;
  };
  let inv: Invocation | undefined;
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        tls: { type: "boolean" },
        ca: { type: "string" },
        currency: { type: "string" },
        json: { type: "boolean" },
        csv: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }));
  } catch (err) {
    return fail(new UsageError(parseArgsMessage(err)));
  }
  json = values.json === true;
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  if (values.version) {
    io.stdout(`crypto-client ${VERSION}\n`);
    return ExitCode.Ok;
  }

  try {
    inv = invocation(values, positionals, io.env);
  } catch (err) {
    if (err instanceof UsageError) return fail(err);
    throw err;
  }

  const now = io.now ?? (() => new Date());
  const columns = io.columns ?? (() => 80);
  try {
    if (inv.caFile !== undefined) inv.connect.caCerts = [await readCa(inv.caFile, io)];
    const connectOptions = inv.connect;
    const connect = () => PriceClient.connect(connectOptions);
    const { command, currency } = inv;
    if (command === undefined) {
      const hint = inv;
      return await runMenu({
        input: io.prompter?.() ?? readLines(io.stdin),
        write: io.stdout,
        writeError: (s) => io.stderr(s.startsWith("error: ") ? withHint(s, hint) : s),
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
    if (command.kind === "watch") {
      // Checks the currency before anything is shown; the view then marks amounts with it.
      const unit = currency === undefined ? undefined : await currencyUnit(client, currency);
      using interrupt = io.interrupts?.() ??
        { signal: new AbortController().signal, [Symbol.dispose]() {} };
      /** Connections opened after the first dropped, closed at the end like the first. */
      const reopened: PriceClient[] = [];
      try {
        await runWatch({
          client,
          reconnect: async () => {
            const next = await connect();
            reopened.push(next);
            return next;
          },
          warn: (err) => reportError(err, json, io.stderr),
          onResize: io.onResize,
          symbols: command.symbols,
          currency,
          unit,
          write: io.stdout,
          terminal: io.stdoutIsTerminal ?? false,
          color: io.color,
          json,
          columns,
          rows: io.rows,
          now,
          signal: interrupt.signal,
        });
      } finally {
        for (const c of reopened) await c[Symbol.asyncDispose]();
      }
      return ExitCode.Ok;
    }
    const ok = await runCommand(command, {
      client,
      currency,
      format: inv.format,
      write: io.stdout,
      error: (err) => reportError(err, json, io.stderr),
      color: io.color,
      now,
      columns,
    });
    return ok ? ExitCode.Ok : ExitCode.Failure;
  } catch (err) {
    // Known failures get their own one-line message; anything else still gets no stack trace.
    return fail(err);
  }
}

function invocation(
  values: {
    host?: string;
    port?: string;
    tls?: boolean;
    ca?: string;
    currency?: string;
    json?: boolean;
    csv?: boolean;
  },
  positionals: string[],
  env: (name: string) => string | undefined,
): Invocation {
  const host = values.host ?? (env("CRYPTO_HOST") || "127.0.0.1");
  if (host.trim() === "") throw new UsageError("--host must not be empty");
  const port = values.port !== undefined
    ? parsePort(values.port, "--port")
    : env("CRYPTO_PORT")
    ? parsePort(env("CRYPTO_PORT")!, "CRYPTO_PORT")
    : 8000;
  if (values.ca === "") throw new UsageError("--ca needs a file name");
  let currency: string | undefined;
  if (values.currency !== undefined) {
    if (!isCurrencyCode(values.currency.toUpperCase())) {
      throw new UsageError(
        `--currency needs a currency code such as EUR or VND, got "${safeText(values.currency)}"`,
      );
    }
    currency = values.currency.toUpperCase();
    // The server's default: asking for it changes nothing, and spares a check of the code.
    if (currency === "USD") currency = undefined;
  }
  if (values.json && values.csv) throw new UsageError("--json and --csv cannot be combined");
  const format: OutputFormat = values.json ? "json" : values.csv ? "csv" : "text";

  const [name, ...rest] = positionals;
  let command: Command | undefined;
  if (name === undefined) {
    if (format !== "text") {
      throw new UsageError(
        `--${format} needs a command: ${
          format === "json" ? "list, price, history, currencies, info or watch" : "list or history"
        }`,
      );
    }
  } else {
    command = parseCommand(name, rest);
    if (format === "csv" && !CSV_COMMANDS.includes(command.kind)) {
      throw new UsageError(`--csv works with list and history, not ${command.kind}`);
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

function parsePort(text: string, source: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UsageError(`${source} must be a port number from 1 to 65535, got "${text}"`);
  }
  return port;
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
    throw new Error(`cannot read CA file ${path}: ${reason}`, { cause: err });
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`CA file ${path} contains no PEM certificate`);
  }
  return pem;
}

/** Adds the flag that most likely fixes a TLS mix-up to an `error: ...\n` line. */
function withHint(line: string, inv: Invocation | undefined): string {
  if (inv === undefined) return line;
  if (line.includes("(unknown issuer)") && inv.caFile === undefined) {
    return line.replace(/\n$/, "; pass the server's certificate with --ca FILE\n");
  }
  if (line.includes("(it expects TLS)") && !inv.connect.tls) {
    return line.replace(/\n$/, "; try --tls\n");
  }
  if (line.includes("does not speak TLS") && inv.connect.tls) {
    return line.replace(/\n$/, "; try without --tls\n");
  }
  return line;
}

/** Turns node:util parseArgs errors into a short message. */
function parseArgsMessage(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option ?? message}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return option && /argument missing/.test(message)
        ? `${option} needs a value`
        : `invalid value for ${option ?? "an option"}`;
    default:
      return message;
  }
}
