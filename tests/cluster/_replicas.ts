/**
 * Helpers of the cluster tests: several real `server.ts` processes sharing one PostgreSQL, a
 * fake upstream, and waits that always have a deadline.
 *
 * @module
 */

import { LineClient, withDeadline } from "../helpers.ts";
import type { FakeUpstream } from "../fakes/fake_upstream.ts";
import { ServerProcess } from "../server_process.ts";

/** Calls `probe` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown = undefined;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    // A short pause between probes, not a wait for the thing itself: the deadline is above.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out after ${ms} ms: ${what}${last ? ` (last error: ${last})` : ""}`);
}

/** One request on a new connection; the parsed reply. */
export async function ask(port: number, data: string, v = 2): Promise<Record<string, unknown>> {
  await using client = await LineClient.connect(port);
  return await withDeadline(client.request({ data, v }), `reply to ${data} on ${port}`, 10_000);
}

/** The `cluster` section of a replica's INFO. */
export async function clusterInfo(port: number): Promise<{ role: string; [key: string]: unknown }> {
  const info = await ask(port, "INFO");
  return (info.data as { cluster: { role: string } }).cluster;
}

/** The recorded upstream response with Bitcoin at `price`, for `FakeUpstream.setCoins`. */
export async function marketsWithBtcAt(price: number): Promise<unknown[]> {
  const recorded = JSON.parse(
    await Deno.readTextFile(
      new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url),
    ),
  );
  recorded[0].current_price = price;
  return recorded;
}

/** Replicas of `server.ts` on one database, each on its own free port. */
export class Replicas implements AsyncDisposable {
  readonly processes: ServerProcess[] = [];
  readonly ports: number[] = [];
  /** Each replica's HTTP listener port. */
  readonly httpPorts: number[] = [];
  readonly db: string;
  readonly #flags: string[];

  private constructor(db: string, flags: string[]) {
    this.db = db;
    this.#flags = flags;
  }

  /** Starts `count` replicas and waits until each listens. */
  static async start(
    count: number,
    db: string,
    upstream: FakeUpstream,
    flags: string[] = [],
  ): Promise<Replicas> {
    const replicas = new Replicas(db, [
      "--db",
      db,
      "--api-url",
      upstream.baseUrl,
      "--refresh",
      "2",
      ...flags,
    ]);
    try {
      for (let i = 0; i < count; i++) await replicas.add();
    } catch (error) {
      await replicas[Symbol.asyncDispose]();
      throw error;
    }
    return replicas;
  }

  /** Starts one more replica; returns its index. */
  async add(extra: string[] = []): Promise<number> {
    const process = new ServerProcess(["--port", "0", ...this.#flags, ...extra]);
    this.processes.push(process);
    this.ports.push(await process.port());
    const http = await process.output.waitFor(/^listening on .*:\d+ \(http\)$/);
    this.httpPorts.push(Number(/:(\d+) \(http\)$/.exec(http)![1]));
    return this.processes.length - 1;
  }

  /** Waits until exactly one live replica says it leads, and returns its index. */
  leader(ms = 30_000, alive: (i: number) => boolean = () => true): Promise<number> {
    return eventually(
      async () => {
        const roles = await Promise.all(
          this.ports.map((port, i) => alive(i) ? clusterInfo(port).then((c) => c.role) : null),
        );
        const leaders = roles.flatMap((role, i) => role === "leader" ? [i] : []);
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      ms,
      "exactly one replica leads",
    );
  }

  /**
   * Waits until the leader has ingested and every replica (but those `alive` excludes) answers
   * `MARKET BTC`; returns the leader's index.
   */
  async serving(alive: (i: number) => boolean = () => true): Promise<number> {
    const leader = await this.leader(30_000, alive);
    await this.processes[leader].output.waitFor(/^ingested \d+ coins/, { timeoutMs: 30_000 });
    await eventually(
      async () => {
        const replies = await Promise.all(
          this.ports.map((port, i) => alive(i) ? ask(port, "MARKET BTC") : { status: "OK" }),
        );
        return replies.every((r) => r.status === "OK") ? true : undefined;
      },
      30_000,
      "every replica serves BTC",
    );
    return leader;
  }

  /** Every output line of every replica. */
  get lines(): string[] {
    return this.processes.flatMap((p) => p.output.lines);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.processes.map((p) => p[Symbol.asyncDispose]()));
  }
}
