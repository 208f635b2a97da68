/**
 * `deno task ingest`: fetch the top coins once through the provider chain, store them in the
 * database and exit. The flags, their environment variables, defaults and checks are the
 * server's (`lib/server/config.ts`); `--help` lists the ones that concern one ingestion.
 *
 * @module
 */

import { ingestHelp, parseIngestArgs } from "../server/config.ts";
import { readEnv } from "../util/read_env.ts";
import { UsageError } from "../util/usage_error.ts";
import { VERSION } from "../util/version.ts";
import { ingestOnce } from "./ingestor.ts";
import { describeDatabase } from "../storage/database_url.ts";

/**
 * Runs one ingestion with the given arguments; returns the process exit code: 0 when stored,
 * 1 when no provider answered or the database failed, 2 for bad usage.
 */
export async function main(
  args: string[],
  env: (name: string) => string | undefined = readEnv,
): Promise<number> {
  let command;
  try {
    command = parseIngestArgs(args, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\nRun with --help for the flags.`);
    return 2;
  }
  if (command.action === "help") {
    console.log(ingestHelp());
    return 0;
  }
  if (command.action === "version") {
    console.log(`crypto-ingest ${VERSION}`);
    return 0;
  }
  const { config } = command;
  try {
    const { snapshot, durationMs, source } = await ingestOnce(config);
    console.log(
      `ingested ${snapshot.coins.length} coins from ${source} into ${
        describeDatabase(config.db)
      } in ${durationMs} ms`,
    );
    return 0;
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
