/**
 * `deno task demo`: the whole service offline. A local upstream serves a recorded real CoinGecko
 * response (2022-10-04 20:16 UTC) and the server ingests from it, so every command of the client
 * can be tried with no internet and no API key.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseServerArgs } from "../server/config.ts";
import { startDemoUpstream } from "./upstream.ts";
import { startService } from "../server/service.ts";

const HELP = `deno task demo [--port N] [--db FILE]

Starts a local fake CoinGecko serving prices recorded on 2022-10-04 20:16 UTC, and the price
server pointed at it (default port 8000, database ./data/demo.sqlite). Then, in another terminal:
  deno task client            the menu
  deno task client list       the table
  deno task client price BTC  one coin
Ctrl-C stops both.`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string", default: "8000" },
        db: { type: "string", default: "./data/demo.sqlite" },
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
        ...["--port", values.port!, "--db", values.db!, "--api-url", upstream.baseUrl],
        // Only the local upstream: the demo must not reach out to any real provider.
        ...["--providers", "coingecko", "--refresh", "30"],
      ],
      () => undefined,
    );
  } catch (error) {
    await upstream.close();
    console.error(`error: ${(error as Error).message}`);
    return 2;
  }
  if (command.action !== "serve") return 0;
  console.log(`demo upstream on ${upstream.baseUrl} (recorded prices of 2022-10-04 20:16 UTC)`);
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
  console.log(`try: deno task client --port ${service.addr.port} list`);
  const stop = () => void service.shutdown();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  await service.finished;
  await upstream.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
