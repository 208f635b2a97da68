/**
 * Reading the environment without asking for more than was granted.
 *
 * @module
 */

/**
 * Reads an environment variable, treating one the process may not read as unset. The
 * permission is queried first, so a variable outside `--allow-env` never triggers a prompt.
 */
export function readEnv(name: string): string | undefined {
  try {
    const { state } = Deno.permissions.querySync({ name: "env", variable: name });
    return state === "granted" ? Deno.env.get(name) : undefined;
  } catch {
    return undefined;
  }
}
