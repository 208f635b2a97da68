/**
 * The server's flags: one table from which the parser, the environment variables and the `--help`
 * texts of `deno task server` and `deno task ingest` are all derived, so they cannot disagree.
 * The table is typed: reading a flag it does not have fails to compile.
 *
 * @module
 */

import { DEFAULT_LIMITS } from "../server/price_server.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS } from "../ingest/upstream_http.ts";
import {
  DEFAULT_BREAKER_COOLDOWN_MS,
  DEFAULT_BREAKER_FAILURES,
} from "../ingest/circuit_breaker.ts";
import { PROVIDER_NAMES } from "../ingest/providers.ts";
import { type Flag, FlagTable } from "../util/flag_table.ts";
import { VERSION } from "../util/version.ts";

const sec = (ms: number) => String(ms / 1000);

/** Every flag of the server. */
export const FLAGS = [
  {
    name: "host",
    kind: "string",
    default: "127.0.0.1",
    help: "Address to listen on",
    group: "Service",
  },
  {
    name: "port",
    kind: "integer",
    default: "8000",
    min: 0,
    max: 65535,
    help: "Port to listen on (0 = any free port)",
    group: "Service",
  },
  {
    name: "http-host",
    kind: "string",
    default: "127.0.0.1",
    help: "Address of the HTTP listener (JSON API, WebSocket, metrics, health)",
    group: "HTTP",
  },
  {
    name: "http-port",
    kind: "integer",
    default: "8080",
    min: 0,
    max: 65535,
    help: "Port of the HTTP listener (0 = any free port); HTTPS with --tls-cert",
    group: "HTTP",
  },
  {
    name: "no-http",
    kind: "boolean",
    help: "Open no HTTP listener: the socket protocol only",
    group: "HTTP",
  },
  {
    name: "cors-origin",
    kind: "string",
    default: "*",
    help: 'Access-Control-Allow-Origin of the HTTP API ("" = none)',
    group: "HTTP",
  },
  {
    name: "db",
    kind: "string",
    default: "./data/crypto.sqlite",
    help:
      "SQLite file (its directory is created) or postgres://user:password@host:port/name (cluster mode)",
    group: "Service",
  },
  {
    name: "api-url",
    kind: "string",
    default: "https://api.coingecko.com/api/v3",
    help: "Base URL of a CoinGecko-compatible API",
    group: "Service",
  },
  {
    name: "api-key",
    kind: "string",
    alsoEnv: ["COINGECKO_API_KEY"],
    help: "CoinGecko demo API key, sent as x-cg-demo-api-key (never logged)",
    group: "Service",
  },
  {
    name: "refresh",
    kind: "seconds",
    default: "60",
    min: 0.05,
    help: "Seconds between ingestions",
    group: "Service",
  },
  {
    name: "top",
    kind: "integer",
    default: "10",
    min: 1,
    max: 250,
    help: "How many coins to fetch, by market cap",
    group: "Service",
  },
  {
    name: "tls-cert",
    kind: "string",
    help: "PEM certificate; with --tls-key the server speaks TLS only",
    group: "Service",
  },
  { name: "tls-key", kind: "string", help: "PEM private key for --tls-cert", group: "Service" },
  {
    name: "stale-after",
    kind: "seconds",
    help: 'Seconds after which v2 coins say "stale": true (default 3 x --refresh)',
    group: "Service",
  },
  {
    name: "history-days",
    kind: "integer",
    default: "30",
    min: 1,
    max: 3650,
    help: "Days of price history kept; older rows are pruned after each ingestion",
    group: "Service",
  },
  {
    name: "reuse-port",
    kind: "boolean",
    help:
      "Set SO_REUSEPORT so several replicas on one host share --port (Linux; needs Deno's --unstable-net)",
    group: "Service",
  },
  {
    name: "allow-insecure-upstream",
    kind: "boolean",
    help: "Allow an http:// --api-url on a host that is not loopback",
    group: "Service",
  },
  {
    name: "config",
    kind: "string",
    value: "<file>",
    help: "TOML file of settings whose keys are these flags' names (e.g. port = 8443); " +
      "flags and environment variables win over it",
    group: "Service",
  },
  {
    name: "log-level",
    kind: "string",
    default: "info",
    value: "<level>",
    help: "Least severe log lines shown: error, warn, info or debug (debug adds every " +
      "ingestion, not only changes, and clients' unknown coins and requests before data)",
    group: "Logging",
  },
  {
    name: "log-timestamps",
    kind: "boolean",
    help: "Start each log line with its UTC time",
    group: "Logging",
  },
  {
    name: "name",
    kind: "string",
    help: "Put before each log line, e.g. replica-a (in cluster mode the default is the " +
      "address and port listened on)",
    group: "Logging",
  },
  {
    name: "providers",
    kind: "string",
    default: "coingecko,coinpaprika",
    help: `Price providers in failover order, of ${
      PROVIDER_NAMES.join(", ")
    } (coinmarketcap only with --cmc-key)`,
    group: "Providers",
  },
  {
    name: "coinpaprika-url",
    kind: "string",
    default: "https://api.coinpaprika.com",
    help: "Base URL of the CoinPaprika API (keyless)",
    group: "Providers",
  },
  {
    name: "cmc-url",
    kind: "string",
    default: "https://pro-api.coinmarketcap.com",
    help: "Base URL of the CoinMarketCap Pro API",
    group: "Providers",
  },
  {
    name: "cmc-key",
    kind: "string",
    alsoEnv: ["CMC_PRO_API_KEY"],
    help: "CoinMarketCap API key, sent as X-CMC_PRO_API_KEY (never logged)",
    group: "Providers",
  },
  {
    name: "breaker-failures",
    kind: "integer",
    default: String(DEFAULT_BREAKER_FAILURES),
    min: 1,
    max: 1000,
    help: "Failed rounds in a row after which a provider is skipped for --breaker-cooldown",
    group: "Providers",
  },
  {
    name: "breaker-cooldown",
    kind: "seconds",
    default: sec(DEFAULT_BREAKER_COOLDOWN_MS),
    min: 0,
    help: "Seconds other providers are preferred to a failing one before one probe request",
    group: "Providers",
  },
  {
    name: "upstream-timeout",
    kind: "seconds",
    default: sec(DEFAULT_TIMEOUT_MS),
    min: 0.01,
    help: "Seconds one upstream request may take, body included",
    group: "Providers",
  },
  {
    name: "track-for",
    kind: "seconds",
    default: "86400",
    min: 1,
    help: "Seconds a coin outside the top N is kept fresh after it was last asked for",
    group: "Providers",
  },
  {
    name: "max-tracked",
    kind: "integer",
    default: "500",
    min: 0,
    help: "Most coins outside the top N kept fresh at once; 0 serves the top N only",
    group: "Providers",
  },
  {
    name: "upstream-budget",
    kind: "integer",
    min: 1,
    help: "Calls a minute allowed per provider (your key's plan); default: CoinGecko 10 " +
      "(30 with --api-key), CoinPaprika 20, CoinMarketCap 30, none for a loopback URL",
    group: "Providers",
  },
  {
    name: "max-upstream-bytes",
    kind: "integer",
    default: String(DEFAULT_MAX_BYTES),
    min: 1024,
    help: "Most bytes of one upstream answer, decompressed; a larger one fails at once",
    group: "Providers",
  },
  {
    name: "max-request-bytes",
    kind: "integer",
    default: String(DEFAULT_LIMITS.maxRequestBytes),
    min: 64,
    max: 16 * 1024 * 1024,
    help: "Longest request line; longer gets LINE_TOO_LONG and a close",
    group: "Limits",
  },
  {
    name: "request-timeout",
    kind: "seconds",
    default: sec(DEFAULT_LIMITS.requestTimeoutMs),
    min: 0.01,
    help: "Seconds a started request has to complete (TIMEOUT)",
    group: "Limits",
  },
  {
    name: "idle-timeout",
    kind: "seconds",
    default: sec(DEFAULT_LIMITS.idleTimeoutMs),
    min: 0,
    help: "Seconds without a request before a connection is closed (0 = never)",
    group: "Limits",
  },
  {
    name: "max-connections",
    kind: "integer",
    default: String(DEFAULT_LIMITS.maxConnections),
    min: 1,
    help: "Connections open at once; past it new ones get BUSY",
    group: "Limits",
  },
  {
    name: "max-connections-per-ip",
    kind: "integer",
    default: "0",
    min: 0,
    help: "Connections open at once from one address (0 = no cap)",
    group: "Limits",
  },
  {
    name: "max-unsent-bytes",
    kind: "integer",
    default: String(DEFAULT_LIMITS.maxUnsentBytes),
    min: 1024,
    help: "Replies a client has not read before it is closed",
    group: "Limits",
  },
  {
    name: "tls-handshake-timeout",
    kind: "seconds",
    default: sec(DEFAULT_LIMITS.tlsHandshakeTimeoutMs),
    min: 0.01,
    help: "Seconds a TLS handshake may take",
    group: "Limits",
  },
] as const satisfies readonly Flag[];

/** A flag of the server's table. */
export type ServerFlag = typeof FLAGS[number];
/** The name of a flag of the table, e.g. `api-url`. */
export type FlagName = ServerFlag["name"];

/** The server's table, whose environment variables are `CRYPTO_<FLAG>`. */
export const SERVER_FLAGS = new FlagTable<ServerFlag>(FLAGS, {
  envPrefix: "CRYPTO_",
  groups: ["Service", "Logging", "Providers", "Limits"],
});

/** The flags `deno task ingest` takes: those of the server that concern one ingestion. */
export const INGEST_FLAGS = [
  "db",
  "api-url",
  "api-key",
  "top",
  "allow-insecure-upstream",
  "providers",
  "coinpaprika-url",
  "cmc-url",
  "cmc-key",
  "upstream-timeout",
  "max-upstream-bytes",
] as const satisfies readonly FlagName[];

/** The `--help` text of `deno task server`, generated from the flag table. */
export function serverHelp(): string {
  return [
    `crypto-server ${VERSION}: serves cryptocurrency prices (JSON lines, HTTP, WebSocket)`,
    "",
    "Usage: deno task server [flags]      (or: crypto-server [flags])",
    ...SERVER_FLAGS.help(),
    "",
    "A flag wins over its environment variable. SIGINT or SIGTERM stops the server",
    "cleanly.",
  ].join("\n");
}

/** The `--help` text of `deno task ingest`, generated from the same table. */
export function ingestHelp(): string {
  return [
    `crypto-ingest ${VERSION}: fetches the top coins once, stores them, and exits`,
    "",
    "Usage: deno task ingest [flags]",
    ...SERVER_FLAGS.help(INGEST_FLAGS),
    "",
    "A flag wins over its environment variable; defaults and guards are the server's.",
  ].join("\n");
}
