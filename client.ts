/**
 * Command-line client for the crypto price server. See `deno task client --help`.
 *
 * @module
 */

import { main } from "./lib/client_cli.ts";
import { useColor } from "./lib/format.ts";

const encoder = new TextEncoder();

/** Writes all of `s` synchronously, so output and prompts appear in order. */
function writer(file: typeof Deno.stdout): (s: string) => void {
  return (s) => {
    const bytes = encoder.encode(s);
    try {
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
    } catch (err) {
      // The reader went away (e.g. `| head`): stop quietly, as a SIGPIPE would.
      if (err instanceof Deno.errors.BrokenPipe) Deno.exit(0);
      throw err;
    }
  };
}

/** Reads an environment variable without prompting for a permission that was not granted. */
function env(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

if (import.meta.main) {
  const code = await main(Deno.args, {
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
    stdin: Deno.stdin.readable,
    stdinIsTerminal: Deno.stdin.isTerminal(),
    env,
    color: useColor(Deno.stdout, env),
    readTextFile: Deno.readTextFile,
  });
  Deno.exit(code);
}
