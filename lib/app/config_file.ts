/**
 * The server's optional config file (`--config FILE`): TOML whose keys are the flags' names and
 * whose values are what the flags would be given, e.g.
 *
 * ```toml
 * port = 8443
 * tls-cert = "data/cert.pem"
 * providers = ["coingecko", "coinpaprika"]
 * ```
 *
 * Flags and environment variables win over it; a key that is no flag is an error naming it and
 * its line, so a typo is never silently ignored.
 *
 * @module
 */

import { parse, TomlError } from "smol-toml";
import { UsageError } from "../util/usage_error.ts";

/**
 * Reads the config file at `path` into the text each flag named in it would be given.
 *
 * @param flags the names of the flags the file may set
 * @param readText reads the file; `Deno.readTextFileSync` when absent
 * @throws {UsageError} when the file cannot be read or parsed, or a key or value is not a flag's
 */
export function readConfigFile(
  path: string,
  flags: readonly string[],
  readText: (path: string) => string = Deno.readTextFileSync,
): Record<string, string> {
  let text: string;
  try {
    text = readText(path);
  } catch (error) {
    throw new UsageError(`Cannot read --config ${path}: ${(error as Error).message}`);
  }
  let table: Record<string, unknown>;
  try {
    table = parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw new UsageError(`Cannot parse --config ${path} line ${error.line}: ${reason}`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(table)) {
    const where = `--config ${path} line ${lineOf(text, key)}`;
    if (!flags.includes(key)) {
      throw new UsageError(
        `Unknown key ${JSON.stringify(key)} in ${where}: expected a flag's name`,
      );
    }
    values[key] = flagText(value, key, where);
  }
  return values;
}

/** A TOML value as the text of a flag: a string, a number, true or false, or a list of text. */
function flagText(value: unknown, key: string, where: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
    return value.join(",");
  }
  throw new UsageError(
    `Cannot use ${key} in ${where}: expected text, a number, true or false, or a list of text`,
  );
}

/** The line (from 1) on which `key` is set at the top level of `text`; 0 when not found. */
function lineOf(text: string, key: string): number {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^\\s*(?:${escaped}|"${escaped}"|'${escaped}')\\s*[=.]`);
  const index = text.split(/\r?\n/).findIndex((line) => pattern.test(line));
  return index + 1;
}
