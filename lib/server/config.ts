/**
 * Server settings: one table of flags, from which the parser, the environment variables and the
 * `--help` text are all derived, so the three cannot disagree.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_LIMITS, type Limits } from "./price_server.ts";
import {
  DEFAULT_BREAKER_COOLDOWN_MS,
  DEFAULT_BREAKER_FAILURES,
  PROVIDER_NAMES,
} from "../ingest/provider_chain.ts";

import { UsageError } from "../util/usage_error.ts";
import { VERSION } from "../util/version.ts";

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
  limits: Limits;
}

type Kind = "string" | "integer" | "seconds" | "boolean";

interface Flag {
  name: string;
  kind: Kind;
  /** Shown in `--help`; the default is appended. */
  help: string;
  default?: string;
  /** Extra environment variables read after `CRYPTO_<NAME>`. */
  alsoEnv?: string[];
  min?: number;
  max?: number;
  section: "Service" | "Providers" | "Limits";
}

const sec = (ms: number) => String(ms / 1000);

const FLAGS: readonly Flag[] = [
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
    name: "db",
    kind: "string",
    default: "./data/crypto.sqlite",
    help: "SQLite database file; its directory is created",
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
    help: "Seconds a failing provider is skipped before one probe request",
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
];

/** The environment variable for a flag: `--api-url` is `CRYPTO_API_URL`. */
export function envName(flag: string): string {
  return `CRYPTO_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** The `--help` text, generated from the flag table. */
export function serverHelp(): string {
  const lines = [
    `crypto-server ${VERSION}: serves cryptocurrency prices over TCP or TLS (JSON lines)`,
    "",
    "Usage: deno task server [flags]      (or: crypto-server [flags])",
  ];
  for (const section of ["Service", "Providers", "Limits"] as const) {
    lines.push("", `${section}:`);
    for (const flag of FLAGS.filter((f) => f.section === section)) {
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
    "",
    "A flag wins over its environment variable. SIGINT or SIGTERM stops the server cleanly.",
  );
  return lines.join("\n");
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

/**
 * Parses the server's command line and environment.
 *
 * @param env reads one environment variable; returns undefined when unset or not permitted
 * @throws {UsageError} for an unknown flag, a bad value or a bad combination
 */
export function parseServerArgs(
  args: string[],
  env: (name: string) => string | undefined,
): ServerCommand {
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
          FLAGS.map((f) =>
            [f.name, { type: f.kind === "boolean" ? "boolean" : "string" }] as const
          ),
        ),
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0].replace(/\.$/, ""));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { action: "help" };
  if (values.version) return { action: "version" };

  const raw = (flag: Flag): string | undefined => {
    const given = values[flag.name];
    if (typeof given === "string") return given;
    if (given === true) return "true";
    for (const name of [envName(flag.name), ...(flag.alsoEnv ?? [])]) {
      const value = env(name);
      if (value !== undefined && value !== "") return value;
    }
    return flag.default;
  };
  const get = new Map<string, string | number | boolean | undefined>();
  for (const flag of FLAGS) {
    const text = raw(flag);
    if (text === undefined) {
      get.set(flag.name, flag.kind === "boolean" ? false : undefined);
      continue;
    }
    get.set(flag.name, convert(flag, text));
  }
  const str = (name: string) => get.get(name) as string | undefined;
  const num = (name: string) => get.get(name) as number;

  const allowInsecureUpstream = get.get("allow-insecure-upstream") as boolean;
  const [apiUrl, coinpaprikaUrl, cmcUrl] = ["api-url", "coinpaprika-url", "cmc-url"].map((flag) =>
    upstreamUrl(flag, str(flag)!, allowInsecureUpstream)
  );
  const providers = parseProviders(str("providers")!);
  if (providers.length === 1 && providers[0] === "coinmarketcap" && !str("cmc-key")) {
    throw new UsageError("--providers coinmarketcap needs --cmc-key (or CMC_PRO_API_KEY)");
  }
  const tlsCert = str("tls-cert");
  const tlsKey = str("tls-key");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError("TLS needs both --tls-cert and --tls-key");
  }
  const refreshSeconds = num("refresh");
  const staleAfter = get.get("stale-after") as number | undefined;
  return {
    action: "serve",
    config: {
      host: str("host")!,
      port: num("port"),
      db: str("db")!,
      apiUrl,
      apiKey: str("api-key"),
      refreshSeconds,
      top: num("top"),
      tlsCert,
      tlsKey,
      staleAfterSeconds: staleAfter ?? 3 * refreshSeconds,
      historyDays: num("history-days"),
      allowInsecureUpstream,
      providers,
      coinpaprikaUrl,
      cmcUrl,
      cmcKey: str("cmc-key"),
      breakerFailures: num("breaker-failures"),
      breakerCooldownSeconds: num("breaker-cooldown"),
      limits: {
        maxRequestBytes: num("max-request-bytes"),
        requestTimeoutMs: num("request-timeout") * 1000,
        idleTimeoutMs: num("idle-timeout") * 1000,
        maxConnections: num("max-connections"),
        maxConnectionsPerAddress: num("max-connections-per-ip"),
        maxUnsentBytes: num("max-unsent-bytes"),
        tlsHandshakeTimeoutMs: num("tls-handshake-timeout") * 1000,
      },
    },
  };
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
