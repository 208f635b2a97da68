/**
 * The HTTP row of `deno task bench`: `GET /api/v1/coins/BTC` with keep-alive at 50 connections,
 * wrk against the real server's HTTP listener and against a bare `Deno.serve` floor
 * (`http_floor.ts`) answering the same body, rounds alternated, each round's ratios kept.
 *
 * ```sh
 * deno run -A tests/bench/http.ts [--rounds 3] [--duration 3] [--connections 50]
 * ```
 *
 * wrk's own CPU time per round is reported beside its wall time: a generator that used well
 * under one core's worth of time per thread was waiting for the server, not the other way round.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { ServerProcess } from "../server_process.ts";
import { median } from "./_stats.ts";

const FLOOR = new URL("./http_floor.ts", import.meta.url).pathname;
const PATH = "/api/v1/coins/BTC";

/** One wrk run. */
export interface WrkRun {
  rps: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** wrk's user + system CPU seconds over its wall seconds, per thread. */
  cpuPerWall: number;
}

/** A process whose stdout lines are watched for one pattern. */
async function spawn(args: string[], pattern: RegExp) {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 60_000;
  while (!pattern.test(seen)) {
    if (Date.now() > deadline) throw new Error(`No line matched ${pattern} within 60 s`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`Process ended before a line matched ${pattern}`);
    seen += value;
  }
  // Keep draining so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done);
  })();
  return { child, match: pattern.exec(seen)! };
}

/** Runs wrk once against `port` and parses its report. */
export async function wrk(port: number, seconds: number, connections: number, threads: number) {
  const script = `TIMEFORMAT='%U %S %R'; time wrk -t${threads} -c${connections} -d${seconds}s ` +
    `--latency http://127.0.0.1:${port}${PATH}`;
  const out = await new Deno.Command("bash", { args: ["-c", script] }).output();
  const text = new TextDecoder().decode(out.stdout);
  const times = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)!.split(" ");
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(text);
  if (!out.success || Number.isNaN(rps) || p99 === null) {
    throw new Error(`Cannot parse wrk's report: expected Requests/sec and 99%, got\n${text}`);
  }
  const unit = p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps,
    p99Ms: Number(p99[1]) * unit,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    errors: errors === null ? 0 : errors.slice(1).reduce((n, x) => n + Number(x), 0),
    cpuPerWall: (Number(times[0]) + Number(times[1])) / Number(times[2]) / threads,
  } satisfies WrkRun;
}

/** What {@linkcode measureHttp} is asked for. */
export interface HttpBenchOptions {
  rounds: number;
  seconds: number;
  connections: number;
  threads: number;
}

/** The row's figures: every round of both, the medians and the ratios. */
export type HttpBenchResult = Awaited<ReturnType<typeof measureHttp>>;

/** Starts the server and the floor, measures them in alternated rounds, and stops both. */
export async function measureHttp(options: HttpBenchOptions) {
  const { rounds, seconds, connections, threads } = options;
  const dir = await Deno.makeTempDir({ prefix: "bench-http-" });
  const upstream = await startFakeUpstream();
  // ServerProcess adds --http-port 0 and --providers coingecko.
  const server = new ServerProcess([
    ...["--port", "0", "--db", `${dir}/bench.sqlite`, "--api-url", upstream.baseUrl],
    ...["--refresh", "3600"],
  ]);
  const listening = await server.output.waitFor(/^listening on .*:\d+ \(http\)$/, {
    timeoutMs: 60_000,
  });
  const serverPort = Number(/:(\d+) \(/.exec(listening)![1]);
  await server.output.waitFor(/^ingested \d+ coins/, { timeoutMs: 60_000 });
  const floors: Awaited<ReturnType<typeof spawn>>[] = [];
  try {
    const answer = await fetch(`http://127.0.0.1:${serverPort}${PATH}`);
    const body = new Uint8Array(await answer.arrayBuffer());
    if (answer.status !== 200) throw new Error(`The server answered ${answer.status} to ${PATH}`);
    await Deno.writeFile(`${dir}/body`, body);
    for (const kind of ["serve", "socket"]) {
      const type = answer.headers.get("content-type")!;
      const args = ["--body-file", `${dir}/body`, "--type", type, "--kind", kind];
      floors.push(
        await spawn(["run", "--allow-net", "--allow-read", FLOOR, ...args], /http-floor (\d+)/),
      );
    }
    const [floorPort, socketPort] = floors.map((floor) => Number(floor.match[1]));
    const ports = { server: serverPort, floor: floorPort, socket: socketPort };
    const names = ["server", "floor", "socket"] as const;
    // Warm every one up (JIT, connection setup) before any measured round.
    for (const name of names) await wrk(ports[name], 1, connections, threads);
    const runs: Record<typeof names[number], WrkRun>[] = [];
    for (let round = 0; round < rounds; round++) {
      // Rotate which goes first, so drift on the shared machine hits all alike.
      const run = {} as Record<typeof names[number], WrkRun>;
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length];
        run[name] = await wrk(ports[name], seconds, connections, threads);
      }
      runs.push(run);
    }
    const rpsRatios = runs.map((r) => r.server.rps / r.floor.rps);
    const p99Ratios = runs.map((r) => r.server.p99Ms / r.floor.p99Ms);
    const result = {
      row: `GET ${PATH} keep-alive, ${connections} connections, wrk -t${threads}`,
      body_bytes: body.length,
      rounds: runs,
      server_rps: median(runs.map((r) => r.server.rps)),
      floor_rps: median(runs.map((r) => r.floor.rps)),
      rps_ratio: median(rpsRatios),
      rps_ratios: rpsRatios,
      p99_ratio: median(p99Ratios),
      p99_ratios: p99Ratios,
      non2xx: runs.reduce((n, r) => n + r.server.non2xx + r.floor.non2xx, 0),
      socket_errors: runs.reduce((n, r) => n + r.server.errors + r.floor.errors, 0),
      wrk_cpu_per_wall: median(runs.map((r) => r.server.cpuPerWall)),
      socket_floor_rps: median(runs.map((r) => r.socket.rps)),
      rps_ratio_to_socket_floor: median(runs.map((r) => r.server.rps / r.socket.rps)),
      p99_ratio_to_socket_floor: median(runs.map((r) => r.server.p99Ms / r.socket.p99Ms)),
      targets: {
        "rps >= 0.9 x floor": median(rpsRatios) >= 0.9,
        "p99 <= 1.5 x floor": median(p99Ratios) <= 1.5,
      },
    };
    return result;
  } finally {
    for (const { child } of floors) {
      child.kill("SIGTERM");
      await child.status;
    }
    await server[Symbol.asyncDispose]();
    await upstream.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The row as Markdown for BENCHMARKS.md. */
export function httpReport(r: HttpBenchResult): string {
  const f = (x: number) => x.toFixed(2);
  const rounds = r.rounds.map((x, i) =>
    `| ${i + 1} | ${Math.round(x.floor.rps)} | ${Math.round(x.server.rps)} | ` +
    `${f(x.server.rps / x.floor.rps)} | ${f(x.floor.p99Ms)} | ${f(x.server.p99Ms)} | ` +
    `${f(x.server.p99Ms / x.floor.p99Ms)} | ${Math.round(x.server.cpuPerWall * 100)}% | ` +
    `${Math.round(x.socket.rps)} / ${f(x.socket.p99Ms)} |`
  );
  return [
    `${r.row}, body ${r.body_bytes} bytes:`,
    "",
    "| round | floor req/s | server req/s | ratio | floor p99 ms | server p99 ms | p99 ratio | wrk CPU/wall | socket floor req/s / p99 ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rounds,
    "",
    `Median ratios: req/s ${f(r.rps_ratio)} (target >= 0.9), p99 ${
      f(r.p99_ratio)
    } (target <= 1.5); ` +
    `non-2xx ${r.non2xx}, socket errors ${r.socket_errors}. Against the socket floor ` +
    `(Deno.listen, one fixed response per head): req/s ${f(r.rps_ratio_to_socket_floor)}, ` +
    `p99 ${f(r.p99_ratio_to_socket_floor)}.`,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      duration: { type: "string", default: "3" },
      connections: { type: "string", default: "50" },
      threads: { type: "string", default: "1" },
    },
  });
  const result = await measureHttp({
    rounds: Number(values.rounds),
    seconds: Number(values.duration),
    connections: Number(values.connections),
    threads: Number(values.threads),
  });
  console.log(JSON.stringify(result, null, 1));
  console.log(httpReport(result));
}
