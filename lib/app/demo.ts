/**
 * `deno task demo`: the whole service offline. A local upstream serves a recorded real CoinGecko
 * response (2022-10-04 20:16 UTC), moved by a seeded random walk at every refresh, and the server
 * ingests from it, so every command of the client can be tried live with no internet and no API
 * key. The demo takes the server's flags that make sense without a real provider, from the same
 * table, with the demo's own defaults.
 *
 * @module
 */

import { parseServerArgs, type ServerConfig } from "./config.ts";
import { type FlagName, FLAGS } from "./server_flags.ts";
import { RECORDED_AT, startDemoUpstream } from "../demo/upstream.ts";
import { startService } from "./service.ts";
import { ListenError } from "./listen_error.ts";
import { type Flag, FlagTable, HELP_WIDTH, wrapText } from "../util/flag_table.ts";
import { VERSION } from "../util/version.ts";
import { UsageError } from "../util/usage_error.ts";
import { isPostgresUrl } from "../storage/database_url.ts";
import { openRepository } from "../storage/open_repository.ts";

/** The server's flags the demo takes: none that choose or reach a real provider. */
const DEMO_FLAG_NAMES = [
  ...["host", "port", "http-host", "http-port", "no-http", "db", "refresh", "top", "tls-cert"],
  ...["tls-key", "stale-after"],
  ...["history-days", "max-request-bytes", "request-timeout", "idle-timeout", "max-connections"],
  ...["max-connections-per-ip", "max-unsent-bytes", "tls-handshake-timeout", "log-level"],
  "log-timestamps",
] as const satisfies readonly FlagName[];

/** Where the demo's defaults differ from the server's: its own database, a lively refresh. */
const DEMO_DEFAULTS: Partial<Record<FlagName, Partial<Flag>>> = {
  db: { default: "./data/demo.sqlite" },
  refresh: { default: "10" },
  // The recording holds 100 coins.
  top: { max: 100 },
};

/** The demo's table: the server's flags it takes, without environment variables. */
const DEMO_FLAGS = new FlagTable<Flag>(
  FLAGS.filter((flag) => (DEMO_FLAG_NAMES as readonly string[]).includes(flag.name))
    .map((flag) => ({ ...flag, ...DEMO_DEFAULTS[flag.name] })),
);

function demoHelp(): string {
  return [
    `crypto-demo ${VERSION}: the price server offline, on recorded prices`,
    "",
    "Usage: deno task demo [flags]",
    "",
    ...wrapText(
      `Starts a local fake CoinGecko serving the prices recorded on ${RECORDED_AT}, and the ` +
        "price server pointed at it. After the first refresh every price moves by a seeded " +
        "random walk of a few tenths of a percent, so watch shows updates and history fills " +
        "while the demo runs; a restart continues from the prices stored. Exchange rates follow the served prices (1 BTC is 1 BTC and " +
        "100,000,000 sats); fiat money keeps its ratio to the US dollar from a recording of " +
        "2021. Then, in another terminal:",
      HELP_WIDTH,
    ),
    "  deno task -q client              the prompt (type help)",
    "  deno task -q client list         the table",
    "  deno task -q client price BTC    one coin",
    "  deno task -q client watch BTC    live until Ctrl-C",
    "Ctrl-C stops both. The flags are the server's (deno task server --help):",
    ...DEMO_FLAGS.help(),
  ].join("\n");
}

/** The demo's flags with its defaults, as server flags (null for --help, --version). */
function demoServerArgs(args: string[]): string[] | null {
  const read = DEMO_FLAGS.parse(args, () => undefined);
  if (read.action === "help") {
    console.log(demoHelp());
    return null;
  }
  if (read.action === "version") {
    console.log(`crypto-demo ${VERSION}`);
    return null;
  }
  const defaults = Object.entries(DEMO_DEFAULTS).flatMap(([name, flag]) =>
    flag.default === undefined ? [] : [`--${name}`, flag.default]
  );
  // Later flags win: the user's over the demo's defaults.
  return [...defaults, ...args];
}

async function main(args: string[]): Promise<number> {
  let serverArgs;
  try {
    serverArgs = demoServerArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\nRun with --help for the flags.`);
    return 2;
  }
  if (serverArgs === null) return 0;
  let command;
  try {
    // Only the local upstream: the demo must not reach out to any real provider.
    command = parseServerArgs([...serverArgs, "--providers", "coingecko"], () => undefined);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\nRun with --help for the flags.`);
    return 2;
  }
  if (command.action !== "serve") return 0;
  // A restart continues the walk from the prices the last run stored, so history has no cliff.
  const upstream = startDemoUpstream({ startFrom: await storedPrices(command.config.db) });
  const config = { ...command.config, apiUrl: upstream.baseUrl };
  let service;
  try {
    service = await startService(config);
  } catch (error) {
    await upstream.close();
    console.error(`error: cannot start the demo: ${whyNotStarted(error, config)}`);
    return 1;
  }
  console.log(
    `demo upstream on ${upstream.baseUrl} (recorded prices of ${RECORDED_AT}, moving ` +
      `a few tenths of a percent at every refresh)`,
  );
  const tls = config.tlsCert === undefined ? "" : ` --ca ${config.tlsCert}`;
  console.log(`try: deno task -q client --port ${service.addr.port}${tls} list`);
  let stoppedBy: Deno.Signal | null = null;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stoppedBy ??= signal;
      void service.shutdown();
    });
  }
  await service.finished;
  await upstream.close();
  console.log("stopped");
  return exitCodeAfter(stoppedBy);
}

/**
 * The exit code after a stop by `signal`: 128 + its number, as a shell reports a program a signal
 * ended. Through npx the Node wrapper around Deno is itself ended by Ctrl-C, so the shell sees
 * 130 whatever Deno returns: plain Deno returns the same.
 */
function exitCodeAfter(signal: Deno.Signal | null): number {
  if (signal === "SIGINT") return 130;
  if (signal === "SIGTERM") return 143;
  return 0;
}

/** The prices stored in the demo's SQLite database by upper-case symbol; none for PostgreSQL. */
async function storedPrices(db: string): Promise<Map<string, number> | undefined> {
  if (isPostgresUrl(db)) return undefined;
  try {
    await Deno.lstat(db);
  } catch {
    return undefined; // a first run
  }
  try {
    const repository = await openRepository(db);
    try {
      const stored = await repository.loadSnapshot();
      return stored === null ? undefined : new Map(stored.coins.map((c) => [c.symbol, c.price]));
    } finally {
      await repository.close();
    }
  } catch {
    return undefined; // the service says what is wrong with the database
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/** Why the demo could not start, in one line with what to try instead. */
function whyNotStarted(error: unknown, config: ServerConfig): string {
  if (!(error instanceof ListenError)) return (error as Error).message;
  if (!(error.cause instanceof Deno.errors.AddrInUse)) return (error.cause as Error).message;
  return error.port === config.port
    ? `port ${error.port} is in use: try --port 8001 and the client's --port 8001`
    : `port ${error.port} is in use: try --http-port 8081, or --no-http`;
}
