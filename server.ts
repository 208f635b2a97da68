/**
 * `deno task server`: parses flags and environment, then runs the price service until SIGINT or
 * SIGTERM. Everything else lives in `lib/`.
 *
 * @module
 */

import { parseServerArgs, startup } from "./lib/app/config.ts";
import { serverHelp } from "./lib/app/server_flags.ts";
import { readEnv } from "./lib/util/read_env.ts";
import { startService } from "./lib/app/service.ts";
import { ListenError } from "./lib/app/listen_error.ts";

async function main(args: string[]): Promise<number> {
  const start = startup("crypto-server", serverHelp, () => parseServerArgs(args, readEnv));
  if ("exitCode" in start) return start.exitCode;
  const { config } = start;
  let service;
  try {
    service = await startService(config);
  } catch (error) {
    console.error(
      `error: cannot start the server: ${whyNotStarted(error, config.host, config.port)}`,
    );
    return 1;
  }
  const stop = () => {
    service.shutdown();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  await service.finished;
  console.log("stopped");
  return 0;
}

/** Why the service could not start, in one line for a person. */
function whyNotStarted(error: unknown, host: string, port: number): string {
  if (error instanceof ListenError) {
    return whyNotStarted(error.cause, error.hostname, error.port);
  }
  if (error instanceof Deno.errors.AddrInUse) return `${host}:${port} is already in use`;
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${host} is not an address of this machine`;
  }
  if (error instanceof Deno.errors.NotFound) return (error as Error).message;
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return `${(error as Error).message} (check the task's permissions)`;
  }
  return error instanceof Error ? error.message : String(error);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
