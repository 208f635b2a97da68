/**
 * The repository's HAProxy configuration (`lib/cluster/haproxy.cfg`) run for real in front of
 * local replicas, for the cluster tests and the cluster benchmark.
 *
 * @module
 */

import { freePort, LineClient, withDeadline } from "../helpers.ts";
import { eventually } from "./_replicas.ts";

/** The configuration under test. */
export const HAPROXY_CFG = new URL("../../lib/cluster/haproxy.cfg", import.meta.url).pathname;

const HAPROXY = "/usr/sbin/haproxy";

/** Why HAProxy cannot run here, or null when it can. */
export const HAPROXY_MISSING: string | null = await (async () => {
  try {
    await Deno.stat(HAPROXY);
    return null;
  } catch {
    return `HAProxy not installed (no ${HAPROXY}; apt-get install haproxy)`;
  }
})();

/** A running HAProxy in the foreground. */
export class HaProxy implements AsyncDisposable {
  readonly port: number;
  readonly child: Deno.ChildProcess;
  readonly #output: Promise<Deno.CommandOutput>;

  private constructor(port: number, child: Deno.ChildProcess) {
    this.port = port;
    this.child = child;
    this.#output = child.output();
  }

  /** Starts HAProxy on a free port in front of the replicas' ports; resolves once it answers. */
  static async start(replicaPorts: number[]): Promise<HaProxy> {
    const port = freePort();
    const env: Record<string, string> = { CRYPTO_LB_BIND: `127.0.0.1:${port}` };
    replicaPorts.forEach((p, i) => env[`CRYPTO_REPLICA${i + 1}`] = `127.0.0.1:${p}`);
    const child = new Deno.Command(HAPROXY, {
      args: ["-f", HAPROXY_CFG, "-db"],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proxy = new HaProxy(port, child);
    try {
      await eventually(
        async () => {
          await using client = await LineClient.connect(port);
          const reply = await withDeadline(
            client.request({ data: "PING" }),
            "PING via HAProxy",
            2000,
          );
          return reply.data === "PONG" ? true : undefined;
        },
        20_000,
        "HAProxy answers PING",
      );
    } catch (error) {
      await proxy[Symbol.asyncDispose]();
      throw error;
    }
    return proxy;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await this.#output;
  }
}
