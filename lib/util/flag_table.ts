/**
 * A table of command-line flags from which a program's parser, environment variables and
 * `--help` text are all derived, so they cannot disagree. It knows nothing of the product: each
 * program writes its own table (`as const satisfies readonly Flag[]`) and reads typed values.
 *
 * ```ts
 * const FLAGS = [
 *   { name: "port", kind: "integer", default: "8000", min: 0, max: 65535,
 *     help: "Port to listen on", group: "Service" },
 * ] as const satisfies readonly Flag[];
 * const table = new FlagTable(FLAGS, { envPrefix: "CRYPTO_" });
 * const read = table.parse(Deno.args, readEnv); // read.values.port is a number
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "./usage_error.ts";

/** How a flag's text is read: as is, a whole number, seconds (a number), or a switch. */
export type FlagKind = "string" | "integer" | "seconds" | "boolean";

/** One flag of a table. */
export interface Flag {
  /** The long name, without dashes: `api-url` is `--api-url`. */
  readonly name: string;
  readonly kind: FlagKind;
  /** One sentence for `--help`. */
  readonly help: string;
  /** The heading the flag is listed under in `--help`. */
  readonly group: string;
  /** The value when neither the flag nor its environment variables are given. */
  readonly default?: string;
  /** A one-letter alias, e.g. `p` for `-p`. */
  readonly short?: string;
  /** The placeholder of the value in `--help`; `<text>` or `<n>` by kind when absent. */
  readonly value?: string;
  /** Environment variables read after the table's own (`<envPrefix><NAME>`), in order. */
  readonly alsoEnv?: readonly string[];
  /** Set when the flag has no `<envPrefix><NAME>` variable. */
  readonly noEnv?: boolean;
  readonly min?: number;
  readonly max?: number;
}

/** What a flag reads as: text, a number or a switch; undefined when unset with no default. */
export type FlagValue<F extends Flag> = F["kind"] extends "boolean" ? boolean
  : F extends { default: string } ? (F["kind"] extends "string" ? string : number)
  : (F["kind"] extends "string" ? string : number) | undefined;

/** The values of the flags of `F` named `N`, typed by the table. */
export type FlagValues<F extends Flag, N extends F["name"] = F["name"]> = {
  [K in N]: FlagValue<Extract<F, { name: K }>>;
};

/** Reads an environment variable; undefined when unset or not permitted. */
export type EnvReader = (name: string) => string | undefined;

/** What a command line asks for: help, the version, or a run with values. */
export type FlagsRead<V> =
  | { action: "help" }
  | { action: "version" }
  | { action: "run"; values: V; positionals: string[] };

/** Options of a {@linkcode FlagTable}. */
export interface FlagTableOptions {
  /** Prefix of each flag's environment variable: `CRYPTO_` makes `--api-url` `CRYPTO_API_URL`. */
  readonly envPrefix?: string;
  /** The order of the groups in `--help`; groups not named follow in table order. */
  readonly groups?: readonly string[];
}

/** Options of {@linkcode FlagTable.parse}. */
export interface ParseOptions<N extends string> {
  /** The flags taken, by name; all of the table when absent. */
  readonly only?: readonly N[];
  /** Whether words that are not flags are kept (else they are a usage error). */
  readonly positionals?: boolean;
  /**
   * Values by flag name from a lower source, e.g. a config file: used when neither the flag nor
   * its environment variables are given, before the default.
   */
  readonly configured?: Readonly<Record<string, string>>;
}

/** The width `--help` fits in. */
export const HELP_WIDTH = 80;
const INDENT = "      ";

/** A program's flags: parses them and renders their `--help` lines. */
export class FlagTable<F extends Flag> {
  readonly flags: readonly F[];
  readonly #options: FlagTableOptions;

  constructor(flags: readonly F[], options: FlagTableOptions = {}) {
    this.flags = flags;
    this.#options = options;
  }

  /** The environment variables of a flag, in the order they are read. */
  envOf(flag: Flag): string[] {
    const own = this.#options.envPrefix === undefined || flag.noEnv
      ? []
      : [`${this.#options.envPrefix}${flag.name.toUpperCase().replaceAll("-", "_")}`];
    return [...own, ...(flag.alsoEnv ?? [])];
  }

  /**
   * Parses the flags from `args`, then their environment variables, then `configured`, then their
   * defaults, each converted and checked by the table. `-h`/`--help` and `--version` are always taken.
   *
   * @throws {UsageError} for an unknown flag, a missing value or a value out of range
   */
  parse<N extends F["name"] = F["name"]>(
    args: readonly string[],
    env: EnvReader,
    options: ParseOptions<N> = {},
  ): FlagsRead<FlagValues<F, N>> {
    const flags = this.#select(options.only);
    const given = parseGiven(flags, args, options.positionals ?? false);
    if (given.values.help) return { action: "help" };
    if (given.values.version) return { action: "version" };
    const values: Record<string, string | number | boolean | undefined> = {};
    for (const flag of flags) {
      const text = this.#raw(flag, given.values[flag.name], env) ??
        options.configured?.[flag.name] ?? flag.default;
      values[flag.name] = text === undefined
        ? (flag.kind === "boolean" ? false : undefined)
        : convert(flag, text);
    }
    return {
      action: "run",
      values: values as FlagValues<F, N>,
      positionals: given.positionals,
    };
  }

  /**
   * The `--help` lines of the flags, by group, then `-h, --help` and `--version`: each flag, its
   * value and its default on one line, its description wrapped beneath, then its environment
   * variables, all within {@linkcode HELP_WIDTH} columns.
   */
  help(only?: readonly F["name"][]): string[] {
    const flags = this.#select(only);
    const named = this.#options.groups ?? [];
    const groups = [...new Set([...named, ...flags.map((flag) => flag.group)])];
    const lines: string[] = [];
    for (const group of groups) {
      const members = flags.filter((flag) => flag.group === group);
      if (members.length === 0) continue;
      lines.push("", `${group}:`);
      for (const flag of members) lines.push(...this.#flagHelp(flag));
    }
    lines.push(
      "",
      "Other:",
      "  -h, --help",
      ...wrapText("Show this help and exit", HELP_WIDTH, INDENT),
      "  --version",
      ...wrapText("Show the version and exit", HELP_WIDTH, INDENT),
    );
    return lines;
  }

  #flagHelp(flag: Flag): string[] {
    const value = flag.kind === "boolean"
      ? ""
      : ` ${flag.value ?? (flag.kind === "string" ? "<text>" : "<n>")}`;
    const short = flag.short === undefined ? "  " : `  -${flag.short}, `;
    const head = `${short}--${flag.name}${value}`;
    const dflt = flag.default === undefined ? "" : `[default: ${flag.default}]`;
    // The default beside the flag when it fits, else on a line of its own beneath.
    const fits = head.length + 2 + dflt.length <= HELP_WIDTH;
    const envs = this.envOf(flag);
    return [
      dflt === "" ? head : fits ? `${head}  ${dflt}` : head,
      ...(dflt === "" || fits ? [] : [INDENT + dflt]),
      ...wrapText(flag.help, HELP_WIDTH, INDENT),
      ...(envs.length === 0 ? [] : wrapText(`env: ${envs.join(", ")}`, HELP_WIDTH, INDENT)),
    ];
  }

  #select(only: readonly string[] | undefined): readonly F[] {
    return only === undefined ? this.flags : this.flags.filter((flag) => only.includes(flag.name));
  }

  #raw(flag: Flag, given: string | boolean | undefined, env: EnvReader): string | undefined {
    if (typeof given === "string") return given;
    if (given === true) return "true";
    for (const name of this.envOf(flag)) {
      const text = env(name);
      if (text !== undefined && text !== "") return text;
    }
    return undefined;
  }
}

function parseGiven(flags: readonly Flag[], args: readonly string[], positionals: boolean) {
  try {
    const parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: positionals,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
        ...Object.fromEntries(
          flags.map((f) => [f.name, {
            type: f.kind === "boolean" ? "boolean" as const : "string" as const,
            ...(f.short === undefined ? {} : { short: f.short }),
          }]),
        ),
      },
    });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    // node:util's advice on positionals that start with "-" is past the first sentence.
    throw new UsageError((error as Error).message.split(/\n|\. /)[0].replace(/\.$/, ""));
  }
}

/** Converts a flag's text by its kind, checking its range. */
export function convert(flag: Flag, text: string): string | number | boolean {
  switch (flag.kind) {
    case "string":
      return text;
    case "boolean":
      if (/^(true|1|yes)$/i.test(text)) return true;
      if (/^(false|0|no)$/i.test(text)) return false;
      throw new UsageError(
        `Invalid --${flag.name} ${JSON.stringify(text)}: expected true or false`,
      );
    case "integer":
    case "seconds":
      return convertNumber(flag, text);
  }
}

function convertNumber(flag: Flag, text: string): number {
  const value = Number(text);
  const integer = flag.kind === "integer";
  if (
    text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) ||
    (flag.min !== undefined && value < flag.min) || (flag.max !== undefined && value > flag.max)
  ) {
    const range = flag.max === undefined
      ? `at least ${flag.min ?? 0}`
      : `${flag.min ?? 0} to ${flag.max}`;
    throw new UsageError(
      `Invalid --${flag.name} ${JSON.stringify(text)}: expected ${
        integer ? "a whole number" : "seconds"
      }, ${range}`,
    );
  }
  return value;
}

/**
 * `text` wrapped at spaces into lines of at most `width` columns, each starting with `indent`;
 * a word longer than a line stands alone on its line.
 */
export function wrapText(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}
