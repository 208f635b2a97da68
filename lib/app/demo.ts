/**
 * `deno task demo`: the whole service offline. A local upstream serves a recorded real CoinGecko
 * response (2022-10-04 20:16 UTC), moved by a seeded random walk at every refresh, and the server
 * ingests from it, so every command of the client can be tried live with no internet and no API
 * key. The demo takes the server's flags that make sense without a real provider, from the same
 * table, with the demo's own defaults.
 *
 * @module
 */

import { parseServerArgs } from "./config.ts";
import { type FlagName, FLAGS } from "./server_flags.ts";
import { RECORDED_AT, startDemoUpstream } from "../demo/upstream.ts";
import { startService } from "./service.ts";
import { type Flag, FlagTable, HELP_WIDTH, wrapText } from "../util/flag_table.ts";
import { VERSION } from "../util/version.ts";
import { UsageError } from "../util/usage_error.ts";

/** The server's flags the demo takes: none that choose or reach a real provider. */
const DEMO_FLAG_NAMES = [
  ...["host", "port", "db", "refresh", "top", "tls-cert", "tls-key", "stale-after"],
  ...["history-days", "max-request-bytes", "request-timeout", "idle-timeout", "max-connections"],
  ...["max-connections-per-ip", "max-unsent-bytes", "tls-handshake-timeout"],
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
        "while the demo runs. Exchange rates follow the served prices (1 BTC is 1 BTC and " +
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
  const upstream = startDemoUpstream();
  let command;
  try {
    command = parseServerArgs(
      // Only the local upstream: the demo must not reach out to any real provider.
      [...serverArgs, "--api-url", upstream.baseUrl, "--providers", "coingecko"],
      () => undefined,
    );
  } catch (error) {
    await upstream.close();
    console.error(`error: ${(error as Error).message}\nRun with --help for the flags.`);
    return 2;
  }
  if (command.action !== "serve") return 0;
  const { config } = command;
  let service;
  try {
    service = await startService(config);
  } catch (error) {
    await upstream.close();
    const message = error instanceof Deno.errors.AddrInUse
      ? `port ${config.port} is in use: try --port 8001 and the client's --port 8001`
      : (error as Error).message;
    console.error(`error: cannot start the demo: ${message}`);
    return 1;
  }
  console.log(
    `demo upstream on ${upstream.baseUrl} (recorded prices of ${RECORDED_AT}, moving ` +
      `a few tenths of a percent at every refresh)`,
  );
  const tls = config.tlsCert === undefined ? "" : ` --ca ${config.tlsCert}`;
  console.log(`try: deno task -q client --port ${service.addr.port}${tls} list`);
  const stop = () => void service.shutdown();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  await service.finished;
  await upstream.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
