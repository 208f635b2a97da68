/**
 * The C load generator (`loadgen.c`) for the benchmarks: compiled at run time, run once per
 * measurement, its one JSON result line parsed. Shared by `bench.ts` and `cluster.ts`, so every
 * throughput figure comes from a generator that is not the bottleneck.
 *
 * @module
 */

/** The generator's source. */
export const LOADGEN = new URL("./loadgen.c", import.meta.url).pathname;

/** What one run of `loadgen.c` measured; latencies in milliseconds. */
export interface LoadResult {
  /** Replies checked during the measured window. */
  completed: number;
  /** Replies checked in the whole run, warm-up included. */
  total: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Requests still unanswered 10 s after the measured window. */
  unanswered: number;
  firstError: string | null;
  /** The generator's threads. */
  threads: number;
  /** The generator's own CPU time (user + system) during the measured window. */
  cpuMs: number;
  /** The generator's CPU microseconds per reply checked. */
  cpuUsPerReply: number;
  /** The generator's CPU time over the window's wall time: 1.0 is one core kept busy. */
  busy: number;
}

/** Compiles the C program `source` into `dir`; throws a clear error when no C compiler is there. */
export async function compile(source: string, dir: string): Promise<string> {
  const cc = Deno.env.get("CC") ?? "gcc";
  const binary = `${dir}/${source.split("/").at(-1)!.replace(/\.c$/, "")}`;
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cc, {
      args: ["-O2", "-pthread", "-o", binary, source],
      stdin: "null",
    }).output();
  } catch (error) {
    throw new Error(
      `Cannot compile ${source}: ${cc} not found (${(error as Error).message}); ` +
        "install gcc or set CC",
    );
  }
  if (!result.success) {
    throw new Error(
      `Cannot compile ${source} with ${cc}: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
  return binary;
}

/** One run of the compiled generator. */
export interface LoadRun {
  /** The compiled `loadgen` binary. */
  binary: string;
  /** Where the expected reply is written for the generator to read. */
  dir: string;
  port: number;
  /** The request line, without its newline. */
  request: string;
  /** The exact reply expected for every request (or its start, with `prefix`). */
  expect: Uint8Array;
  conns: number;
  depth: number;
  threads: number;
  warmupS: number;
  durationS: number;
  /** The open-files limit set for the generator (`ulimit -n`). */
  nofile: number;
  /** Accept replies that differ only in the values of `fetched_at` and `stale`. */
  lenient?: boolean;
  /** `expect` is only the start of every reply. */
  prefix?: boolean;
}

let expectFiles = 0;

/** Runs the generator once and returns its result; wrong replies are counted, not thrown. */
export async function runLoadgen(run: LoadRun): Promise<LoadResult> {
  const expectFile = `${run.dir}/expect-${Deno.pid}-${expectFiles++}`;
  await Deno.writeFile(expectFile, run.expect);
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n ${run.nofile} && exec "$0" "$@"`,
      run.binary,
      ...["--port", String(run.port), "--conns", String(run.conns)],
      ...["--depth", String(run.depth), "--threads", String(run.threads)],
      ...["--warmup", String(run.warmupS), "--duration", String(run.durationS)],
      ...["--request", run.request, "--expect", expectFile],
      ...(run.lenient ? ["--lenient"] : []),
      ...(run.prefix ? ["--prefix"] : []),
    ],
    stdin: "null",
  }).output();
  await Deno.remove(expectFile);
  const last = new TextDecoder().decode(stdout).trim().split("\n").at(-1);
  // Exit 3 is "some replies were wrong": the result line says which, and the run goes on.
  if ((code !== 0 && code !== 3) || !last) {
    throw new Error(`Load generator failed (${code}): ${new TextDecoder().decode(stderr)}`);
  }
  return JSON.parse(last);
}
