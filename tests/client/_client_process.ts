/**
 * The real `client.ts` as a child process for the portfolio, alert and candles tests: run to its
 * end, or kept running with its output read line by line as it comes.
 *
 * @module
 */

import { outputWithin } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url);
const decoder = new TextDecoder();

/** How a client run ended. */
export interface ClientResult {
  code: number;
  out: string;
  err: string;
}

function command(args: string[], env: Record<string, string>): Deno.CommandOptions {
  return {
    args: ["run", "-A", "client.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  };
}

/** Runs the client to its end (killed after a minute); returns its exit code and output. */
export async function runClient(
  args: string[],
  env: Record<string, string> = {},
): Promise<ClientResult> {
  const output = await outputWithin(
    Deno.execPath(),
    command(args, env),
    `client ${args.join(" ")}`,
  );
  return {
    code: output.code,
    out: decoder.decode(output.stdout),
    err: decoder.decode(output.stderr),
  };
}

/** A client left running, e.g. a watch or an alert; its lines are collected as they come. */
export class RunningClient implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  #changed = Promise.withResolvers<void>();
  readonly #reading: Promise<unknown>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.#child = new Deno.Command(Deno.execPath(), command(args, env)).spawn();
    this.#reading = Promise.all([
      this.#collect(this.#child.stdout, this.lines),
      this.#collect(this.#child.stderr, this.errLines),
    ]);
  }

  async #collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    let partial = "";
    for await (const chunk of stream) {
      const parts = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = parts.pop()!;
      into.push(...parts);
      this.#changed.resolve();
      this.#changed = Promise.withResolvers<void>();
    }
    if (partial !== "") into.push(partial);
    this.#changed.resolve();
  }

  /** Waits until `count` lines of stdout match `pattern`; fails with the output after `ms`. */
  async waitForLines(pattern: RegExp, count = 1, ms = 30_000): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const matching = this.lines.filter((l) => pattern.test(l));
      if (matching.length >= count) return matching;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Client never printed ${count} line(s) matching ${pattern} in ${ms} ms:\n` +
            `${this.lines.join("\n")}\n--- stderr ---\n${this.errLines.join("\n")}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#changed.promise,
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
      clearTimeout(timer);
    }
  }

  /** The exit code, once the process ended by itself (fails after `ms`). */
  async exitCode(ms = 30_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`Client did not exit within ${ms} ms`)), ms)
    );
    try {
      const status = await Promise.race([this.#child.status, expired]);
      await this.#reading;
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await this.#child.status;
    await this.#reading;
  }
}
