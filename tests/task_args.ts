/**
 * Flags of the developer tasks (`deno task bench`, `bench-cluster`, `soak`): `--help` prints the
 * usage and exits 0, a bad flag says so in one line and exits 2, as the product's tasks do.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** `Deno.args` parsed with `options`, or the process ends after printing the usage or an error. */
export function taskArgs<O extends ParseArgsConfig["options"]>(usage: string, options: O) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage);
    Deno.exit(0);
  }
  try {
    return parseArgs({ args: Deno.args, options, strict: true }).values;
  } catch (error) {
    console.error(`error: ${(error as Error).message.split(". ")[0]}\nTry --help for usage.`);
    Deno.exit(2);
  }
}
