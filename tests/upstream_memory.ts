/**
 * How much memory the real `server.ts` takes while it reads hostile upstream answers: its peak
 * resident set (VmHWM of /proc/PID/status) during each answer, against its resident set just
 * before, with `--max-upstream-bytes` set to `capBytes`. Shared by the test that bounds it and
 * by `deno task bench`, which reports it.
 *
 * The peak is reset before each answer (`5` written to /proc/PID/clear_refs sets VmHWM to the
 * current VmRSS, Linux 4.0 and later), so start-up and earlier answers do not count. /proc is
 * read through `cat`, as Deno grants /proc only with `--allow-all`.
 *
 * @module
 */

import { withDeadline } from "./helpers.ts";
import { ServerProcess } from "./server_process.ts";
import {
  type AnswerRecord,
  type HostileUpstream,
  startHostileUpstream,
  type TickersAnswer,
} from "./fakes/hostile_upstream.ts";

/** One hostile answer and what it cost the server. */
export interface MemoryFigure {
  answer: TickersAnswer;
  /** VmRSS just before the answer, after three good rounds, KiB. */
  beforeKiB: number;
  /** VmHWM once the server has logged the outcome, KiB. */
  peakKiB: number;
  /** VmRSS once the server has ingested again after it, KiB. */
  afterKiB: number;
  /** The server's log line for the answer (`ingestion failed ...` or `ingested ...`). */
  outcome: string;
  /** How far the upstream got. */
  record: AnswerRecord;
}

/** Options of {@linkcode measureUpstreamMemory}. */
export interface UpstreamMemoryOptions {
  /** `--max-upstream-bytes`; the `"under"` answer is made to fill it less 64 KiB. */
  capBytes: number;
  /** The answers to send, each to a server of its own; an `"ok"` round follows each. */
  answers: TickersAnswer[];
  /** Deadline of each wait (for a log line or a body to end); defaults to 60 s. */
  timeoutMs?: number;
}

/** What the server's memory did, one figure per answer. */
export interface UpstreamMemory {
  figures: MemoryFigure[];
}

/** Whether this machine can reset and read a process's peak resident set. */
export async function canMeasurePeak(): Promise<boolean> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", "echo 5 > /proc/self/clear_refs && grep -q VmHWM /proc/self/status"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  return success;
}

/** One field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`). */
async function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const { stdout, success } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(new TextDecoder().decode(stdout));
  if (!success || match === null) throw new Error(`Cannot read ${field} of process ${pid}`);
  return Number(match[1]);
}

/** Sets the peak resident set of `pid` to its current one. */
async function resetPeak(pid: number): Promise<void> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", `echo 5 > /proc/${pid}/clear_refs`],
    stderr: "null",
  }).output();
  if (!success) throw new Error(`Cannot reset the peak resident set of process ${pid}`);
}

/**
 * Measures each answer of `options.answers` on its own `server.ts` (`--providers coinpaprika`,
 * `--refresh 1`, a new database), started against a hostile upstream and settled by three good
 * rounds first: memory an earlier answer left committed cannot hide what the next one takes.
 *
 * @throws {Error} when a wait passes its deadline, naming what was awaited
 */
export async function measureUpstreamMemory(
  options: UpstreamMemoryOptions,
): Promise<UpstreamMemory> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  await using upstream = await startHostileUpstream({ underBytes: options.capBytes - 64 * 1024 });
  const figures: MemoryFigure[] = [];
  for (const answer of options.answers) {
    figures.push(await measureOne(upstream, answer, options.capBytes, timeoutMs));
  }
  return { figures };
}

async function measureOne(
  upstream: HostileUpstream,
  answer: TickersAnswer,
  capBytes: number,
  timeoutMs: number,
): Promise<MemoryFigure> {
  const dir = await Deno.makeTempDir({ prefix: "crypto-memory-" });
  try {
    const values = {
      "--db": `${dir}/crypto.sqlite`,
      "--api-url": `${upstream.url}/api/v3`,
      "--coinpaprika-url": upstream.url,
      "--max-upstream-bytes": String(capBytes),
    };
    await using server = new ServerProcess([
      ..."--port 0 --providers coinpaprika --refresh 1".split(" "),
      ...Object.entries(values).flat(),
    ]);
    const { output } = server;
    const pid = server.child.pid;
    const ingested = /^ingested \d+ coins/;
    const waitFor = (pattern: RegExp, sinceIndex: number) =>
      output.waitFor(pattern, { sinceIndex, timeoutMs });
    // A few rounds first, so what every round allocates is part of the baseline.
    while (output.matching(ingested).length < 3) await waitFor(ingested, output.lines.length);
    const beforeKiB = await statusKiB(pid, "VmRSS");
    await resetPeak(pid);
    const ended = upstream.answered(answer);
    const since = output.lines.length;
    upstream.next = answer;
    const outcome = await waitFor(
      answer === "under" || answer === "ok" ? ingested : /^ingestion failed/,
      since,
    );
    const peakKiB = await statusKiB(pid, "VmHWM");
    const record = await withDeadline(ended, `the ${answer} answer to end`, timeoutMs);
    await waitFor(ingested, output.lines.indexOf(outcome) + 1);
    const afterKiB = await statusKiB(pid, "VmRSS");
    return { answer, beforeKiB, peakKiB, afterKiB, outcome, record };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
