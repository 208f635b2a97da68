/**
 * The real `server.ts` as a child process, for tests and the soak run that need signals, exit
 * codes or a crash: its output lines are captured so a caller waits on them, never on a clock.
 *
 * @module
 */

import { LogCapture } from "./helpers.ts";

/** The server entry point. */
export const SERVER_TS = new URL("../server.ts", import.meta.url).pathname;

/** A running `server.ts`. */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Lines of stdout and of stderr (the latter prefixed `stderr: `), as they arrive. */
  readonly output: LogCapture = new LogCapture();
  readonly status: Promise<Deno.CommandStatus>;
  readonly #pumps: Promise<void>;

  /**
   * Starts `server.ts` with `args`. Only the local upstream is used (`--providers coingecko`
   * first, so a later flag wins) and the environment holds no `CRYPTO_*` settings. With
   * `fdLimit`, the process runs under `ulimit -n fdLimit` (through `sh`, which execs Deno, so
   * `child.pid` is the server's).
   */
  constructor(args: string[], options: { fdLimit?: number } = {}) {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(Deno.env.toObject())) {
      if (!/^(CRYPTO_|COINGECKO_|CMC_)/.test(name)) env[name] = value;
    }
    const deno = [
      Deno.execPath(),
      "run",
      // For --reuse-port (cluster tests), as `deno task server` has it.
      "--unstable-net",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      SERVER_TS,
      "--providers",
      "coingecko",
      // No test may take the default HTTP port 8080: another run may hold it.
      "--http-port",
      "0",
      ...args,
    ];
    const [command, ...rest] = options.fdLimit === undefined
      ? deno
      : ["sh", "-c", `ulimit -n ${options.fdLimit} && exec "$@"`, "sh", ...deno];
    this.child = new Deno.Command(command, {
      args: rest,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = this.child.status;
    this.#pumps = Promise.all([
      this.#pump(this.child.stdout, ""),
      this.#pump(this.child.stderr, "stderr: "),
    ]).then(() => {});
  }

  async #pump(stream: ReadableStream<Uint8Array>, prefix: string): Promise<void> {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      let newline;
      while ((newline = rest.indexOf("\n")) >= 0) {
        this.output.log(prefix + rest.slice(0, newline));
        rest = rest.slice(newline + 1);
      }
    }
    if (rest !== "") this.output.log(prefix + rest);
  }

  /** The port from the `listening on` line. */
  async port(timeoutMs = 15_000): Promise<number> {
    const line = await this.output.waitFor(/^listening on .*:\d+ \(/, { timeoutMs });
    return Number(/:(\d+) \(/.exec(line)![1]);
  }

  /**
   * Resolves once the process has exited and its output is fully read. A process still running
   * at the deadline is killed, and the call fails with a message saying so.
   */
  async exited(timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      this.kill("SIGKILL");
    }, timeoutMs);
    try {
      const status = await this.status;
      await this.#pumps;
      if (expired) throw new Error(`server.ts did not exit within ${timeoutMs} ms; killed it`);
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Kills the process if it still runs, and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.exited();
  }
}
