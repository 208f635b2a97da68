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
import { median } from "./_stats.ts";

const ROOT = new URL("../../", import.meta.url);
const SERVER = new URL("server.ts", ROOT).pathname;
const FLOOR = new URL("./http_floor.ts", import.meta.url).pathname;
const PATH = "/api/v1/coins/BTC";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    threads: { type: "string", default: "1" },
  },
});

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

const rounds = Number(flags.rounds);
const seconds = Number(flags.duration);
const connections = Number(flags.connections);
const threads = Number(flags.threads);
const dir = await Deno.makeTempDir({ prefix: "bench-http-" });
const upstream = await startFakeUpstream();
const server = await spawn(
  [
    "run",
    "-A",
    SERVER,
    "--port",
    "0",
    "--http-port",
    "0",
    "--db",
    `${dir}/bench.sqlite`,
    "--api-url",
    upstream.baseUrl,
    "--providers",
    "coingecko",
    "--refresh",
    "3600",
  ],
  /listening on [^\n]*:(\d+) \(http\)[\s\S]*ingested \d+ coins|ingested \d+ coins[\s\S]*listening on [^\n]*:(\d+) \(http\)/,
);
const serverPort = Number(server.match[1] ?? server.match[2]);
let floor: Awaited<ReturnType<typeof spawn>> | null = null;
try {
  const answer = await fetch(`http://127.0.0.1:${serverPort}${PATH}`);
  const body = new Uint8Array(await answer.arrayBuffer());
  if (answer.status !== 200) throw new Error(`The server answered ${answer.status} to ${PATH}`);
  await Deno.writeFile(`${dir}/body`, body);
  floor = await spawn([
    "run",
    "--allow-net",
    "--allow-read",
    FLOOR,
    "--body-file",
    `${dir}/body`,
    "--type",
    answer.headers.get("content-type")!,
  ], /http-floor (\d+)/);
  const floorPort = Number(floor.match[1]);
  // Warm both up (JIT, connection setup) before any measured round.
  await wrk(serverPort, 1, connections, threads);
  await wrk(floorPort, 1, connections, threads);
  const runs: { server: WrkRun; floor: WrkRun }[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so drift on the shared machine hits both alike.
    const first = round % 2 === 0 ? serverPort : floorPort;
    const a = await wrk(first, seconds, connections, threads);
    const b = await wrk(
      first === serverPort ? floorPort : serverPort,
      seconds,
      connections,
      threads,
    );
    runs.push(first === serverPort ? { server: a, floor: b } : { server: b, floor: a });
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
    targets: {
      "rps >= 0.9 x floor": median(rpsRatios) >= 0.9,
      "p99 <= 1.5 x floor": median(p99Ratios) <= 1.5,
    },
  };
  console.log(JSON.stringify(result, null, 1));
} finally {
  server.child.kill("SIGTERM");
  floor?.child.kill("SIGTERM");
  await server.child.status;
  await floor?.child.status;
  await upstream.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
