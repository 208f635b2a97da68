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
  startHostileUpstream,
  type TickersAnswer,
} from "./fakes/hostile_upstream.ts";

/** One hostile answer and what it cost the server. */
export interface MemoryFigure {
  answer: TickersAnswer;
  /** VmRSS just before the answer, KiB. */
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
  /** The answers to send, in order; an `"ok"` round follows each. */
  answers: TickersAnswer[];
  /** Deadline of each wait (for a log line or a body to end); defaults to 60 s. */
  timeoutMs?: number;
}

/** What the server's memory did. */
export interface UpstreamMemory {
  /** VmRSS after its first ingestions, before any hostile answer, KiB. */
  baselineKiB: number;
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
 * Starts `server.ts` against a hostile upstream (`--providers coinpaprika`, `--refresh 1`),
 * waits for it to settle, then sends each answer of `options.answers` in turn and measures it.
 *
 * @throws {Error} when a wait passes its deadline, naming what was awaited
 */
export async function measureUpstreamMemory(
  options: UpstreamMemoryOptions,
): Promise<UpstreamMemory> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = await Deno.makeTempDir({ prefix: "crypto-memory-" });
  await using upstream = await startHostileUpstream({ underBytes: options.capBytes - 64 * 1024 });
  try {
    await using server = new ServerProcess([
      "--port",
      "0",
      "--db",
      `${dir}/crypto.sqlite`,
      "--api-url",
      `${upstream.url}/api/v3`,
      "--providers",
      "coinpaprika",
      "--coinpaprika-url",
      upstream.url,
      "--refresh",
      "1",
      "--max-upstream-bytes",
      String(options.capBytes),
    ]);
    const { output } = server;
    const pid = server.child.pid;
    const ingested = /^ingested \d+ coins/;
    const waitFor = (pattern: RegExp, sinceIndex: number) =>
      output.waitFor(pattern, { sinceIndex, timeoutMs });
    // A few rounds first, so what every round allocates is part of the baseline.
    while (output.matching(ingested).length < 3) await waitFor(ingested, output.lines.length);
    const baselineKiB = await statusKiB(pid, "VmRSS");
    const figures: MemoryFigure[] = [];
    for (const answer of options.answers) {
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
      figures.push({ answer, beforeKiB, peakKiB, afterKiB, outcome, record });
    }
    return { baselineKiB, figures };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
