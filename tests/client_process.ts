/**
 * The client as a process for tests: one command, its exit code and everything it printed.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Runs `client.ts --port port args...` without colour at 80 columns; its code and output. */
export async function runClient(port: number | string, args: string[]): Promise<[number, string]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "client.ts", "--port", String(port), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", COLUMNS: "80" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return [output.code, text];
}
