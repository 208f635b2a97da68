/**
 * The client's config file, `crypto-client/config.toml` in `$XDG_CONFIG_HOME` or `~/.config`:
 * defaults for `host`, `port`, `tls`, `ca` and `currency`, under the flags and the environment.
 *
 * ```toml
 * host = "prices.example.com"
 * port = 8443
 * tls = true
 * ca = "cert.pem"        # relative to this file's directory
 * currency = "EUR"
 * ```
 *
 * @module
 */

import { parse } from "smol-toml";
import { dirname, isAbsolute, join } from "node:path";
import { UsageError } from "../util/usage_error.ts";

/** What a config file may set; each key is the flag of the same name. */
export interface ClientConfig {
  host?: string;
  port?: number;
  tls?: boolean;
  ca?: string;
  currency?: string;
}

/** Where the config file is looked for: `$XDG_CONFIG_HOME`, else `$HOME/.config`. */
export function configPath(env: (name: string) => string | undefined): string | undefined {
  const base = env("XDG_CONFIG_HOME") || (env("HOME") ? join(env("HOME")!, ".config") : "");
  return base === "" ? undefined : join(base, "crypto-client", "config.toml");
}

const KINDS: Readonly<Record<keyof ClientConfig, "string" | "boolean" | "port">> = {
  host: "string",
  port: "port",
  tls: "boolean",
  ca: "string",
  currency: "string",
};

/**
 * Reads the config file at `path`; none there gives `{}`.
 *
 * @throws {UsageError} when it is not TOML or holds an unknown key or a value of the wrong type
 */
export async function readConfig(
  path: string,
  readTextFile: (path: string) => Promise<string>,
): Promise<ClientConfig> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new UsageError(`Cannot read ${path}: ${(err as Error).message}`);
  }
  let table: Record<string, unknown>;
  try {
    table = parse(text);
  } catch (err) {
    const first = (err as Error).message.split("\n")[0];
    throw new UsageError(`Cannot parse ${path}: expected TOML (${first})`);
  }
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(table)) {
    const kind = KINDS[key as keyof ClientConfig];
    if (kind === undefined) {
      throw new UsageError(
        `Cannot use ${path}: unknown key ${key}; expected ${Object.keys(KINDS).join(", ")}`,
      );
    }
    const ok = kind === "port"
      ? Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
      : kind === "boolean"
      ? typeof value === "boolean"
      : typeof value === "string";
    if (!ok) {
      const expected = kind === "port" ? "a port number from 1 to 65535" : `a ${kind}`;
      throw new UsageError(`Cannot use ${path}: ${key} must be ${expected}`);
    }
    config[key] = key === "ca" && !isAbsolute(value as string)
      ? join(dirname(path), value as string)
      : value;
  }
  return config as ClientConfig;
}
