/**
 * `deno task demo` as a child process, for tests: its standard output is read as it comes, so a
 * caller waits on what it prints, never on a clock.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

/** A running `deno task demo`. */
export class DemoProcess {
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #killer: ReturnType<typeof setTimeout>;
  /** Standard output so far. */
  out = "";

  /** Starts `deno task -q demo args` in the repository. */
  constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "demo", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A safety net, not a wait: a demo that never prints what is expected is killed, which ends
    // the reads with the output so far.
    this.#killer = setTimeout(() => this.#child.kill("SIGKILL"), 30_000);
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until the output so far matches `pattern`; fails when the demo exits first. */
  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    while (true) {
      const match = pattern.exec(this.out);
      if (match) return match;
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`demo exited before ${pattern}:\n${this.out}`);
      this.out += value;
    }
  }

  /** Stops the demo with SIGINT (unless it has exited) and returns all it printed, and its code. */
  async stop(): Promise<{ out: string; err: string; code: number }> {
    try {
      this.#child.kill("SIGINT");
    } catch {
      // It has exited already.
    }
    for (let r = await this.#reader.read(); !r.done; r = await this.#reader.read()) {
      this.out += r.value;
    }
    const err = new TextDecoder().decode(await new Response(this.#child.stderr).arrayBuffer());
    const { code } = await this.#child.status;
    clearTimeout(this.#killer);
    return { out: this.out, err, code };
  }
}
