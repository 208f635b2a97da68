/**
 * Server and ingestion settings: the command line and environment read through the server's flag
 * table (`server_flags.ts`), checked, and turned into the settings each program runs with.
 *
 * @module
 */

import type { Limits } from "../server/price_server.ts";
import { PROVIDER_NAMES } from "../ingest/providers.ts";
import { UsageError } from "../util/usage_error.ts";
import type { EnvReader, FlagValues } from "../util/flag_table.ts";
import { VERSION } from "../util/version.ts";
import { LOG_LEVELS, type LogLevel } from "../util/log.ts";
import { describeDatabase, postgresUrl } from "../storage/database_url.ts";
import { readConfigFile } from "./config_file.ts";
import { INGEST_FLAGS, SERVER_FLAGS, type ServerFlag } from "./server_flags.ts";

export type { EnvReader };

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
  /** How long a coin outside the top N stays tracked after it was last asked for. */
  trackForSeconds: number;
  /** Most coins outside the top N tracked at once; 0 turns the long tail off. */
  maxTracked: number;
  /** Calls a minute per provider (`--upstream-budget`); undefined for each provider's default. */
  upstreamBudget: number | undefined;
  limits: Limits;
  /** The HTTP listener, or null with `--no-http`. */
  http: { host: string; port: number; corsOrigin: string } | null;
  /** What is logged and how: `--log-level`, `--log-timestamps`, `--name`. */
  log: LogSettings;
}

/** What the server logs, and how each line starts. */
export interface LogSettings {
  level: LogLevel;
  timestamps: boolean;
  /** Put before each line; undefined for the default (the address in cluster mode, else none). */
  name: string | undefined;
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

/** What the command line asks for. */
export type ServerCommand =
  | { action: "help" }
  | { action: "version" }
  | { action: "serve"; config: ServerConfig };

/** Whether `hostname` is this machine (a local fake, the demo, a proxy of our own). */
export function isLoopback(hostname: string): boolean {
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
    console.error(`error: ${error.message}\nTry --help for usage.`);
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

/**
 * `--db` as given, once a PostgreSQL URL is known to parse: the parser's own error would quote the
 * whole URL, password included, so the message names the database without it.
 */
function databaseSetting(db: string): string {
  try {
    postgresUrl(db);
  } catch {
    throw new UsageError(
      `Invalid --db ${describeDatabase(db)}: expected postgres://user:password@host:port/name`,
    );
  }
  return db;
}

/** The upstream settings both programs share, checked the same way: URLs, providers, keys. */
function upstreamConfig(
  values: FlagValues<ServerFlag, typeof INGEST_FLAGS[number]>,
): IngestConfig {
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
 * @param readText reads the `--config` file; `Deno.readTextFileSync` when absent
 * @throws {UsageError} for an unknown flag, a bad value or a bad combination
 */
export function parseServerArgs(
  args: string[],
  env: EnvReader,
  readText?: (path: string) => string,
): ServerCommand {
  let read = SERVER_FLAGS.parse(args, env);
  if (read.action !== "run") return read;
  const file = read.values.config;
  if (file !== undefined) {
    const keys = SERVER_FLAGS.flags.map((flag) => flag.name).filter((name) => name !== "config");
    const configured = readConfigFile(file, keys, readText);
    read = SERVER_FLAGS.parse(args, env, { configured });
    if (read.action !== "run") return read;
  }
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
      trackForSeconds: values["track-for"],
      maxTracked: values["max-tracked"],
      upstreamBudget: values["upstream-budget"],
      log: {
        level: logLevel(values["log-level"]),
        timestamps: values["log-timestamps"],
        name: values.name,
      },
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
  const read = SERVER_FLAGS.parse(args, env, { only: INGEST_FLAGS });
  if (read.action !== "run") return read;
  return { action: "ingest", config: upstreamConfig(read.values) };
}

function logLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((name) => name === text.toLowerCase());
  if (level === undefined) {
    throw new UsageError(
      `Invalid --log-level ${JSON.stringify(text)}: expected one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return level;
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
