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
  /** The TCP front's port. */
  readonly port: number;
  /** The HTTP front's port. */
  readonly httpPort: number;
  readonly child: Deno.ChildProcess;
  readonly #output: Promise<Deno.CommandOutput>;

  private constructor(port: number, httpPort: number, child: Deno.ChildProcess) {
    this.port = port;
    this.httpPort = httpPort;
    this.child = child;
    this.#output = child.output();
  }

  /**
   * Starts HAProxy on free ports in front of the replicas' socket ports and HTTP ports; resolves
   * once it answers PING on the TCP front (with socket ports) and `/readyz` on the HTTP front
   * (with HTTP ports). A front given no ports points at free ports where nothing listens.
   */
  static async start(replicaPorts: number[], httpPorts: number[] = []): Promise<HaProxy> {
    const port = freePort();
    const httpPort = freePort();
    const env: Record<string, string> = {
      CRYPTO_LB_BIND: `127.0.0.1:${port}`,
      CRYPTO_LB_HTTP_BIND: `127.0.0.1:${httpPort}`,
    };
    for (let i = 0; i < 3; i++) {
      env[`CRYPTO_REPLICA${i + 1}`] = `127.0.0.1:${replicaPorts[i] ?? freePort()}`;
      env[`CRYPTO_REPLICA${i + 1}_HTTP`] = `127.0.0.1:${httpPorts[i] ?? freePort()}`;
    }
    const child = new Deno.Command(HAPROXY, {
      args: ["-f", HAPROXY_CFG, "-db"],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proxy = new HaProxy(port, httpPort, child);
    try {
      if (httpPorts.length > 0) {
        await eventually(
          async () => {
            const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
            await response.body?.cancel();
            return response.status === 200 ? true : undefined;
          },
          20_000,
          "HAProxy's HTTP front answers /readyz with 200",
        );
      }
      if (replicaPorts.length > 0) {
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
      }
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
