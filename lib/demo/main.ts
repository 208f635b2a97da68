/**
 * `deno task demo`: the whole service offline. A local upstream serves a recorded real CoinGecko
 * response (2022-10-04 20:16 UTC), moved by a seeded random walk at every refresh, and the server
 * ingests from it, so every command of the client can be tried live with no internet and no API
 * key.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseServerArgs } from "../server/config.ts";
import { RECORDED_AT, startDemoUpstream } from "./upstream.ts";
import { startService } from "../server/service.ts";

const HELP = `deno task demo [--port N] [--http-port N] [--db FILE] [--refresh SECONDS]

Starts a local fake CoinGecko serving the prices recorded on ${RECORDED_AT}, and the price
server pointed at it (default port 8000, database ./data/demo.sqlite, a refresh every 10 s).
After the first refresh every price moves by a seeded random walk of a few tenths of a percent,
so watch shows updates and history fills while the demo runs. Exchange rates follow the served
prices (1 BTC is 1 BTC and 100,000,000 sats); fiat money keeps its ratio to the US dollar from
a recording of 2021. Then, in another terminal:
  deno task -q client              the prompt (type help)
  deno task -q client list         the table
  deno task -q client price BTC    one coin
  deno task -q client watch BTC    live until Ctrl-C
Ctrl-C stops both.`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string", default: "8000" },
        "http-port": { type: "string", default: "8080" },
        db: { type: "string", default: "./data/demo.sqlite" },
        refresh: { type: "string", default: "10" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`error: ${(error as Error).message}\nRun with --help for the flags.`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const upstream = startDemoUpstream();
  let command;
  try {
    command = parseServerArgs(
      [
        ...["--port", values.port!, "--http-port", values["http-port"]!, "--db", values.db!],
        ...["--api-url", upstream.baseUrl],
        // Only the local upstream: the demo must not reach out to any real provider.
        ...["--providers", "coingecko", "--refresh", values.refresh!],
      ],
      () => undefined,
    );
  } catch (error) {
    await upstream.close();
    console.error(`error: ${(error as Error).message}`);
    return 2;
  }
  if (command.action !== "serve") return 0;
  let service;
  try {
    service = await startService(command.config);
  } catch (error) {
    await upstream.close();
    const message = error instanceof Deno.errors.AddrInUse
      ? `port ${values.port} is in use: try --port 8001 and the client's --port 8001`
      : (error as Error).message;
    console.error(`error: cannot start the demo: ${message}`);
    return 1;
  }
  console.log(
    `demo upstream on ${upstream.baseUrl} (recorded prices of ${RECORDED_AT}, moving ` +
      `a few tenths of a percent at every refresh)`,
  );
  console.log(`try: deno task -q client --port ${service.addr.port} list`);
  const stop = () => void service.shutdown();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  await service.finished;
  await upstream.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
