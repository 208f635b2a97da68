/**
 * The command line of the price client: flags, commands, output and exit codes. `client.ts`
 * only wires it to the real process; everything here takes its I/O as arguments.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../util/usage_error.ts";
import { VERSION } from "../util/version.ts";
import {
  HISTORY_RANGES,
  type HistoryRange,
  isCurrencyCode,
  isSymbol,
  MAX_WATCHED,
} from "../wire/protocol.ts";
import { type ConnectOptions, PriceClient } from "./price_client.ts";
import { formatCoin, formatCurrencies, formatHistory, formatInfo, formatTable } from "./format.ts";
import { currencyUnit, historyIn } from "./currency.ts";
import { readLines, runMenu } from "./menu.ts";
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
}

/** Exit codes of the client. */
const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** The `--help` text. */
export const HELP = `Usage: crypto-client [OPTIONS] [COMMAND]
       deno task client [OPTIONS] [COMMAND]

Shows cryptocurrency prices from a price server.

Commands:
  (none)              interactive menu: list coins, look one up, price history, watch live,
                      choose the currency, server info; 0 or q exits. Also reads choices from
                      piped stdin, e.g. printf '1\\n2\\nBTC\\n0\\n' | crypto-client
  list                print all coins as a table, in rank order
  price SYMBOL        print one coin, e.g. price BTC (case-insensitive)
  history SYMBOL [RANGE]
                      print a coin's low, high and change over RANGE (1h, 24h, 7d or 30d;
                      default 24h) and a sparkline as wide as the terminal
  currencies          list the currencies prices can be shown in
  info                print the server's status: version, uptime, counters, ingestion, data
  watch SYMBOL...     show up to ${MAX_WATCHED} coins live until Ctrl-C: a table updated in place on a
                      terminal, one line per update (time, symbol, price, 24h change) otherwise

Options:
  --host HOST         server host name or IP address (default 127.0.0.1)
  --port PORT         server port, 1-65535 (default 8000)
  --tls               connect with TLS; the certificate and host name are verified
  --ca FILE           also trust the PEM certificate(s) in FILE, e.g. data/cert.pem; implies --tls
  --currency CODE     show amounts in CODE, e.g. EUR or VND (default USD), written the way
                      that currency is; used by list, price, history, watch and the menu.
                      The server keeps history in USD: history converts it at today's rate
  --json              print the server's data as JSON instead (with list, price, history,
                      currencies and info: one line; with watch: one line per coin and update;
                      history --json stays in USD)
  -h, --help          show this help and exit
  --version           show the version and exit

Environment:
  CRYPTO_HOST         default for --host
  CRYPTO_PORT         default for --port
  COLUMNS             terminal width when stdout is not a terminal (default 80)
  NO_COLOR            when set and not empty, no colour; colour is only used on a terminal

Exit status:
  0  success, also a watch stopped with Ctrl-C
  1  server error (e.g. unknown coin or currency), connection error or unreadable --ca file
  2  bad usage: unknown option or command, missing symbol, bad range, currency or port
`;

type Command =
  | { kind: "menu" }
  | { kind: "list" }
  | { kind: "price"; symbol: string }
  | { kind: "history"; symbol: string; range: HistoryRange }
  | { kind: "currencies" }
  | { kind: "info" }
  | { kind: "watch"; symbols: string[] };

interface Invocation {
  connect: ConnectOptions;
  caFile: string | undefined;
  json: boolean;
  /** Upper case; undefined for the server's default, USD. */
  currency: string | undefined;
  command: Command;
}

/** Runs the client with command-line `args` and returns the process exit code. */
export async function main(args: string[], io: CliIO): Promise<number> {
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
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }));
  } catch (err) {
    return usage(io, parseArgsMessage(err));
  }
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  if (values.version) {
    io.stdout(`crypto-client ${VERSION}\n`);
    return ExitCode.Ok;
  }

  let inv: Invocation;
  try {
    inv = invocation(values, positionals, io.env);
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err.message);
    throw err;
  }

  const now = io.now ?? (() => new Date());
  const columns = io.columns ?? (() => 80);
  try {
    if (inv.caFile !== undefined) inv.connect.caCerts = [await readCa(inv.caFile, io)];
    const connect = () => PriceClient.connect(inv.connect);
    const { command, currency } = inv;
    if (command.kind === "menu") {
      return await runMenu({
        input: readLines(io.stdin),
        write: io.stdout,
        writeError: (s) => io.stderr(s.startsWith("error: ") ? withHint(s, inv) : s),
        connect,
        color: io.color,
        echo: !io.stdinIsTerminal,
        now,
        currency,
        columns,
        terminal: io.stdoutIsTerminal ?? false,
        interrupts: io.interrupts,
      });
    }
    await using client = await connect();
    const out = (data: unknown, text: () => string) =>
      io.stdout((inv.json ? JSON.stringify(data) : text()) + "\n");
    // Only needed for the unit of currencies Intl does not know, and to check the code.
    const unit = () => currency === undefined ? undefined : currencyUnit(client, currency);
    switch (command.kind) {
      case "list": {
        const [coins, u] = await Promise.all([client.marketAll(currency), unit()]);
        out(coins, () => formatTable(coins, { color: io.color, now: now(), unit: u }));
        break;
      }
      case "price": {
        const [coin, u] = await Promise.all([client.market(command.symbol, currency), unit()]);
        out(coin, () => formatCoin(coin, { color: io.color, now: now(), unit: u }));
        break;
      }
      case "history": {
        const history = await client.history(command.symbol, command.range);
        if (inv.json) {
          out(history, () => "");
          break;
        }
        const [shown, u] = await Promise.all([
          historyIn(client, history, currency),
          unit(),
        ]);
        io.stdout(
          formatHistory(shown.history, {
            color: io.color,
            width: columns(),
            unit: u,
            note: shown.note,
          }) + "\n",
        );
        break;
      }
      case "currencies": {
        const list = await client.currencies();
        out(list, () => formatCurrencies(list, { color: io.color }));
        break;
      }
      case "info": {
        const info = await client.info();
        out(info, () => formatInfo(info, { color: io.color, now: now() }));
        break;
      }
      case "watch": {
        const u = await unit();
        using interrupt = io.interrupts?.() ??
          { signal: new AbortController().signal, [Symbol.dispose]() {} };
        await runWatch({
          client,
          symbols: command.symbols,
          currency,
          unit: u,
          write: io.stdout,
          terminal: io.stdoutIsTerminal ?? false,
          color: io.color,
          json: inv.json,
          columns,
          now,
          signal: interrupt.signal,
        });
        break;
      }
    }
    return ExitCode.Ok;
  } catch (err) {
    // Known failures get their own one-line message; anything else still gets no stack trace.
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(withHint(`error: ${message}\n`, inv));
    return ExitCode.Failure;
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
        `--currency needs a currency code such as EUR or VND, got "${values.currency}"`,
      );
    }
    currency = values.currency.toUpperCase();
  }

  const [name, ...rest] = positionals;
  const symbol = (text: string) => {
    if (!isSymbol(text)) {
      throw new UsageError(`"${text}" is not a coin symbol; use list to see all coins`);
    }
    return text;
  };
  let command: Command;
  if (name === undefined) {
    if (values.json) {
      throw new UsageError(
        "--json needs a command: list, price, history, currencies, info or watch",
      );
    }
    command = { kind: "menu" };
  } else if (name === "list" || name === "currencies" || name === "info") {
    if (rest.length > 0) {
      throw new UsageError(`${name} takes no arguments, got "${rest.join(" ")}"`);
    }
    command = { kind: name };
  } else if (name === "price") {
    if (rest.length === 0) throw new UsageError("price needs a coin symbol, e.g. price BTC");
    if (rest.length > 1) throw new UsageError("price takes one coin symbol, e.g. price BTC");
    command = { kind: "price", symbol: symbol(rest[0]) };
  } else if (name === "history") {
    if (rest.length === 0 || rest.length > 2) {
      throw new UsageError(
        "history needs a coin symbol and optionally a range, e.g. history BTC 7d",
      );
    }
    const range = (rest[1] ?? "24h").toLowerCase() as HistoryRange;
    if (!HISTORY_RANGES.includes(range)) {
      throw new UsageError(
        `"${rest[1]}" is not a history range; use ${HISTORY_RANGES.join(", ")}`,
      );
    }
    command = { kind: "history", symbol: symbol(rest[0]), range };
  } else if (name === "watch") {
    if (rest.length === 0) throw new UsageError("watch needs coin symbols, e.g. watch BTC ETH");
    const symbols = [...new Set(rest.map((s) => symbol(s).toUpperCase()))];
    if (symbols.length > MAX_WATCHED) {
      throw new UsageError(
        `watch takes at most ${MAX_WATCHED} coin symbols, got ${symbols.length}`,
      );
    }
    command = { kind: "watch", symbols };
  } else {
    throw new UsageError(
      `unknown command "${name}"; commands are list, price, history, currencies, info and watch`,
    );
  }

  return {
    connect: { host, port, tls: values.tls === true || values.ca !== undefined },
    caFile: values.ca,
    json: values.json === true,
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
function withHint(line: string, inv: Invocation): string {
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

function usage(io: CliIO, message: string): number {
  io.stderr(`error: ${message}\nTry --help for usage.\n`);
  return ExitCode.Usage;
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
