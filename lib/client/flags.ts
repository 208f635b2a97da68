/**
 * The client's flags and commands as tables, from which its parser and `--help` are derived.
 *
 * @module
 */

import { type Flag, FlagTable, HELP_WIDTH, wrapText } from "../util/flag_table.ts";
import { VERSION } from "../util/version.ts";
import { MAX_WATCHED } from "../wire/limits.ts";
import type { ClientConfig } from "./config_file.ts";

const FLAGS = [
  {
    name: "host",
    kind: "string",
    value: "HOST",
    default: "127.0.0.1",
    help: "Server host name or IP address",
    group: "Connection",
  },
  {
    name: "port",
    kind: "integer",
    value: "PORT",
    default: "8000",
    min: 1,
    max: 65535,
    help: "Server port",
    group: "Connection",
  },
  {
    name: "tls",
    kind: "boolean",
    noEnv: true,
    help: "Connect with TLS; the certificate and host name are verified",
    group: "Connection",
  },
  {
    name: "ca",
    kind: "string",
    value: "FILE",
    noEnv: true,
    help: "Also trust the PEM certificate(s) in FILE, e.g. data/cert.pem; implies --tls",
    group: "Connection",
  },
  {
    name: "currency",
    kind: "string",
    value: "CODE",
    default: "USD",
    noEnv: true,
    help: "Show amounts in CODE, e.g. EUR or VND, written the way that currency is; used by " +
      "every command, also with --json and --csv. The server keeps history in USD: history " +
      "converts it at today's rate",
    group: "Output",
  },
  {
    name: "json",
    kind: "boolean",
    noEnv: true,
    help: "Print the server's data as JSON instead (one line; with watch one line per coin " +
      'and update); errors are then one line {"error":{"code":...,"message":...}} on stderr',
    group: "Output",
  },
  {
    name: "csv",
    kind: "boolean",
    noEnv: true,
    help: "Print list, price or history as CSV with a header row",
    group: "Output",
  },
  {
    name: "portfolio",
    kind: "string",
    value: "FILE",
    help: "The portfolio file (default $XDG_CONFIG_HOME/crypto-client/portfolio.toml, " +
      "else ~/.config/crypto-client/portfolio.toml)",
    group: "Portfolio and alerts",
  },
  {
    name: "price",
    kind: "string",
    value: "PRICE",
    noEnv: true,
    help: "portfolio add: the price paid per coin, in --currency",
    group: "Portfolio and alerts",
  },
  {
    name: "date",
    kind: "string",
    value: "YYYY-MM-DD",
    noEnv: true,
    help: "portfolio add: the day of the purchase",
    group: "Portfolio and alerts",
  },
  {
    name: "watch",
    kind: "boolean",
    noEnv: true,
    help: "portfolio: keep it updated live until Ctrl-C",
    group: "Portfolio and alerts",
  },
  {
    name: "window",
    kind: "string",
    value: "DURATION",
    default: "1h",
    noEnv: true,
    help: "alert change: the window the move is measured over, e.g. 15m, 1h, 1d",
    group: "Portfolio and alerts",
  },
  {
    name: "once",
    kind: "boolean",
    noEnv: true,
    help: "alert: exit 0 when the alert first fires",
    group: "Portfolio and alerts",
  },
  {
    name: "exec",
    kind: "string",
    value: "CMD",
    noEnv: true,
    help: "alert: run CMD (split into words, no shell) each time the alert fires, with " +
      "CRYPTO_ALERT_SYMBOL, _PRICE, _CURRENCY, _CONDITION, _THRESHOLD, _TIME and _MESSAGE " +
      "in its environment",
    group: "Portfolio and alerts",
  },
] as const satisfies readonly Flag[];

/** A flag of the client's table. */
export type ClientFlag = typeof FLAGS[number];

/**
 * The client's flags: `--host` and `--port` also read `CRYPTO_HOST` and `CRYPTO_PORT`. With a
 * config file, its values are the defaults, so flags and environment variables win over it.
 */
export function clientFlags(config: ClientConfig = {}): FlagTable<ClientFlag> {
  const flags = FLAGS.map((flag) => {
    const value = config[flag.name as keyof ClientConfig];
    return value === undefined ? flag : { ...flag, default: String(value) };
  });
  return new FlagTable<ClientFlag>(flags as readonly ClientFlag[], {
    envPrefix: "CRYPTO_",
    groups: ["Connection", "Output", "Portfolio and alerts"],
  });
}

/** The client's flags without a config file, for `--help`. */
export const CLIENT_FLAGS: FlagTable<ClientFlag> = clientFlags();

/** The commands, as `--help` lists them. */
const COMMANDS: readonly { usage: string; help: string }[] = [
  {
    usage: "(none)",
    help: "Interactive prompt: type a command below, or a menu number (1 list, 2 price, " +
      "3 history, 4 watch, 5 currency, 6 info, 0 quit); help lists them; arrow keys edit " +
      "and recall, Tab completes words and symbols. Also reads piped stdin, e.g. " +
      "printf '1\\n2\\nBTC\\n0\\n' | crypto-client",
  },
  { usage: "list", help: "Print all coins as a table, in rank order; more columns when wide" },
  {
    usage: "price SYMBOL...",
    help: "Print one or more coins, e.g. price BTC ETH (case-insensitive); beyond the top " +
      "coins too, id:ID names one of several sharing a symbol",
  },
  {
    usage: "search WORD",
    help: "List coins whose symbol or name starts with WORD, e.g. search pep",
  },
  {
    usage: "history SYMBOL [RANGE]",
    help: "Print a coin's low, high and change over RANGE (1h, 24h, 7d or 30d; default 24h) " +
      "and a chart as wide as the terminal",
  },
  { usage: "currencies", help: "List the currencies prices can be shown in" },
  {
    usage: "info",
    help: "Print the server's status: version, uptime, counters, ingestion, data",
  },
  { usage: "help, version", help: "Show this help, or the version, and exit" },
  {
    usage: "watch SYMBOL...",
    help: `Show up to ${MAX_WATCHED} coins live until Ctrl-C: a table updated in place on a ` +
      "terminal, one line per update (time, symbol, price, 24h change) otherwise; unknown " +
      "symbols are reported and the rest watched; reconnects when the connection drops",
  },
  {
    usage: "portfolio [add SYMBOL AMOUNT --price P [--date D] | remove SYMBOL [LOT]]",
    help: "Show your holdings' value, cost and profit or loss (in --currency; live with " +
      "--watch), or add a purchase (its price in --currency), or remove a coin's lots or one " +
      "lot; kept in --portfolio FILE, a TOML file you may edit",
  },
  {
    usage: "alert SYMBOL above|below PRICE | alert SYMBOL change PERCENT%",
    help: "Watch a coin live and print a line (with a bell on a terminal) each time the " +
      "condition becomes true: the price at or above / at or below PRICE in --currency, or " +
      "a move of PERCENT within --window; fires again only after the price crossed back; " +
      "--once exits 0 when it fires, --exec runs a command",
  },
  {
    usage: "candles SYMBOL INTERVAL [RANGE]",
    help: "Draw a coin's candles (open, high, low, close per 1m, 5m, 15m, 30m, 1h, 4h or " +
      "1d) over RANGE (1h, 24h, 7d or 30d; the finer intervals are kept 24h) from the " +
      "server's stored history, fitting the width; --json or --csv for the data",
  },
];

const INDENT = "      ";

/** The `--help` text of the client, from the tables above; fits 80 columns. */
export function clientHelp(): string {
  return [
    `crypto-client ${VERSION}: shows cryptocurrency prices from a price server`,
    "",
    "Usage: deno task client [flags] [command]   (or: crypto-client ...)",
    "",
    "Commands:",
    ...COMMANDS.flatMap((c) => [`  ${c.usage}`, ...wrapText(c.help, HELP_WIDTH, INDENT)]),
    ...CLIENT_FLAGS.help(),
    "",
    "Environment:",
    "  COLUMNS",
    ...wrapText("Terminal width when stdout is not a terminal (default 80)", HELP_WIDTH, INDENT),
    "  NO_COLOR",
    ...wrapText(
      "When set and not empty, no colour; colour is only used on a terminal",
      HELP_WIDTH,
      INDENT,
    ),
    "",
    "Exit status:",
    "  0  success, also a watch stopped with Ctrl-C",
    "  1  server error (e.g. unknown coin, also one of several price symbols),",
    "     connection error or unreadable --ca file",
    "  2  bad usage: unknown option or command, missing symbol, bad range, bad or",
    "     unknown currency, bad port",
    "",
    "Config file:",
    ...wrapText(
      "$XDG_CONFIG_HOME/crypto-client/config.toml, else ~/.config/crypto-client/config.toml, " +
        "when it exists: TOML with host, port, tls, ca (relative to the file) and currency, " +
        'e.g. port = 8443 and currency = "EUR". A flag wins over its environment variable, ' +
        "which wins over the file.",
      HELP_WIDTH,
      "  ",
    ),
    "",
  ].join("\n");
}
