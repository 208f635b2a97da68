/**
 * `deno task ingest`: fetch the top coins once and store them in the database.
 *
 * Flags override environment variables: `--db` (`CRYPTO_DB`), `--api-url` (`CRYPTO_API_URL`),
 * `--api-key` (`COINGECKO_API_KEY` or `CRYPTO_API_KEY`), `--top` (`CRYPTO_TOP`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_API_URL, MAX_TOP } from "./coingecko.ts";
import { ingestOnce } from "./ingestor.ts";
import { describeDatabase } from "../storage/open_repository.ts";

/** Where the database lives unless told otherwise. */
export const DEFAULT_DB_PATH = "./data/crypto.sqlite";
/** How many coins are ingested unless told otherwise. */
export const DEFAULT_TOP = 10;

const USAGE = `Usage: deno task ingest [--db PATH|URL] [--api-url URL] [--api-key KEY] [--top N]`;

/** Runs one ingestion with the given arguments; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      options: {
        db: { type: "string" },
        "api-url": { type: "string" },
        "api-key": { type: "string" },
        top: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const env = (name: string) => Deno.env.get(name) || undefined;
    const topText = values.top ?? env("CRYPTO_TOP") ?? String(DEFAULT_TOP);
    const top = Number(topText);
    if (!/^\d+$/.test(topText) || top < 1 || top > MAX_TOP) {
      throw new RangeError(`Invalid --top ${JSON.stringify(topText)}: expected 1 to ${MAX_TOP}`);
    }
    const dbPath = values.db ?? env("CRYPTO_DB") ?? DEFAULT_DB_PATH;
    const { snapshot, durationMs, source } = await ingestOnce({
      apiUrl: values["api-url"] ?? env("CRYPTO_API_URL") ?? DEFAULT_API_URL,
      apiKey: values["api-key"] ?? env("COINGECKO_API_KEY") ?? env("CRYPTO_API_KEY"),
      top,
      dbPath,
    });
    console.log(
      `ingested ${snapshot.coins.length} coins from ${source} into ${
        describeDatabase(dbPath)
      } in ${durationMs} ms`,
    );
    return 0;
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
