/**
 * The command line of the price client: flags, commands, output and exit codes. `client.ts`
 * only wires it to the real process; everything here takes its I/O as arguments.
 *
 * @module
 */

import { parseArgs } from "node:util";
import config from "../deno.json" with { type: "json" };
import { type ConnectOptions, isSymbol, PriceClient } from "./client.ts";
import { formatCoin, formatTable } from "./format.ts";
import { readLines, runMenu } from "./menu.ts";

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
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** The client's version, from deno.json. */
export const VERSION: string = config.version;

/** The `--help` text. */
export const HELP = `Usage: crypto-client [OPTIONS] [COMMAND]
       deno task client [OPTIONS] [COMMAND]

Shows cryptocurrency prices from a price server.

Commands:
  (none)        interactive menu: 1 lists all coins, 2 looks up a coin, 0 or q exits;
                also reads choices from piped stdin, e.g. printf '1\\n2\\nBTC\\n0\\n' | crypto-client
  list          print all coins as a table, in rank order
  price SYMBOL  print one coin, e.g. price BTC (case-insensitive)

Options:
  --host HOST   server host name or IP address (default 127.0.0.1)
  --port PORT   server port, 1-65535 (default 8000)
  --tls         connect with TLS; the certificate and host name are verified
  --ca FILE     also trust the PEM certificate(s) in FILE, e.g. data/cert.pem; implies --tls
  --json        print the server's data as one line of JSON (with list or price)
  -h, --help    show this help and exit
  --version     show the version and exit

Environment:
  CRYPTO_HOST   default for --host
  CRYPTO_PORT   default for --port
  NO_COLOR      when set and not empty, no colour; colour is only used on a terminal

Exit status:
  0  success
  1  server error (e.g. unknown coin), connection error or unreadable --ca file
  2  bad usage: unknown option or command, missing symbol, bad port
`;

class UsageError extends Error {
  override name = "UsageError";
}

interface Invocation {
  connect: ConnectOptions;
  caFile: string | undefined;
  json: boolean;
  command: { kind: "menu" } | { kind: "list" } | { kind: "price"; symbol: string };
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
  try {
    if (inv.caFile !== undefined) inv.connect.caCerts = [await readCa(inv.caFile, io)];
    const connect = () => PriceClient.connect(inv.connect);
    const { command } = inv;
    if (command.kind === "menu") {
      return await runMenu({
        input: readLines(io.stdin),
        write: io.stdout,
        writeError: (s) => io.stderr(s.startsWith("error: ") ? withHint(s, inv) : s),
        connect,
        color: io.color,
        echo: !io.stdinIsTerminal,
        now,
      });
    }
    await using client = await connect();
    if (command.kind === "list") {
      const coins = await client.marketAll();
      io.stdout((inv.json ? JSON.stringify(coins) : formatTable(coins, opts(io, now))) + "\n");
    } else {
      const coin = await client.market(command.symbol);
      io.stdout((inv.json ? JSON.stringify(coin) : formatCoin(coin, opts(io, now))) + "\n");
    }
    return ExitCode.Ok;
  } catch (err) {
    // Known failures get their own one-line message; anything else still gets no stack trace.
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(withHint(`error: ${message}\n`, inv));
    return ExitCode.Failure;
  }
}

function opts(io: CliIO, now: () => Date) {
  return { color: io.color, now: now() };
}

function invocation(
  values: {
    host?: string;
    port?: string;
    tls?: boolean;
    ca?: string;
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

  const [name, ...rest] = positionals;
  let command: Invocation["command"];
  if (name === undefined) {
    if (values.json) throw new UsageError("--json needs a command: list or price SYMBOL");
    command = { kind: "menu" };
  } else if (name === "list") {
    if (rest.length > 0) throw new UsageError(`list takes no arguments, got "${rest.join(" ")}"`);
    command = { kind: "list" };
  } else if (name === "price") {
    if (rest.length === 0) throw new UsageError("price needs a coin symbol, e.g. price BTC");
    if (rest.length > 1) throw new UsageError("price takes one coin symbol, e.g. price BTC");
    if (!isSymbol(rest[0])) {
      throw new UsageError(`"${rest[0]}" is not a coin symbol; use list to see all coins`);
    }
    command = { kind: "price", symbol: rest[0] };
  } else {
    throw new UsageError(`unknown command "${name}"; commands are list and price SYMBOL`);
  }

  return {
    connect: { host, port, tls: values.tls === true || values.ca !== undefined },
    caFile: values.ca,
    json: values.json === true,
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
