/**
 * Server and ingestion settings: one table of flags, from which the parser, the environment
 * variables and the `--help` texts of `deno task server` and `deno task ingest` are all derived,
 * so they cannot disagree. The table is typed: reading a flag it does not have fails to compile.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_LIMITS, type Limits } from "./price_server.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS } from "../ingest/upstream_http.ts";
import {
  DEFAULT_BREAKER_COOLDOWN_MS,
  DEFAULT_BREAKER_FAILURES,
} from "../ingest/circuit_breaker.ts";
import { PROVIDER_NAMES } from "../ingest/provider_chain.ts";
import { UsageError } from "../util/usage_error.ts";
import { VERSION } from "../util/version.ts";
import { describeDatabase, isPostgresUrl } from "../storage/database_url.ts";

/** Everything the server runs with. */
export interface ServerConfig {
  host: string;
  port: number;
  db: string;
  apiUrl: string;
  apiKey: string | undefined;
  refreshSeconds: number;
  top: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** Listen with `SO_REUSEPORT`, so replicas on one host share the port. */
  reusePort: boolean;
  staleAfterSeconds: number;
  historyDays: number;
  allowInsecureUpstream: boolean;
  /** Price providers in order of preference, from `PROVIDER_NAMES`, without duplicates. */
  providers: string[];
  coinpaprikaUrl: string;
  cmcUrl: string;
  /** CoinMarketCap Pro API key; without it coinmarketcap is left out of `providers`' chain. */
  cmcKey: string | undefined;
  breakerFailures: number;
  breakerCooldownSeconds: number;
  /** Most bytes of one upstream answer, decompressed. */
  maxUpstreamBytes: number;
  /** Deadline of one upstream request, body included. */
  upstreamTimeoutSeconds: number;
  limits: Limits;
  /** The HTTP listener, or null with `--no-http`. */
  http: { host: string; port: number; corsOrigin: string } | null;
}

/** What `deno task ingest` runs with: the server's settings that concern one ingestion. */
export type IngestConfig = Pick<
  ServerConfig,
  | "db"
  | "apiUrl"
  | "apiKey"
  | "top"
  | "allowInsecureUpstream"
  | "providers"
  | "coinpaprikaUrl"
  | "cmcUrl"
  | "cmcKey"
  | "upstreamTimeoutSeconds"
  | "maxUpstreamBytes"
>;

type Kind = "string" | "integer" | "seconds" | "boolean";

interface Flag {
  readonly name: string;
  readonly kind: Kind;
  /** Shown in `--help`; the default is appended. */
  readonly help: string;
  readonly default?: string;
  /** Extra environment variables read after `CRYPTO_<NAME>`. */
  readonly alsoEnv?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly section: "Service" | "Providers" | "Limits";
}

const sec = (ms: number) => String(ms / 1000);

const FLAGS = [
  {
    name: "host",
    kind: "string",
    default: "127.0.0.1",
    help: "Address to listen on",
    section: "Service",
  },
  {
    name: "port",
    kind: "integer",
    default: "8000",
    min: 0,
    max: 65535,
    help: "Port to listen on (0 = any free port)",
    section: "Service",
  },
  {
    name: "http-host",
    kind: "string",
    default: "127.0.0.1",
    help: "HTTP listener address",
    section: "Service",
  },
  {
    name: "http-port",
    kind: "integer",
    default: "8080",
    min: 0,
    max: 65535,
    help: "HTTP port (0 = any free port)",
    section: "Service",
  },
  {
    name: "no-http",
    kind: "boolean",
    help: "No HTTP listener (socket protocol only)",
    section: "Service",
  },
  {
    name: "cors-origin",
    kind: "string",
    default: "*",
    help: 'API CORS origin ("" = none)',
    section: "Service",
  },
  {
    name: "db",
    kind: "string",
    default: "./data/crypto.sqlite",
    help:
      "SQLite file (its directory is created) or postgres://user:password@host:port/name (cluster mode)",
    section: "Service",
  },
  {
    name: "api-url",
    kind: "string",
    default: "https://api.coingecko.com/api/v3",
    help: "Base URL of a CoinGecko-compatible API",
    section: "Service",
  },
  {
    name: "api-key",
    kind: "string",
    alsoEnv: ["COINGECKO_API_KEY"],
    help: "CoinGecko demo API key, sent as x-cg-demo-api-key (never logged)",
    section: "Service",
  },
  {
    name: "refresh",
    kind: "seconds",
    default: "60",
    min: 0.05,
    help: "Seconds between ingestions",
    section: "Service",
  },
  {
    name: "top",
    kind: "integer",
    default: "10",
    min: 1,
    max: 250,
    help: "How many coins to fetch, by market cap",
    section: "Service",
  },
  {
    name: "tls-cert",
    kind: "string",
    help: "PEM certificate; with --tls-key the server speaks TLS only",
    section: "Service",
  },
  { name: "tls-key", kind: "string", help: "PEM private key for --tls-cert", section: "Service" },
  {
    name: "stale-after",
    kind: "seconds",
    help: 'Seconds after which v2 coins say "stale": true (default 3 x --refresh)',
    section: "Service",
  },
  {
    name: "history-days",
    kind: "integer",
    default: "30",
    min: 1,
    max: 3650,
    help: "Days of price history kept; older rows are pruned after each ingestion",
    section: "Service",
  },
  {
    name: "reuse-port",
    kind: "boolean",
    help:
      "Set SO_REUSEPORT so several replicas on one host share --port (Linux; needs Deno's --unstable-net)",
    section: "Service",
  },
  {
    name: "allow-insecure-upstream",
    kind: "boolean",
    help: "Allow an http:// --api-url on a host that is not loopback",
    section: "Service",
  },
  {
    name: "providers",
    kind: "string",
    default: "coingecko,coinpaprika",
    help: `Price providers in failover order, of ${
      PROVIDER_NAMES.join(", ")
    } (coinmarketcap only with --cmc-key)`,
    section: "Providers",
  },
  {
    name: "coinpaprika-url",
    kind: "string",
    default: "https://api.coinpaprika.com",
    help: "Base URL of the CoinPaprika API (keyless)",
    section: "Providers",
  },
  {
    name: "cmc-url",
    kind: "string",
    default: "https://pro-api.coinmarketcap.com",
    help: "Base URL of the CoinMarketCap Pro API",
    section: "Providers",
  },
  {
    name: "cmc-key",
    kind: "string",
    alsoEnv: ["CMC_PRO_API_KEY"],
    help: "CoinMarketCap API key, sent as X-CMC_PRO_API_KEY (never logged)",
    section: "Providers",
  },
  {
    name: "breaker-failures",
    kind: "integer",
    default: String(DEFAULT_BREAKER_FAILURES),
    min: 1,
    max: 1000,
    help: "Failed rounds in a row after which a provider is skipped for --breaker-cooldown",
    section: "Providers",
  },
  {
    name: "breaker-cooldown",
    kind: "seconds",
    default: sec(DEFAULT_BREAKER_COOLDOWN_MS),
    min: 0,
    help: "Seconds other providers are preferred to a failing one before one probe request",
    section: "Providers",
  },
  {
    name: "upstream-timeout",
    kind: "seconds",
    default: sec(DEFAULT_TIMEOUT_MS),
    min: 0.01,
    help: "Seconds one upstream request may take, body included",
    section: "Providers",
  },
  {
    name: "max-upstream-bytes",
    kind: "integer",
    default: String(DEFAULT_MAX_BYTES),
    min: 1024,
    help: "Most bytes of one upstream answer, decompressed; a larger one fails at once",
    section: "Providers",
  },
  {
    name: "max-request-bytes",
    kind: "integer",
    default: String(DEFAULT_LIMITS.maxRequestBytes),
    min: 64,
    max: 16 * 1024 * 1024,
    help: "Longest request line; longer gets LINE_TOO_LONG and a close",
    section: "Limits",
  },
  {
    name: "request-timeout",
    kind: "seconds",
    default: sec(DEFAULT_LIMITS.requestTimeoutMs),
    min: 0.01,
    help: "Seconds a started request has to complete (TIMEOUT)",
    section: "Limits",
  },
  {
    name: "idle-timeout",
    kind: "seconds",
    default: sec(DEFAULT_LIMITS.idleTimeoutMs),
    min: 0,
    help: "Seconds without a request before a connection is closed (0 = never)",
    section: "Limits",
  },
  {
    name: "max-connections",
    kind: "integer",
    default: String(DEFAULT_LIMITS.maxConnections),
    min: 1,
    help: "Connections open at once; past it new ones get BUSY",
    section: "Limits",
  },
  {
    name: "max-connections-per-ip",
    kind: "integer",
    default: "0",
    min: 0,
    help: "Connections open at once from one address (0 = no cap)",
    section: "Limits",
  },
  {
    name: "max-unsent-bytes",
    kind: "integer",
    default: String(DEFAULT_LIMITS.maxUnsentBytes),
    min: 1024,
    help: "Replies a client has not read before it is closed",
    section: "Limits",
  },
  {
    name: "tls-handshake-timeout",
    kind: "seconds",
    default: sec(DEFAULT_LIMITS.tlsHandshakeTimeoutMs),
    min: 0.01,
    help: "Seconds a TLS handshake may take",
    section: "Limits",
  },
] as const satisfies readonly Flag[];

type TableFlag = typeof FLAGS[number];
/** The name of a flag of the table, e.g. `api-url`. */
type FlagName = TableFlag["name"];
/** What a flag reads as: text, a number or a switch; undefined when unset with no default. */
type ValueOf<F extends TableFlag> = F["kind"] extends "boolean" ? boolean
  : F extends { default: string } ? (F["kind"] extends "string" ? string : number)
  : (F["kind"] extends "string" ? string : number) | undefined;
/** The values of the flags named `N`, typed by the table. */
type FlagValues<N extends FlagName> = { [K in N]: ValueOf<Extract<TableFlag, { name: K }>> };

/** The flags `deno task ingest` takes: those of the server that concern one ingestion. */
const INGEST_FLAGS = [
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

const ALL_FLAGS: readonly FlagName[] = FLAGS.map((flag) => flag.name);

/** The environment variable for a flag: `--api-url` is `CRYPTO_API_URL`. */
function envName(flag: string): string {
  return `CRYPTO_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** The `--help` text of `deno task server`, generated from the flag table. */
export function serverHelp(): string {
  return [
    `crypto-server ${VERSION}: serves cryptocurrency prices over TCP or TLS (JSON lines)`,
    "",
    "Usage: deno task server [flags]      (or: crypto-server [flags])",
    ...flagsHelp(ALL_FLAGS),
    "",
    "A flag wins over its environment variable. SIGINT or SIGTERM stops the server cleanly.",
  ].join("\n");
}

/** The `--help` text of `deno task ingest`, generated from the same table. */
export function ingestHelp(): string {
  return [
    `crypto-ingest ${VERSION}: fetches the top coins once, stores them, and exits`,
    "",
    "Usage: deno task ingest [flags]",
    ...flagsHelp(INGEST_FLAGS),
    "",
    "A flag wins over its environment variable; defaults and guards are the server's.",
  ].join("\n");
}

/** The help lines of the flags named, by section, then the two flags every program has. */
function flagsHelp(names: readonly FlagName[]): string[] {
  const lines: string[] = [];
  for (const section of ["Service", "Providers", "Limits"] as const) {
    const flags = FLAGS.filter((f: Flag) =>
      f.section === section && (names as readonly string[]).includes(f.name)
    );
    if (flags.length === 0) continue;
    lines.push("", `${section}:`);
    for (const flag of flags as readonly Flag[]) {
      const value = flag.kind === "boolean" ? "" : flag.kind === "string" ? " <text>" : " <n>";
      const envs = [envName(flag.name), ...(flag.alsoEnv ?? [])].join(", ");
      const dflt = flag.default === undefined ? "" : ` [default: ${flag.default}]`;
      lines.push(`  --${flag.name}${value}`.padEnd(34) + `${flag.help}${dflt}`);
      lines.push(" ".repeat(34) + `env: ${envs}`);
    }
  }
  lines.push(
    "",
    "Other:",
    "  -h, --help".padEnd(34) + "Show this help and exit",
    "  --version".padEnd(34) + "Show the version and exit",
  );
  return lines;
}

/** What the command line asks for. */
export type ServerCommand =
  | { action: "help" }
  | { action: "version" }
  | { action: "serve"; config: ServerConfig };

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** What a program's first step settles: the settings to run with, or the exit code. */
export type Startup<C> = { config: C } | { exitCode: number };

/**
 * The first step of `server.ts` and `deno task ingest`: parses the command line and environment,
 * or answers `--help` and `--version` on standard output, or a bad usage with one line on
 * standard error and exit code 2.
 */
export function startup<C>(
  program: string,
  help: () => string,
  parse: () => { action: "help" } | { action: "version" } | { config: C },
): Startup<C> {
  let command;
  try {
    command = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\nRun with --help for the flags.`);
    return { exitCode: 2 };
  }
  if (!("config" in command)) {
    console.log(command.action === "help" ? help() : `${program} ${VERSION}`);
    return { exitCode: 0 };
  }
  return { config: command.config };
}

/** What a command line of `deno task ingest` asks for. */
export type IngestCommand =
  | { action: "help" }
  | { action: "version" }
  | { action: "ingest"; config: IngestConfig };

/** Reads an environment variable; undefined when unset or not permitted. */
export type EnvReader = (name: string) => string | undefined;

/**
 * Parses the flags named `names` from `args`, then from their environment variables, then from
 * their defaults, each converted and checked by the table.
 */
function readFlags<N extends FlagName>(
  names: readonly N[],
  args: string[],
  env: EnvReader,
): { action: "help" } | { action: "version" } | { action: "run"; values: FlagValues<N> } {
  const flags: readonly Flag[] = FLAGS.filter((flag) =>
    (names as readonly string[]).includes(flag.name)
  );
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
        ...Object.fromEntries(
          flags.map((f) =>
            [f.name, { type: f.kind === "boolean" ? "boolean" : "string" }] as const
          ),
        ),
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0].replace(/\.$/, ""));
  }
  const given = parsed.values as Record<string, string | boolean | undefined>;
  if (given.help) return { action: "help" };
  if (given.version) return { action: "version" };
  const raw = (flag: Flag): string | undefined => {
    const value = given[flag.name];
    if (typeof value === "string") return value;
    if (value === true) return "true";
    for (const name of [envName(flag.name), ...(flag.alsoEnv ?? [])]) {
      const text = env(name);
      if (text !== undefined && text !== "") return text;
    }
    return flag.default;
  };
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const flag of flags) {
    const text = raw(flag);
    values[flag.name] = text === undefined
      ? (flag.kind === "boolean" ? false : undefined)
      : convert(flag, text);
  }
  return { action: "run", values: values as FlagValues<N> };
}

/**
 * `--db` as given, once a PostgreSQL URL is known to parse: the parser's own error would quote the
 * whole URL, password included, so the message names the database without it.
 */
function databaseSetting(db: string): string {
  if (!isPostgresUrl(db)) return db;
  try {
    new URL(db);
  } catch {
    throw new UsageError(
      `Invalid --db ${describeDatabase(db)}: expected postgres://user:password@host:port/name`,
    );
  }
  return db;
}

/** The upstream settings both programs share, checked the same way: URLs, providers, keys. */
function upstreamConfig(values: FlagValues<typeof INGEST_FLAGS[number]>): IngestConfig {
  const allowInsecureUpstream = values["allow-insecure-upstream"];
  const providers = parseProviders(values.providers);
  if (providers.length === 1 && providers[0] === "coinmarketcap" && !values["cmc-key"]) {
    throw new UsageError("--providers coinmarketcap needs --cmc-key (or CMC_PRO_API_KEY)");
  }
  return {
    db: databaseSetting(values.db),
    apiUrl: upstreamUrl("api-url", values["api-url"], allowInsecureUpstream),
    apiKey: values["api-key"],
    top: values.top,
    allowInsecureUpstream,
    providers,
    coinpaprikaUrl: upstreamUrl(
      "coinpaprika-url",
      values["coinpaprika-url"],
      allowInsecureUpstream,
    ),
    cmcUrl: upstreamUrl("cmc-url", values["cmc-url"], allowInsecureUpstream),
    cmcKey: values["cmc-key"],
    upstreamTimeoutSeconds: values["upstream-timeout"],
    maxUpstreamBytes: values["max-upstream-bytes"],
  };
}

/**
 * Parses the server's command line and environment.
 *
 * @param env reads one environment variable; returns undefined when unset or not permitted
 * @throws {UsageError} for an unknown flag, a bad value or a bad combination
 */
export function parseServerArgs(args: string[], env: EnvReader): ServerCommand {
  const read = readFlags(ALL_FLAGS, args, env);
  if (read.action !== "run") return read;
  const { values } = read;
  const upstream = upstreamConfig(values);
  const tlsCert = values["tls-cert"];
  const tlsKey = values["tls-key"];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError("TLS needs both --tls-cert and --tls-key");
  }
  const refreshSeconds = values.refresh;
  return {
    action: "serve",
    config: {
      ...upstream,
      host: values.host,
      port: values.port,
      refreshSeconds,
      tlsCert,
      tlsKey,
      reusePort: values["reuse-port"],
      staleAfterSeconds: values["stale-after"] ?? 3 * refreshSeconds,
      historyDays: values["history-days"],
      breakerFailures: values["breaker-failures"],
      breakerCooldownSeconds: values["breaker-cooldown"],
      limits: {
        maxRequestBytes: values["max-request-bytes"],
        requestTimeoutMs: values["request-timeout"] * 1000,
        idleTimeoutMs: values["idle-timeout"] * 1000,
        maxConnections: values["max-connections"],
        maxConnectionsPerAddress: values["max-connections-per-ip"],
        maxUnsentBytes: values["max-unsent-bytes"],
        tlsHandshakeTimeoutMs: values["tls-handshake-timeout"] * 1000,
      },
      http: values["no-http"] ? null : {
        host: values["http-host"],
        port: values["http-port"],
        corsOrigin: values["cors-origin"],
      },
    },
  };
}

/**
 * Parses the command line and environment of `deno task ingest`: the server's flags that concern
 * one ingestion, with the server's environment variables, defaults and checks.
 *
 * @throws {UsageError} for an unknown flag, a bad value or a bad combination
 */
export function parseIngestArgs(args: string[], env: EnvReader): IngestCommand {
  const read = readFlags(INGEST_FLAGS, args, env);
  if (read.action !== "run") return read;
  return { action: "ingest", config: upstreamConfig(read.values) };
}

/** Checks an upstream base URL flag and drops trailing slashes. */
function upstreamUrl(flag: string, text: string, allowInsecure: boolean): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`Invalid --${flag} ${JSON.stringify(text)}: expected an http(s) URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`Invalid --${flag} ${JSON.stringify(text)}: expected an http(s) URL`);
  }
  if (url.protocol === "http:" && !isLoopback(url.hostname) && !allowInsecure) {
    throw new UsageError(
      `Refusing plain http:// --${flag} on ${url.hostname}: use https, a loopback host, or --allow-insecure-upstream`,
    );
  }
  return text.replace(/\/+$/, "");
}

/** Splits `--providers`, rejecting unknown names, repeats and an empty list. */
function parseProviders(text: string): string[] {
  const names = text.split(",").map((name) => name.trim().toLowerCase()).filter((n) => n !== "");
  const known: readonly string[] = PROVIDER_NAMES;
  for (const [i, name] of names.entries()) {
    if (!known.includes(name)) {
      throw new UsageError(
        `Invalid --providers ${JSON.stringify(text)}: unknown provider ${
          JSON.stringify(name)
        }, expected some of ${PROVIDER_NAMES.join(", ")}`,
      );
    }
    if (names.indexOf(name) !== i) {
      throw new UsageError(
        `Invalid --providers ${JSON.stringify(text)}: ${name} is listed twice`,
      );
    }
  }
  if (names.length === 0) {
    throw new UsageError(
      `Invalid --providers ${JSON.stringify(text)}: expected at least one of ${
        PROVIDER_NAMES.join(", ")
      }`,
    );
  }
  return names;
}

function convert(flag: Flag, text: string): string | number | boolean {
  switch (flag.kind) {
    case "string":
      return text;
    case "boolean":
      if (/^(true|1|yes)$/i.test(text)) return true;
      if (/^(false|0|no)$/i.test(text)) return false;
      throw new UsageError(
        `Invalid --${flag.name} ${JSON.stringify(text)}: expected true or false`,
      );
    case "integer":
    case "seconds": {
      const value = Number(text);
      const integer = flag.kind === "integer";
      if (
        text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) ||
        (flag.min !== undefined && value < flag.min) || (flag.max !== undefined && value > flag.max)
      ) {
        const range = flag.max === undefined
          ? `at least ${flag.min ?? 0}`
          : `${flag.min ?? 0} to ${flag.max}`;
        throw new UsageError(
          `Invalid --${flag.name} ${JSON.stringify(text)}: expected ${
            integer ? "a whole number" : "seconds"
          }, ${range}`,
        );
      }
      return value;
    }
  }
}
