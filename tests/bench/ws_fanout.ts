/**
 * WebSocket fan-out (issue 20): `--count` WebSocket clients of `/ws` watch BTC on a server that
 * ingests from the fake upstream; the upstream's BTC price then changes once. Measures how long
 * after the first client's update the last one gets it, and the server's resident memory per
 * idle watching WebSocket client. The clients are `load.ts watch --ws /ws` in their own process,
 * as for the socket side's watchers row, so they do not share the server's event loop.
 *
 * ```sh
 * deno run -A tests/bench/ws_fanout.ts [--count 10000]
 * ```
 *
 * Prints progress on stderr and one JSON line of {@linkcode WsFanout} on stdout; `bench.ts` runs
 * it as a row of `deno task bench`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import type { WatchResult } from "./load.ts";

/** What one fan-out run found. */
export interface WsFanout extends WatchResult {
  /** Server RSS before the clients connected, and once all were watching, KiB. */
  rssBeforeKiB: number;
  rssAfterKiB: number;
  /**
   * The same count of socket-protocol watchers on the same server just after, as a reference
   * taken under the same load of a shared machine.
   */
  lines: WatchResult;
}

const ROOT = new URL("../../", import.meta.url);
const SERVER = new URL("server.ts", ROOT).pathname;
const LOAD = new URL("tests/bench/load.ts", ROOT).pathname;
const FIXTURE = new URL("tests/testdata/coingecko_markets_usd_2022-10-04.json", ROOT);

/** A child Deno process with a raised open-files limit whose stdout lines are awaited. */
function spawn(args: string[], nofile: number) {
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, Deno.execPath(), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  let wake = () => {};
  const done = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      wake();
    }
    wake();
  })();
  let ended = false;
  done.then(() => ended = true);
  const waitFor = async (pattern: RegExp, timeoutMs: number): Promise<string> => {
    const until = Date.now() + timeoutMs;
    while (true) {
      const line = lines.find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (ended) throw new Error(`Process ended before a line matched ${pattern}`);
      if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms: ${pattern}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
  };
  return { child, lines, done, waitFor };
}

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/** Runs the fan-out with `count` WebSocket watchers; see the module docs. */
export async function measureWsFanout(count: number, nofile: number): Promise<WsFanout> {
  const dir = await Deno.makeTempDir({ prefix: "crypto-ws-fanout-" });
  await using upstream = await startFakeUpstream();
  const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));
  upstream.setCoins(recorded);
  const server = spawn([
    "run",
    "-A",
    SERVER,
    ...["--port", "0", "--http-port", "0", "--db", `${dir}/fanout.sqlite`],
    ...["--api-url", upstream.baseUrl, "--providers", "coingecko", "--refresh", "2"],
    ...["--max-connections", String(count + 1000)],
  ], nofile);
  try {
    const listening = await server.waitFor(/^listening on .*\(http\)$/, 60_000);
    await server.waitFor(/^ingested \d+ coins/, 60_000);
    const port = Number(/:(\d+) \(http\)$/.exec(listening)![1]);
    const socketLine = await server.waitFor(/^listening on .*\(tcp\)$/, 1000);
    const socketPort = Number(/:(\d+) \(tcp\)$/.exec(socketLine)![1]);
    const round = async (port: number, ws: string[]) => {
      const load = spawn(
        ["run", "--allow-net", LOAD, "watch", "--port", String(port), "--count", String(count)]
          .concat(["--request", '{"status":"OK","data":"WATCH BTC","v":2}', ...ws]),
        nofile,
      );
      await load.waitFor(/^watching \d+/, 300_000);
      const rss = await rssKiB(server.child.pid);
      recorded[0].current_price = recorded[0].current_price + 1.25;
      upstream.setCoins(recorded);
      await load.child.status;
      await load.done;
      return { rss, result: JSON.parse(load.lines.at(-1)!) as WatchResult };
    };
    // WebSocket first, so its memory figure starts from a server no client has used yet.
    const rssBeforeKiB = await rssKiB(server.child.pid);
    const { rss: rssAfterKiB, result } = await round(port, ["--ws", "/ws"]);
    const lines = (await round(socketPort, [])).result;
    return { ...result, rssBeforeKiB, rssAfterKiB, lines };
  } finally {
    server.child.kill("SIGTERM");
    await server.child.status;
    await server.done;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The Markdown lines of a fan-out result, for BENCHMARKS.md and the bench report. */
export function fanoutReport(r: WsFanout): string[] {
  const f2 = (n: number) => n.toFixed(2);
  const perClient = (r.rssAfterKiB - r.rssBeforeKiB) / Math.max(1, r.watchers);
  return [
    `### ${r.watchers} WebSocket watchers of one coin (WATCH BTC over /ws)`,
    "",
    `- every watcher updated: ${r.updated} of ${r.watchers} (${r.errors} errors)`,
    `- from the first watcher's update to the last: ${f2(r.lastAt - r.firstAt)} ms ` +
    `(socket-protocol watchers on the same server just after: ${r.lines.updated} of ` +
    `${r.lines.watchers} updated, ${f2(r.lines.lastAt - r.lines.firstAt)} ms)`,
    `- server RSS: ${f2(r.rssBeforeKiB / 1024)} MiB before the clients, ` +
    `${f2(r.rssAfterKiB / 1024)} MiB with all watching: ${f2(perClient)} KiB per idle client`,
    ...(r.firstError === null ? [] : [`- first error: ${r.firstError}`]),
    "",
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { count: { type: "string", default: "10000" }, nofile: { type: "string" } },
  });
  const count = Number(values.count);
  // Each process holds one socket per client: the server and the clients, each its own.
  const nofile = Number(values.nofile ?? count + 2000);
  const result = await measureWsFanout(count, nofile);
  console.error(fanoutReport(result).join("\n"));
  console.log(JSON.stringify(result));
}
