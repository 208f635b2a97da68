/**
 * `deno task bench`: measures the price server against a floor server in the same run.
 *
 * It starts a fake upstream serving the recorded 2022-10-04 data (in this process), the real
 * server (`server.ts`, its own process), and the floor server (`floor.ts`, its own process, one
 * port per reply size so the floor sends lines as long as the real replies). Each throughput
 * measurement is one run of `loadgen.c`, a closed-loop epoll load generator in C that checks
 * every reply byte for byte; it is compiled here, at run time, into a temporary directory, with
 * `$CC` (default `gcc`). For each row the floor and the server are measured `--rounds` times,
 * the order rotated each round, and the median of each figure is kept. `ceiling.c`, a C server
 * answering the floor's bytes, is measured in the same rounds to show the generator's own limit. `load.ts` (Deno) still
 * drives the idle and the watch tests, which measure memory and fan-out, not throughput. The
 * HTTP row is `http.ts`: wrk against the server's HTTP listener and two HTTP floors.
 * Every subprocess is started through `bash -c 'ulimit -n N; exec ...'` because the idle test
 * holds 10,000 connections and the default soft limit on open files is often 1024.
 *
 * Flags: `--duration S` (measured seconds per run, default 5), `--warmup S` (default 1),
 * `--rounds N` (default 3), `--threads N` (load generator threads, default 1), `--idle N` (idle
 * connections, default 10000), `--clients N` (one-shot client runs, default 5),
 * `--history-days N` (days of one-per-second BTC history seeded for the HISTORY row, default
 * 30), `--only LABEL`, `--settings 50x1,50x16`, `--skip ceiling,ingest,history,idle,watch,client,upstream,http,ws`,
 * `--quick` (a smoke run of a few seconds: small settings, nothing written), `--out FILE`
 * (default BENCHMARKS.md in a full run; the figures replace what lies between the markers
 * `<!-- bench:begin -->` and `<!-- bench:end -->`, the rest of the file is kept).
 *
 * Exits 1 when any reply was wrong or any connection failed; timings never fail the run.
 *
 * @module
 */

import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { type HttpBenchResult, httpReport, measureHttp } from "./http.ts";
import type { IdleResult, WatchResult } from "./load.ts";
import { fanoutReport, measureWsFanout, type WsFanout } from "./ws_fanout.ts";
import { compile, LOADGEN, type LoadResult, runLoadgen } from "./_loadgen.ts";
import { median, ratiosByRound, splitByBound } from "./_stats.ts";
import { seedPreviousVersion } from "../history_seed.ts";
import { canMeasurePeak, measureUpstreamMemory, type UpstreamMemory } from "../upstream_memory.ts";
import { HUGE_BYTES, type TickersAnswer } from "../fakes/hostile_upstream.ts";
import { DEFAULT_MAX_BYTES } from "../../lib/ingest/upstream_http.ts";
import { taskArgs } from "../task_args.ts";

const USAGE = `deno task bench [flags]: the server against floor servers, as ratios in one run

  --duration S     measured seconds per run (default 5)
  --warmup S       warm-up seconds per run (default 1)
  --rounds N       rounds of each row, order rotated (default 3)
  --threads N      load generator threads (default 1)
  --idle N         idle connections (default 10000)
  --clients N      one-shot client runs (default 5)
  --history-days N days of BTC history for the HISTORY row (default 30)
  --only LABEL     only the rows whose label contains LABEL
  --settings CxP   connections x pipelined requests, e.g. 50x1,50x16
  --skip ROWS      leave out rows: ceiling, ingest, history, idle, watch,
                   client, upstream, http, ws
  --quick          a smoke run of a few seconds; nothing written
  --out FILE       where the figures go (default BENCHMARKS.md)`;

const ROOT = new URL("../../", import.meta.url);
const LOAD = new URL("./load.ts", import.meta.url).pathname;
const FLOOR = new URL("./floor.ts", import.meta.url).pathname;
const CEILING = new URL("./ceiling.c", import.meta.url).pathname;
const SERVER = new URL("server.ts", ROOT).pathname;
const CLIENT = new URL("client.ts", ROOT).pathname;

const flags = taskArgs(USAGE, {
  duration: { type: "string", default: "5" },
  warmup: { type: "string", default: "1" },
  idle: { type: "string", default: "10000" },
  clients: { type: "string", default: "5" },
  rounds: { type: "string", default: "3" },
  threads: { type: "string", default: "1" },
  "history-days": { type: "string", default: "30" },
  only: { type: "string" },
  settings: { type: "string" },
  skip: { type: "string", default: "" },
  quick: { type: "boolean", default: false },
  out: { type: "string" },
});
const quick = flags.quick;
const durationS = quick ? 0.2 : Number(flags.duration);
const warmupS = quick ? 0.1 : Number(flags.warmup);
const ingestDurationS = quick ? 0.8 : Math.max(10, durationS * 2);
const refreshS = quick ? 0.2 : 1;
const clientRuns = quick ? 1 : Number(flags.clients);
const rounds = quick ? 1 : Number(flags.rounds);
const settings: [number, number][] = flags.settings !== undefined
  ? flags.settings.split(",").map((s) => s.split("x").map(Number) as [number, number])
  : quick
  ? [[4, 4]]
  : [[1, 1], [50, 1], [50, 16]];
const skip = new Set(flags.skip.split(","));
const ingestSetting: [number, number] = quick ? [4, 1] : [50, 1];
const generatorThreads = Number(flags.threads);
/** The HISTORY row: days of BTC history, one row a second as `--refresh 1` writes it. */
const historyDays = quick ? 1 / 24 : Number(flags["history-days"]);
/** Connections asking `HISTORY BTC 30d` in a closed loop while 50 others ask MARKET. */
const historyConns = quick ? 1 : 2;
/** `--max-upstream-bytes` of the upstream-memory rows: the test's small cap, then the default. */
const memoryCaps = quick ? [8 * 1024 * 1024] : [8 * 1024 * 1024, DEFAULT_MAX_BYTES];
/** What the test of the bound allows above the cap (tests/ingest/upstream_memory_test.ts). */
const MEMORY_MARGIN = 24 * 1024 * 1024;
const MEMORY_ANSWERS: TickersAnswer[] = ["huge", "bomb", "under"];
const out = flags.out ?? (quick ? undefined : new URL("BENCHMARKS.md", ROOT).pathname);

// --- subprocesses ----------------------------------------------------------------------------

const hardLimit = await shell("ulimit -Hn");
const nofile = hardLimit === "unlimited" ? 65536 : Math.min(65536, Number(hardLimit));
const idleCount = Math.min(quick ? 100 : Number(flags.idle), nofile - 500);

const clockTicks = Number(await shell("getconf CLK_TCK")) || 100;

async function shell(script: string): Promise<string> {
  const { stdout } = await new Deno.Command("bash", { args: ["-c", script] }).output();
  return new TextDecoder().decode(stdout).trim();
}

/** A Deno subprocess with a raised open-files limit, its stdout read line by line. */
class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  /** When each line arrived, epoch milliseconds. */
  readonly times: number[] = [];
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | null;
  readonly done: Promise<void>;
  /** The port it listens on, for servers. */
  port = 0;

  /** @param options.exec the program, Deno unless given */
  constructor(args: string[], options: { stdin?: boolean; exec?: string } = {}) {
    this.child = new Deno.Command("bash", {
      args: [
        "-c",
        `ulimit -n ${nofile} && exec "$0" "$@"`,
        options.exec ?? Deno.execPath(),
        ...args,
      ],
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = options.stdin ? this.child.stdin.getWriter() : null;
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    let rest = "";
    for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.times.push(performance.timeOrigin + performance.now());
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    }
  }

  /** The first line (seen or to come) matching `pattern`; rejects if the process ends first. */
  waitFor(pattern: RegExp, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ test: (line) => pattern.test(line), resolve });
      this.done.then(() => reject(new Error(`Process ended before a line matched ${pattern}`)));
    });
  }

  async send(line: string): Promise<void> {
    await this.#writer!.write(new TextEncoder().encode(line + "\n"));
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#writer?.close().catch(() => {});
    await this.child.status;
    await this.done;
  }

  /** User plus system CPU time used so far, in milliseconds, from /proc. */
  async cpuMs(): Promise<number> {
    const stat = await Deno.readTextFile(`/proc/${this.child.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks;
  }

  /** Resident set size in KiB, from /proc. */
  async rssKiB(): Promise<number> {
    const status = await Deno.readTextFile(`/proc/${this.child.pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  }
}

async function startServer(db: string, apiUrl: string, extra: string[] = []): Promise<Proc> {
  const proc = new Proc([
    "run",
    "-A",
    SERVER,
    "--port",
    "0",
    "--http-port",
    "0",
    "--db",
    db,
    "--api-url",
    apiUrl,
    "--providers",
    "coingecko",
    "--max-connections",
    String(idleCount + 1000),
    // Every ingestion's line: the watch figure is timed from the round's.
    "--log-level",
    "debug",
    ...extra,
  ]);
  const listening = await proc.waitFor(/^listening on /);
  await proc.waitFor(/^ingested \d+ coins/);
  proc.port = Number(/:(\d+) \(tcp\)/.exec(listening)![1]);
  return proc;
}

/** A load run with the CPU time the measured process spent on each reply. */
interface Measured extends LoadResult {
  /** CPU microseconds the server (or floor) process used per reply, warm-up included. */
  cpuUs: number;
}

/** The load generator, compiled once per run; null until then. */
let loadgen: string | null = null;

async function measure(
  target: Proc,
  port: number,
  request: string,
  expect: Uint8Array,
  setting: [number, number],
  options: LoadOptions = {},
): Promise<Measured> {
  const before = await target.cpuMs();
  const result = await load(port, request, expect, setting, options);
  const cpu = await target.cpuMs() - before;
  return { ...result, cpuUs: result.total === 0 ? 0 : cpu * 1000 / result.total };
}

/**
 * Rounds of the same kind: each figure is the median of the rounds', so one round disturbed by
 * the rest of the machine does not move the result; counts and errors add up.
 */
function medianOf(runs: Measured[]): Measured {
  const mid = (pick: (r: Measured) => number) => median(runs.map(pick));
  return {
    completed: runs.reduce((sum, r) => sum + r.completed, 0),
    total: runs.reduce((sum, r) => sum + r.total, 0),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    rps: mid((r) => r.rps),
    p50: mid((r) => r.p50),
    p99: mid((r) => r.p99),
    p999: mid((r) => r.p999),
    max: Math.max(...runs.map((r) => r.max)),
    unanswered: runs.reduce((sum, r) => sum + r.unanswered, 0),
    firstError: runs.find((r) => r.firstError !== null)?.firstError ?? null,
    threads: runs[0].threads,
    cpuMs: mid((r) => r.cpuMs),
    cpuUsPerReply: mid((r) => r.cpuUsPerReply),
    busy: mid((r) => r.busy),
    cpuUs: mid((r) => r.cpuUs),
  };
}

interface LoadOptions {
  /** Measured seconds. */
  duration?: number;
  /** Accept replies that differ only in the values of `fetched_at` and `stale`. */
  lenient?: boolean;
  /** `expect` is only the start of every reply. */
  prefix?: boolean;
}

function load(
  port: number,
  request: string,
  expect: Uint8Array,
  [conns, depth]: [number, number],
  { duration = durationS, lenient = false, prefix = false }: LoadOptions = {},
): Promise<LoadResult> {
  return runLoadgen({
    binary: loadgen!,
    dir,
    port,
    request,
    expect,
    conns,
    depth,
    threads: generatorThreads,
    warmupS,
    durationS: duration,
    nofile,
    lenient,
    prefix,
  });
}

// --- what is asked and what the right answers are ---------------------------------------------

interface Kind {
  label: string;
  request: string;
  /** Throws unless the reply is the right one for the recorded data. */
  check(reply: { status: string; data: unknown }): void;
}

const KINDS: Kind[] = [
  {
    label: "MARKET BTC v1",
    request: '{"status":"OK","data":"MARKET BTC"}',
    check: (r) => assertThat(r.status === "OK" && r.data === 20220, "BTC v1 is 20220"),
  },
  {
    label: "MARKET BTC v2",
    request: '{"status":"OK","data":"MARKET BTC","v":2}',
    check: (r) => {
      const coin = r.data as Record<string, unknown>;
      assertThat(r.status === "OK" && coin.symbol === "BTC" && coin.price === 20220, "BTC v2");
    },
  },
  {
    label: "MARKET ALL v2",
    request: '{"status":"OK","data":"MARKET ALL","v":2}',
    check: (r) => {
      const coins = r.data as Record<string, unknown>[];
      assertThat(r.status === "OK" && Array.isArray(coins) && coins.length === 10, "ALL v2");
      coins.forEach((c, i) => assertThat(c.rank === i + 1, "ALL v2 in rank order"));
    },
  },
];

function assertThat(ok: boolean, what: string): void {
  if (!ok) throw new Error(`Wrong reply from the server: expected ${what}`);
}

/** Asks once on a fresh connection and returns the exact reply bytes, checked. */
async function askOnce(port: number, kind: Kind): Promise<Uint8Array> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(kind.request + "\n"));
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length === 0 || chunks.at(-1)!.at(-1) !== 0x0a) {
    const buffer = new Uint8Array(64 * 1024);
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Server closed before answering ${kind.label}`);
    chunks.push(buffer.subarray(0, n));
    length += n;
  }
  const reply = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    reply.set(chunk, offset);
    offset += chunk.length;
  }
  kind.check(JSON.parse(new TextDecoder().decode(reply)));
  return reply;
}

// --- the run -----------------------------------------------------------------------------------

interface Row {
  kind: string;
  conns: number;
  depth: number;
  floor: Measured;
  server: Measured;
  /** The same generator against `ceiling.c`, or null with `--skip ceiling`. */
  ceiling: Measured | null;
  /** Server / floor req/s of each round, in round order. */
  rpsRatios: number[];
  /** Server / floor p99 of each round, in round order. */
  p99Ratios: number[];
  /** Ceiling / floor req/s of each round (empty with `--skip ceiling`). */
  ceilingRatios: number[];
}

const rows: Row[] = [];
let totalErrors = 0;
const notes: string[] = [];
const log = (line: string) => console.error(`bench: ${line}`);

/** Adds a run's wrong replies, failed connections and unanswered requests to the errors. */
function countErrors(r: LoadResult, unansweredToo = true): void {
  totalErrors += r.errors + (unansweredToo ? r.unanswered : 0);
  if (r.firstError) notes.push(r.firstError);
  if (unansweredToo && r.unanswered > 0) {
    notes.push(`${r.unanswered} requests unanswered 10 s after the end of a run`);
  }
}

const dir = await Deno.makeTempDir({ prefix: "crypto-bench-" });
const upstream = await startFakeUpstream();
let server: Proc | null = null;
let ingesting: Proc | null = null;
let floor: Proc | null = null;
let ceiling: Proc | null = null;
let ingestion: { without: Measured; with: Measured; ingestions: number } | null = null;
let history: HistoryFigures | null = null;
const idle: { server?: IdleFigures; floor?: IdleFigures } = {};
let client: { medianMs: number; floorMs: number; output: string } | null = null;
let http: HttpBenchResult | null = null;
let wsFanout: WsFanout | null = null;
const upstreamMemory: { cap: number; memory: UpstreamMemory }[] = [];
let watch: (WatchResult & { ingestedAt: number }) | null = null;
const watchCount = idleCount;

/**
 * `watchCount` connections watch BTC on a server ingesting every `refreshS`; the upstream's BTC
 * price then changes once. Reports the time from the server's `ingested` log line of that round
 * to the last watcher's update.
 */
async function measureWatch(): Promise<WatchResult & { ingestedAt: number }> {
  const recorded = JSON.parse(
    await Deno.readTextFile(new URL("tests/testdata/coingecko_markets_usd_2022-10-04.json", ROOT)),
  );
  upstream.setCoins(recorded);
  const target = await startServer(`${dir}/watch.sqlite`, upstream.baseUrl, [
    "--refresh",
    String(refreshS),
  ]);
  try {
    const proc = new Proc([
      "run",
      "--allow-net",
      LOAD,
      "watch",
      "--port",
      String(target.port),
      "--count",
      String(watchCount),
      "--request",
      '{"status":"OK","data":"WATCH BTC","v":2}',
    ]);
    await proc.waitFor(/^watching \d+/);
    recorded[0].current_price = recorded[0].current_price + 1.25;
    upstream.setCoins(recorded);
    await proc.child.status;
    await proc.done;
    const result: WatchResult = JSON.parse(proc.lines.at(-1)!);
    // The round that carried the change is the one logged nearest the first update: the server
    // queues the events, then logs, so its line may reach us just after the first event does.
    let ingestedAt = 0;
    target.lines.forEach((line, i) => {
      const at = target.times[i];
      if (
        /^ingested /.test(line) &&
        Math.abs(at - result.firstAt) < Math.abs(ingestedAt - result.firstAt)
      ) {
        ingestedAt = at;
      }
    });
    return { ...result, ingestedAt };
  } finally {
    await target.stop();
  }
}

/** `HISTORY BTC 30d`, and MARKET clients' latency while it is asked, on a server ingesting every second. */
interface HistoryFigures {
  /** Rows of history seeded, and how long seeding took. */
  rows: number;
  seedS: number;
  /** MARKET BTC v2 at 50 × 1 with nobody asking HISTORY. */
  alone: Measured;
  /** The same, while `historyConns` connections ask HISTORY BTC 30d in a closed loop. */
  during: LoadResult;
  /** The HISTORY connections themselves. */
  history: LoadResult;
  /** Points in the first HISTORY reply, the count it reported, and how long it took alone. */
  points: number;
  count: number;
  firstMs: number;
}

const HISTORY_REQUEST = '{"status":"OK","data":"HISTORY BTC 30d","v":2}';

async function measureHistory(): Promise<HistoryFigures> {
  const db = `${dir}/history.sqlite`;
  // The history is written as the previous schema version kept it (every price, one row each) and
  // the server migrates it at start into its history by resolution, as an upgraded deployment
  // would; seeding 2.6 million rows through the server's own ingestion would take 30 days. Two
  // minutes short of the window, so the pruning of rows older than it starts during the run.
  const rows = Math.max(1, Math.floor(historyDays * 86_400) - 120);
  const seedStart = performance.now();
  seedPreviousVersion(db, rows, 1, Math.floor(Date.now() / 1000));
  const seedS = (performance.now() - seedStart) / 1000;
  log(`seeded ${rows} history rows in ${seedS.toFixed(1)} s`);
  const target = await startServer(db, upstream.baseUrl, ["--refresh", "1"]);
  try {
    const btc = KINDS[1];
    const marketExpect = await askOnce(target.port, btc);
    let points = 0;
    let count = 0;
    const askedAt = performance.now();
    await askOnce(target.port, {
      label: "HISTORY BTC 30d",
      request: HISTORY_REQUEST,
      check: (r) => {
        const data = r.data as { symbol: string; points: unknown[]; count: number };
        points = data.points.length;
        count = data.count;
        assertThat(
          r.status === "OK" && data.symbol === "BTC" && count >= rows && points <= 200,
          `HISTORY BTC 30d over at least the ${rows} rows seeded, at most 200 points`,
        );
      },
    });
    const firstMs = performance.now() - askedAt;
    const setting: [number, number] = ingestSetting;
    const options = { duration: ingestDurationS, lenient: true };
    const alone = await measure(target, target.port, btc.request, marketExpect, setting, options);
    const prefix = new TextEncoder().encode(
      '{"status":"OK","data":{"symbol":"BTC","range":"30d","currency":"USD","count":',
    );
    const [during, history] = await Promise.all([
      load(target.port, btc.request, marketExpect, setting, options),
      load(target.port, HISTORY_REQUEST, prefix, [historyConns, 1], {
        duration: ingestDurationS,
        prefix: true,
      }),
    ]);
    return { rows, seedS, alone, during, history, points, count, firstMs };
  } finally {
    await target.stop();
  }
}

interface IdleFigures extends IdleResult {
  rssBeforeKiB: number;
  rssAfterKiB: number;
  perConnectionKiB: number;
}

async function measureIdle(target: Proc, port: number, kind: Kind, expect: Uint8Array) {
  const before = await target.rssKiB();
  const proc = new Proc([
    "run",
    "--allow-net",
    LOAD,
    "idle",
    "--port",
    String(port),
    "--count",
    String(idleCount),
    "--request",
    kind.request,
    "--expect",
    expect.toBase64(),
  ], { stdin: true });
  await proc.waitFor(/^open \d+/);
  // The connects are done on the client side; the server may still be accepting. Wait until its
  // RSS stops moving (a poll with a deadline, on an external process).
  let after = await target.rssKiB();
  for (let stable = 0, tries = 0; stable < 3 && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = await target.rssKiB();
    stable = Math.abs(now - after) < 64 ? stable + 1 : 0;
    after = now;
  }
  await proc.send("check");
  await proc.child.status;
  await proc.done;
  const result: IdleResult = JSON.parse(proc.lines.at(-1)!);
  return {
    ...result,
    rssBeforeKiB: before,
    rssAfterKiB: after,
    perConnectionKiB: (after - before) / Math.max(1, result.opened),
  };
}

async function timeClient(
  port: number,
): Promise<{ medianMs: number; floorMs: number; output: string }> {
  const times: number[] = [];
  const floorTimes: number[] = [];
  let output = "";
  // The floor of a one-shot client: a Deno process that connects, sends, reads one line.
  const minimal = `const c = await Deno.connect({ port: ${port} });` +
    `await c.write(new TextEncoder().encode('{"status":"OK","data":"MARKET BTC"}\\n'));` +
    `const b = new Uint8Array(4096); const n = await c.read(b);` +
    `console.log(new TextDecoder().decode(b.subarray(0, n ?? 0)).trim()); c.close();`;
  for (let i = 0; i < clientRuns; i++) {
    let start = performance.now();
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLIENT, "--port", String(port), "price", "BTC"],
      stdin: "null",
    }).output();
    times.push(performance.now() - start);
    output = new TextDecoder().decode(run.stdout).trim();
    if (!run.success || !/20,?220/.test(output)) {
      totalErrors++;
      notes.push(`client price BTC failed (exit ${run.code}): ${output.slice(0, 200)}`);
    }
    start = performance.now();
    const bare = await new Deno.Command(Deno.execPath(), {
      args: ["eval", minimal],
      stdin: "null",
    }).output();
    floorTimes.push(performance.now() - start);
    if (!bare.success) throw new Error("The minimal client failed");
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { medianMs: median(times), floorMs: median(floorTimes), output };
}

try {
  log(`open files: soft limit raised to ${nofile} for subprocesses (hard limit ${hardLimit})`);
  loadgen = await compile(LOADGEN, dir);
  server = await startServer(`${dir}/bench.sqlite`, upstream.baseUrl, ["--refresh", "3600"]);
  const expects = await Promise.all(KINDS.map((kind) => askOnce(server!.port, kind)));
  const sizes = [...new Set(expects.map((e) => e.length))];
  floor = new Proc(["run", "--allow-net", FLOOR, "--sizes", sizes.join(",")]);
  const floorPorts: Record<string, number> = JSON.parse(
    (await floor.waitFor(/^floor /)).slice("floor ".length),
  );
  const { floorLine } = await import("./floor.ts");
  let ceilingPorts: Record<string, number> = {};
  if (!skip.has("ceiling")) {
    ceiling = new Proc(["--sizes", sizes.join(",")], { exec: await compile(CEILING, dir) });
    ceilingPorts = JSON.parse((await ceiling.waitFor(/^ceiling /)).slice("ceiling ".length));
  }

  for (const [k, kind] of KINDS.entries()) {
    if (flags.only !== undefined && kind.label !== flags.only) continue;
    const size = expects[k].length;
    for (const setting of settings) {
      log(`${kind.label} at (${setting.join(",")}), ${rounds} round(s)`);
      const floorRuns: Measured[] = [];
      const serverRuns: Measured[] = [];
      const ceilingRuns: Measured[] = [];
      const runs = [
        async () =>
          floorRuns.push(
            await measure(floor!, floorPorts[size], kind.request, floorLine(size), setting),
          ),
        async () =>
          serverRuns.push(await measure(server!, server!.port, kind.request, expects[k], setting)),
      ];
      if (ceiling !== null) {
        const target = ceiling;
        runs.push(async () =>
          ceilingRuns.push(
            await measure(target, ceilingPorts[size], kind.request, floorLine(size), setting),
          )
        );
      }
      // Rotate which goes first, so drift in what else the machine does hits both alike.
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < runs.length; i++) await runs[(round + i) % runs.length]();
      }
      const floorResult = medianOf(floorRuns);
      const serverResult = medianOf(serverRuns);
      const ceilingResult = ceilingRuns.length > 0 ? medianOf(ceilingRuns) : null;
      for (const r of [floorResult, serverResult, ceilingResult]) if (r) countErrors(r);
      // Ratios round by round (see "Run-to-run spread" in BENCHMARKS.md).
      const byRound = (runs: Measured[], pick: (r: Measured) => number) =>
        ratiosByRound(runs, floorRuns, pick);
      rows.push({
        kind: kind.label,
        conns: setting[0],
        depth: setting[1],
        floor: floorResult,
        server: serverResult,
        ceiling: ceilingResult,
        rpsRatios: byRound(serverRuns, (r) => r.rps),
        p99Ratios: byRound(serverRuns, (r) => r.p99),
        ceilingRatios: byRound(ceilingRuns, (r) => r.rps),
      });
    }
  }

  if (!skip.has("ingest")) {
    log(`ingestion every ${refreshS} s under load`);
    ingesting = await startServer(`${dir}/ingest.sqlite`, upstream.baseUrl, [
      "--refresh",
      String(refreshS),
    ]);
    const btc = KINDS[1];
    const ingestExpect = await askOnce(ingesting.port, btc);
    const without = await measure(server, server.port, btc.request, expects[1], ingestSetting, {
      duration: ingestDurationS,
    });
    const from = ingesting.lines.length;
    const withIngestion = await measure(
      ingesting,
      ingesting.port,
      btc.request,
      ingestExpect,
      ingestSetting,
      { duration: ingestDurationS, lenient: true },
    );
    const ingestions = ingesting.lines.slice(from).filter((l) => /^ingested /.test(l)).length;
    countErrors(without);
    countErrors(withIngestion);
    ingestion = { without, with: withIngestion, ingestions };
    await ingesting.stop();
    ingesting = null;
  }

  if (!skip.has("history")) {
    log(`HISTORY BTC 30d over ${historyDays} day(s) of history, ingestion every 1 s`);
    history = await measureHistory();
    // A server that takes longer than the run to answer HISTORY has not answered wrongly: the
    // table says how many requests were left unanswered instead.
    for (const r of [history.alone, history.during, history.history]) countErrors(r, false);
  }

  if (!skip.has("idle")) {
    log(`${idleCount} idle connections`);
    idle.server = await measureIdle(server, server.port, KINDS[0], expects[0]);
    const v1Size = expects[0].length;
    idle.floor = await measureIdle(floor, floorPorts[v1Size], KINDS[0], floorLine(v1Size));
    for (const r of [idle.server, idle.floor]) {
      totalErrors += r.errors;
      if (r.firstError) notes.push(r.firstError);
    }
  }

  if (!skip.has("watch")) {
    log(`${watchCount} watchers of one coin`);
    watch = await measureWatch();
    totalErrors += watch.errors + (watch.watchers - watch.updated);
    if (watch.firstError) notes.push(watch.firstError);
  }

  if (!skip.has("client")) {
    log("one-shot client");
    client = await timeClient(server.port);
  }

  if (!skip.has("upstream")) {
    if (await canMeasurePeak()) {
      for (const cap of memoryCaps) {
        log(`peak RSS while reading hostile answers, --max-upstream-bytes ${cap}`);
        const memory = await measureUpstreamMemory({ capBytes: cap, answers: MEMORY_ANSWERS });
        for (const figure of memory.figures) {
          const expected = figure.answer === "under" ? /^ingested / : /sent an answer over/;
          if (!expected.test(figure.outcome)) {
            totalErrors++;
            notes.push(`${figure.answer} answer, cap ${cap}: ${figure.outcome}`);
          }
        }
        upstreamMemory.push({ cap, memory });
      }
    } else {
      notes.push("upstream memory not measured: /proc/PID/clear_refs cannot reset VmHWM here");
    }
  }
  if (!skip.has("http")) {
    log(`HTTP: GET /api/v1/coins/BTC, wrk against the server and a bare Deno.serve`);
    const seconds = Math.max(1, Math.round(durationS));
    http = await measureHttp({ rounds, seconds, connections: 50, threads: 1 });
  }
  if (!skip.has("ws")) {
    log(`${watchCount} WebSocket watchers of one coin over /ws`);
    wsFanout = await measureWsFanout(watchCount, nofile);
    totalErrors += wsFanout.errors + (wsFanout.watchers - wsFanout.updated);
    if (wsFanout.firstError) notes.push(wsFanout.firstError);
  }
} finally {
  await Promise.all([server?.stop(), ingesting?.stop(), floor?.stop(), ceiling?.stop()]);
  await upstream.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

// --- report --------------------------------------------------------------------------------------

const f0 = (x: number) => Math.round(x).toLocaleString("en-US");
const f2 = (x: number) => x.toFixed(2);
/** The median of the rounds' ratios, as shown. */
const mid = (ratios: number[]) => (ratios.length === 0 ? "n/a" : f2(median(ratios)));
const pct = (x: number) => `${Math.round(x * 100)}%`;

function table(): string {
  const lines = [
    "| request | conns × depth | floor req/s | server req/s | ratio | floor p50 / p99 / p99.9 ms | server p50 / p99 / p99.9 ms | p99 ratio | CPU µs/req floor / server | generator busy floor / server |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.kind} | ${r.conns} × ${r.depth} | ${f0(r.floor.rps)} | ${f0(r.server.rps)} | ` +
        `${mid(r.rpsRatios)} | ${f2(r.floor.p50)} / ${f2(r.floor.p99)} / ` +
        `${f2(r.floor.p999)} | ${f2(r.server.p50)} / ${f2(r.server.p99)} / ${
          f2(r.server.p999)
        } | ` +
        `${mid(r.p99Ratios)} | ${f2(r.floor.cpuUs)} / ${f2(r.server.cpuUs)} | ` +
        `${pct(r.floor.busy)} / ${pct(r.server.busy)} |`,
    );
  }
  return lines.join("\n");
}

/** The proof that the generator measured the servers, not itself. */
function headroom(): string[] {
  if (rows.length === 0) return [];
  const runs = rows.flatMap((r) => [r.floor, r.server]);
  const busiest = Math.max(...runs.map((r) => r.busy));
  const slower = rows.filter((r) => median(r.rpsRatios) >= 1);
  const lines = [
    `Load generator: \`tests/bench/loadgen.c\` (C, epoll, ${rows[0].floor.threads} thread(s), ` +
    `every reply compared byte for byte). Its own CPU time over the measured window, as a share ` +
    `of one core (median of the rounds), was at most ${pct(busiest)} in any run against the ` +
    `floor or the server: it spent the rest of the time waiting for replies.` +
    (slower.length === 0
      ? " The floor was faster than the server in every row."
      : ` The server was as fast as the floor or faster at ${
        slower.map((r) => `${r.kind} ${r.conns} × ${r.depth}`).join(", ")
      } (within the noise).`),
    "",
  ];
  const withCeiling = rows.filter((r) => r.ceiling !== null);
  if (withCeiling.length === 0) return lines;
  lines.push(
    "The same generator against `tests/bench/ceiling.c` (a C server answering the floor's bytes, " +
      "so the generator's limit shows, not a server's), in the same rounds:",
    "",
    "| request | conns × depth | ceiling req/s | floor req/s | server req/s | ceiling / floor | generator busy at the ceiling | generator CPU µs/reply at the ceiling |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
    ...withCeiling.map((r) =>
      `| ${r.kind} | ${r.conns} × ${r.depth} | ${f0(r.ceiling!.rps)} | ${f0(r.floor.rps)} | ` +
      `${f0(r.server.rps)} | ${mid(r.ceilingRatios)} | ${pct(r.ceiling!.busy)} | ` +
      `${f2(r.ceiling!.cpuUsPerReply)} |`
    ),
    "",
  );
  return lines;
}

function find(kind: string, conns: number, depth: number): Row | undefined {
  return rows.find((r) => r.kind === kind && r.conns === conns && r.depth === depth);
}

function targets(): string[] {
  const lines: string[] = [];
  const mark = (ok: boolean) => (ok ? "met" : "MISSED");
  // The targets of issue 13: [request, conns, depth, least req/s ratio, most p99 ratio].
  const goals: [string, number, number, number, number][] = [
    ["MARKET BTC v2", 50, 1, 0.9, 1.3],
    ["MARKET BTC v2", 50, 16, 0.75, 2],
    ["MARKET ALL v2", 50, 1, 0.9, 1.3],
    ["MARKET ALL v2", 50, 16, 0.8, 2],
  ];
  for (const [kind, conns, depth, leastRps, mostP99] of goals) {
    const row = find(kind, conns, depth);
    if (row === undefined) continue;
    const rps = median(row.rpsRatios);
    const p99 = median(row.p99Ratios);
    const each = (ratios: number[]) => ratios.map(f2).join(", ");
    const unsettled = splitByBound(row.rpsRatios, (r) => r >= leastRps) ||
        splitByBound(row.p99Ratios, (r) => r <= mostP99)
      ? " (some rounds met a target and some did not: this run alone does not settle it)"
      : "";
    lines.push(
      `- ${kind} (${conns},${depth}): ${f2(rps)} × floor req/s (≥ ${leastRps}: ` +
        `${mark(rps >= leastRps)}), p99 ${f2(p99)} × floor (≤ ${mostP99}: ${
          mark(p99 <= mostP99)
        }); ` +
        `rounds: ${each(row.rpsRatios)}; p99 ${each(row.p99Ratios)}${unsettled}`,
    );
  }
  if (idle.server) {
    const s = idle.server;
    const ok = s.opened === idleCount && s.answered === s.opened && s.perConnectionKiB <= 8;
    lines.push(
      `- idle: ${s.opened} held, ${s.answered} answered, ` +
        `${f2(s.perConnectionKiB)} KiB RSS each (all ${idleCount} and ≤ 8 KiB: ${mark(ok)})`,
    );
  }
  if (ingestion) {
    const r = ingestion.with.p99 / ingestion.without.p99;
    lines.push(
      `- ingestion every ${refreshS} s: p99 ${f2(r)} × p99 without (≤ 2: ${mark(r <= 2)})`,
    );
  }
  if (history) {
    const { alone, during } = history;
    lines.push(
      `- HISTORY BTC 30d over ${f0(history.rows)} rows: other clients' p99 while it is asked ` +
        (during.completed === 0
          ? `n/a: no MARKET reply at all within the ${ingestDurationS} s window, ` +
            `${during.unanswered} still unanswered 10 s later`
          : `${f2(during.p99 / alone.p99)} × p99 without (${f2(during.p99)} ms vs ` +
            `${f2(alone.p99)} ms)`) +
        " (issue 13 sets no bound: reported)",
    );
  }
  for (const { cap, memory } of upstreamMemory) {
    const hostile = memory.figures.filter((f) => f.answer !== "under");
    const worst = Math.max(...hostile.map((f) => (f.peakKiB - f.beforeKiB) * 1024));
    lines.push(
      `- upstream answers over a ${mib(cap)} MiB cap: peak RSS growth at most ` +
        `${mib(worst)} MiB (≤ cap + ${mib(MEMORY_MARGIN)} MiB: ` +
        `${mark(worst <= cap + MEMORY_MARGIN)})`,
    );
  }
  lines.push(`- errors: ${totalErrors} (zero: ${mark(totalErrors === 0)})`);
  return lines;
}

/** The figures the README and the top of BENCHMARKS.md quote, in one paragraph. */
function headline(): string[] {
  const shown = [["MARKET BTC v2", 50, 1], ["MARKET BTC v2", 50, 16], ["MARKET ALL v2", 50, 1], [
    "MARKET ALL v2",
    50,
    16,
  ]] as const;
  const parts = shown.flatMap(([kind, conns, depth]) => {
    const r = find(kind, conns, depth);
    if (r === undefined) return [];
    return [
      `${kind} at ${conns} × ${depth}: ${f0(r.server.rps)} req/s, ` +
      `${mid(r.rpsRatios)} × the floor's ${f0(r.floor.rps)}, p99 ` +
      `${f2(r.server.p99)} ms (${mid(r.p99Ratios)} × the floor's)`,
    ];
  });
  if (parts.length === 0) return [];
  const busiest = Math.max(...rows.flatMap((r) => [r.floor.busy, r.server.busy]));
  return [
    `**Headline** (medians of ${rounds} rotated rounds; load generator \`loadgen.c\`, at most ` +
    `${pct(busiest)} of one core busy in any run): ${parts.join("; ")}.`,
    "",
  ];
}

/** One row of the HISTORY table; latencies are "n/a" when no reply came in the window. */
function historyLine(label: string, r: LoadResult): string {
  const ms = (x: number) => (r.completed === 0 ? "n/a" : f2(x));
  return `| ${label} | ${f0(r.completed)} | ${r.rps < 100 ? f2(r.rps) : f0(r.rps)} | ` +
    `${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${ms(r.max)} | ${f0(r.unanswered)} |`;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Peak RSS growth of the server reading each hostile answer, against the cap. */
function memoryTable(): string[] {
  const what: Record<TickersAnswer, string> = {
    ok: "",
    huge: `${mib(HUGE_BYTES)} MiB of valid JSON tickers`,
    bomb: "gzip bomb: 4 GiB of spaces, 4 MiB compressed",
    under: "valid JSON tickers, 64 KiB under the cap",
    bad_symbol: "",
    mostly_bad: "",
  };
  const lines = [
    "### Upstream answers against `--max-upstream-bytes` (issue 12)",
    "",
    "Each answer is read by a fresh `server.ts` (`--providers coinpaprika --refresh 1`) from a " +
    "local upstream (`tests/fakes/hostile_upstream.ts`) after three good rounds of 20 tickers. " +
    "Peak is VmHWM of /proc/PID/status, reset to VmRSS (`clear_refs`) just before the answer; " +
    "growth is peak minus that VmRSS; after is VmRSS once the next good answer is ingested. " +
    "The bound the test holds (`tests/ingest/upstream_memory_test.ts`) is for answers cut off at " +
    "the cap; a valid answer is parsed, and costs a multiple of its size.",
    "",
    "| cap MiB | answer | outcome | RSS before MiB | peak MiB | growth MiB | growth − cap MiB | RSS after MiB |",
    "|---:|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const { cap, memory } of upstreamMemory) {
    for (const f of memory.figures) {
      const growth = (f.peakKiB - f.beforeKiB) * 1024;
      const outcome = /sent an answer over/.test(f.outcome)
        ? "cut off at the cap"
        : /^ingested /.test(f.outcome)
        ? "ingested"
        : f.outcome.slice(0, 60);
      lines.push(
        `| ${mib(cap)} | ${what[f.answer]} | ${outcome} | ${mib(f.beforeKiB * 1024)} | ` +
          `${mib(f.peakKiB * 1024)} | ${mib(growth)} | ${mib(growth - cap)} | ` +
          `${mib(f.afterKiB * 1024)} |`,
      );
    }
  }
  lines.push("");
  return lines;
}

function report(): string {
  const parts = [
    ...headline(),
    "### Look-ups against the floor",
    "",
    table(),
    "",
    ...headroom(),
  ];
  if (ingestion) {
    parts.push(
      `### Ingestion under load (MARKET BTC v2, ${ingestSetting.join(" × ")}, ` +
        `${ingestDurationS} s measured)`,
      "",
      "| | req/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU µs/req |",
      "|---|---:|---:|---:|---:|---:|---:|",
      `| without ingestion | ${f0(ingestion.without.rps)} | ${f2(ingestion.without.p50)} | ` +
        `${f2(ingestion.without.p99)} | ${f2(ingestion.without.p999)} | ` +
        `${f2(ingestion.without.max)} | ${f2(ingestion.without.cpuUs)} |`,
      `| ingestion every ${refreshS} s (${ingestion.ingestions} during the run) | ` +
        `${f0(ingestion.with.rps)} | ${f2(ingestion.with.p50)} | ${f2(ingestion.with.p99)} | ` +
        `${f2(ingestion.with.p999)} | ${f2(ingestion.with.max)} | ${f2(ingestion.with.cpuUs)} |`,
      "",
    );
  }
  if (history) {
    const h = history;
    parts.push(
      `### HISTORY BTC 30d (${f0(h.rows)} rows of BTC history, one a second, ingestion every 1 s)`,
      "",
      `The database was seeded with ${f0(h.rows)} rows in ${h.seedS.toFixed(1)} s; a reply ` +
        `carries ${h.points} points thinned from ${f0(h.count)}; the first one, asked alone on a ` +
        `fresh connection, took ${f0(h.firstMs)} ms. ${historyConns} connection(s) ` +
        `ask \`HISTORY BTC 30d\` in a closed loop while ${ingestSetting.join(" × ")} ` +
        `connections ask \`MARKET BTC v2\` (${ingestDurationS} s measured).`,
      "",
      "| | replies in the window | req/s | p50 ms | p99 ms | p99.9 ms | max ms | unanswered at the end + 10 s |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      historyLine("MARKET BTC v2, nobody asking HISTORY", h.alone),
      historyLine("MARKET BTC v2, while HISTORY is asked", h.during),
      historyLine("HISTORY BTC 30d", h.history),
      "",
    );
  }
  if (idle.server && idle.floor) {
    parts.push(
      `### ${idleCount} idle connections`,
      "",
      "| | opened | answered afterwards | RSS before MiB | RSS after MiB | KiB per connection |",
      "|---|---:|---:|---:|---:|---:|",
    );
    for (const [name, r] of [["server", idle.server], ["floor", idle.floor]] as const) {
      parts.push(
        `| ${name} | ${r.opened} | ${r.answered} | ${f2(r.rssBeforeKiB / 1024)} | ` +
          `${f2(r.rssAfterKiB / 1024)} | ${f2(r.perConnectionKiB)} |`,
      );
    }
    parts.push("");
  }
  if (watch) {
    parts.push(
      `### ${watch.watchers} watchers of one coin (WATCH BTC, ingestion every ${refreshS} s)`,
      "",
      `- every watcher updated: ${watch.updated} of ${watch.watchers}`,
      `- from the server's \`ingested\` log line (written once the events are queued) to the last ` +
        `watcher's update: ` +
        `${f2(watch.lastAt - watch.ingestedAt)} ms`,
      `- from the first watcher's update to the last: ${f2(watch.lastAt - watch.firstAt)} ms`,
      "",
    );
  }
  if (client) {
    parts.push(
      `### One-shot client (median of ${clientRuns})`,
      "",
      `- \`deno run -A client.ts --port P price BTC\`: ${f0(client.medianMs)} ms ` +
        `(prints \`${client.output.split("\n")[0].slice(0, 80)}\`)`,
      `- floor, \`deno eval\` of a script that connects, sends one request, prints one line: ` +
        `${f0(client.floorMs)} ms`,
      "",
    );
  }
  if (upstreamMemory.length > 0) parts.push(...memoryTable());
  if (http !== null) parts.push("### HTTP (issue 20)", "", httpReport(http));
  if (wsFanout !== null) parts.push(...fanoutReport(wsFanout));
  parts.push("### Targets", "", ...targets(), "");
  if (notes.length > 0) {
    parts.push("### Errors seen", "", ...[...new Set(notes)].slice(0, 10).map((n) => `- ${n}`), "");
  }
  return parts.join("\n");
}

const mem = await Deno.readTextFile("/proc/meminfo").catch(() => "");
const memGiB = Number(/MemTotal:\s+(\d+)/.exec(mem)?.[1] ?? 0) / 1024 / 1024;
const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  ?.[1] ?? "unknown CPU";
const revision = await shell(`cd ${ROOT.pathname} && git describe --always --dirty 2>/dev/null`);
const header = [
  `Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
  `${navigator.hardwareConcurrency} cores (${cpu}), ${memGiB.toFixed(1)} GiB memory, ` +
  `Deno ${Deno.version.deno}, code at \`${revision || "unknown revision"}\`.`,
  `Command: \`${["deno task bench", ...Deno.args].join(" ")}\`` +
  ` (${durationS} s measured after ${warmupS} s warm-up per run, ${rounds} round(s) of floor, ` +
  `server${skip.has("ceiling") ? "" : " and ceiling"} per row, the order rotated each round, ` +
  `the median of each figure kept, and of each ratio the median of the rounds' ratios; ` +
  `subprocesses run with \`ulimit -n ${nofile}\`).`,
  "",
].join("\n");
const body = header + "\n" + report();
console.log(body);

if (out !== undefined) {
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  const previous = await Deno.readTextFile(out).catch(() => "");
  const i = previous.indexOf(begin);
  const j = previous.indexOf(end);
  const block = `${begin}\n${body}${end}`;
  const next = i >= 0 && j > i
    ? previous.slice(0, i) + block + previous.slice(j + end.length)
    : `# Benchmarks\n\n${block}\n`;
  await Deno.writeTextFile(out, next);
  // The repository's `deno fmt --check` covers Markdown: leave the file as the formatter would.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out] }).output();
  console.error(`bench: figures written to ${out}`);
}

Deno.exit(totalErrors === 0 ? 0 : 1);
