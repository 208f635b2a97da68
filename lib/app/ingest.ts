/**
 * `deno task ingest`: fetch the top coins once through the provider chain, store them in the
 * database and exit. The flags, their environment variables, defaults and checks are the
 * server's (`server_flags.ts`); `--help` lists the ones that concern one ingestion.
 *
 * @module
 */

import { parseIngestArgs, startup } from "./config.ts";
import { ingestHelp } from "./server_flags.ts";
import { readEnv } from "../util/read_env.ts";
import { ingestOnce } from "../ingest/ingestor.ts";
import { describeDatabase } from "../storage/database_url.ts";

/**
 * Runs one ingestion with the given arguments; returns the process exit code: 0 when stored,
 * 1 when no provider answered or the database failed, 2 for bad usage.
 */
export async function main(
  args: string[],
  env: (name: string) => string | undefined = readEnv,
): Promise<number> {
  const start = startup("crypto-ingest", ingestHelp, () => parseIngestArgs(args, env));
  if ("exitCode" in start) return start.exitCode;
  const { config } = start;
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
