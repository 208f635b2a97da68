/**
 * The benchmark's load generator, run by `bench.ts` as its own process so that its work does not
 * share an event loop with the server it measures.
 *
 * `load`: `--conns` connections each keep `--depth` requests in flight for `--warmup` then
 * `--duration` seconds; every reply is compared byte for byte with `--expect` (base64), and only
 * replies completed after the warm-up count. Prints one JSON line of {@linkcode LoadResult}.
 *
 * `idle`: opens `--count` connections that send nothing, prints `open <count>`, waits for a line
 * on stdin, then sends one request on every connection and checks every reply. Prints one JSON
 * line of {@linkcode IdleResult}.
 *
 * `watch`: opens `--count` connections that each send `--request` (a WATCH) and read its reply,
 * prints `watching <count>`, then waits for one update event on every connection (at most 60 s)
 * and prints one JSON line of {@linkcode WatchResult} with when the first and the last arrived.
 *
 * With `--lenient`, a reply that differs from the expected one only in `fetched_at` is accepted
 * and becomes the expected reply of its connection: ingestion changes that field.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What one load run measured; latencies in milliseconds. */
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
  firstError: string | null;
  /** The latency histogram, as [microseconds, count] pairs, so runs can be merged. */
  buckets: [number, number][];
}

/** What the watch run found; times are epoch milliseconds with sub-millisecond precision. */
export interface WatchResult {
  watchers: number;
  updated: number;
  firstAt: number;
  lastAt: number;
  errors: number;
  firstError: string | null;
}

/** What the idle run found. */
export interface IdleResult {
  opened: number;
  answered: number;
  errors: number;
  firstError: string | null;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Latencies at 1 µs resolution up to 1 s; slower ones land in the last bucket. */
class Histogram {
  readonly #counts = new Uint32Array(1_000_001);
  count = 0;
  max = 0;

  record(ms: number): void {
    const us = Math.min(this.#counts.length - 1, Math.round(ms * 1000));
    this.#counts[us]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The non-empty buckets as [microseconds, count] pairs. */
  buckets(): [number, number][] {
    const out: [number, number][] = [];
    for (let us = 0; us < this.#counts.length; us++) {
      if (this.#counts[us] > 0) out.push([us, this.#counts[us]]);
    }
    return out;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let us = 0; us < this.#counts.length; us++) {
      seen += this.#counts[us];
      if (seen >= rank) return us / 1000;
    }
    return this.max;
  }
}

const FETCHED_AT = /"fetched_at":"[^"]*"/g;

/** Whether `got` is an acceptable reply when `expected` was wanted. */
function acceptable(got: Uint8Array, expected: Uint8Array, lenient: boolean): boolean {
  if (!lenient) return false;
  const a = decoder.decode(got).replace(FETCHED_AT, "");
  const b = decoder.decode(expected).replace(FETCHED_AT, "");
  return a === b;
}

interface LoadOptions {
  port: number;
  conns: number;
  depth: number;
  warmupMs: number;
  durationMs: number;
  request: Uint8Array;
  expect: Uint8Array;
  lenient: boolean;
}

/** Runs the load and resolves with what it measured. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { conns, depth, request, lenient } = options;
  const histogram = new Histogram();
  let completed = 0;
  let total = 0;
  const failures = new Failures();
  const fail = failures.add;
  const requests = new Uint8Array(request.length * depth);
  for (let i = 0; i < depth; i++) requests.set(request, i * request.length);

  const connections = await Promise.all(
    Array.from(
      { length: conns },
      () => Deno.connect({ hostname: "127.0.0.1", port: options.port }),
    ),
  );
  const start = performance.now();
  const recordFrom = start + options.warmupMs;
  const stopAt = recordFrom + options.durationMs;

  const drive = async (conn: Deno.TcpConn) => {
    conn.setNoDelay(true);
    let expected = options.expect;
    const sentAt = new Float64Array(depth);
    let head = 0;
    let tail = 0;
    let inFlight = 0;
    let matched = 0;
    let diverged: number[] | null = null;
    const buffer = new Uint8Array(64 * 1024);
    const send = async (count: number, now: number) => {
      for (let i = 0; i < count; i++) {
        sentAt[tail] = now;
        tail = (tail + 1) % depth;
      }
      inFlight += count;
      const out = requests.subarray(0, count * request.length);
      for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
    };
    try {
      await send(depth, performance.now());
      while (inFlight > 0) {
        const n = await conn.read(buffer);
        const now = performance.now();
        if (n === null) {
          fail(`connection closed with ${inFlight} replies outstanding`);
          return;
        }
        let done = 0;
        for (let i = 0; i < n; i++) {
          const b = buffer[i];
          if (diverged === null) {
            if (b === expected[matched]) {
              if (++matched < expected.length) continue;
            } else {
              diverged = Array.from(expected.subarray(0, matched));
              diverged.push(b);
              if (b !== NEWLINE) continue;
            }
          } else {
            diverged.push(b);
            if (b !== NEWLINE) continue;
          }
          // One reply complete.
          if (diverged !== null) {
            const got = Uint8Array.from(diverged);
            if (acceptable(got, expected, lenient)) {
              expected = got;
            } else {
              fail(`unexpected reply ${JSON.stringify(decoder.decode(got).slice(0, 200))}`);
            }
            diverged = null;
          }
          matched = 0;
          if (now >= recordFrom && now < stopAt) {
            histogram.record(now - sentAt[head]);
            completed++;
          }
          total++;
          head = (head + 1) % depth;
          inFlight--;
          done++;
        }
        if (done > 0 && now < stopAt) await send(done, now);
      }
    } catch (error) {
      fail(`${(error as Error).name}: ${(error as Error).message}`);
    } finally {
      conn.close();
    }
  };
  await Promise.all(connections.map(drive));
  return {
    completed,
    total,
    errors: failures.count,
    rps: completed / (options.durationMs / 1000),
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
    p999: histogram.percentile(99.9),
    max: histogram.max,
    firstError: failures.first,
    buckets: histogram.buckets(),
  };
}

/** Reads one reply line from `conn`; idle connections get exactly one reply, so no carry-over. */
async function readReply(conn: Deno.Conn, limit: number): Promise<Uint8Array | null> {
  const buffer = new Uint8Array(limit + 1);
  let length = 0;
  while (length === 0 || buffer[length - 1] !== NEWLINE) {
    if (length === buffer.length) return buffer;
    const n = await conn.read(buffer.subarray(length));
    if (n === null) return null;
    length += n;
  }
  return buffer.subarray(0, length);
}

/** Reads one line (newline included) into `buffer`; null at end of stream. */
async function readLine(conn: Deno.Conn, buffer: Uint8Array): Promise<Uint8Array | null> {
  let length = 0;
  while (length === 0 || buffer[length - 1] !== NEWLINE) {
    if (length === buffer.length) throw new RangeError("Line longer than the read buffer");
    const n = await conn.read(buffer.subarray(length));
    if (n === null) return null;
    length += n;
  }
  return buffer.subarray(0, length);
}

/** Counts failures and keeps the first one's description. */
class Failures {
  count = 0;
  first: string | null = null;
  add = (why: string): void => {
    this.count++;
    this.first ??= why;
  };
}

/**
 * Opens `count` connections, each set up by `open`, in waves of 200 so the listen backlog never
 * overflows into SYN retries; failures are counted, not thrown.
 */
async function openInWaves<T>(
  count: number,
  open: () => Promise<T>,
  fail: (why: string) => void,
): Promise<T[]> {
  const opened: T[] = [];
  for (let started = 0; started < count;) {
    const wave = Math.min(200, count - started);
    const settled = await Promise.allSettled(Array.from({ length: wave }, open));
    for (const s of settled) {
      if (s.status === "fulfilled") opened.push(s.value);
      else fail(`${(s.reason as Error).message}`);
    }
    started += wave;
  }
  return opened;
}

const epochNow = () => performance.timeOrigin + performance.now();

async function runWatch(port: number, count: number, request: Uint8Array): Promise<WatchResult> {
  const failures = new Failures();
  const fail = failures.add;
  const buffers = new Map<Deno.TcpConn, Uint8Array>();
  const conns = await openInWaves(count, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buffer = new Uint8Array(4096);
    for (let off = 0; off < request.length;) off += await conn.write(request.subarray(off));
    const reply = await readLine(conn, buffer);
    if (reply === null || !decoder.decode(reply).startsWith('{"status":"OK","data":[')) {
      conn.close();
      throw new Error(
        `watch failed: WATCH refused: ${reply && decoder.decode(reply).slice(0, 200)}`,
      );
    }
    buffers.set(conn, buffer);
    return conn;
  }, fail);
  console.log(`watching ${conns.length}`);
  let updated = 0;
  let firstAt = Infinity;
  let lastAt = 0;
  const deadline = setTimeout(() => conns.forEach((conn) => conn.close()), 60_000);
  await Promise.all(conns.map(async (conn) => {
    try {
      const line = await readLine(conn, buffers.get(conn)!);
      const at = epochNow();
      if (line === null) return fail("connection closed before its update");
      if (!decoder.decode(line).startsWith('{"status":"OK","event":"update","data":{')) {
        return fail(`unexpected line ${JSON.stringify(decoder.decode(line).slice(0, 200))}`);
      }
      updated++;
      firstAt = Math.min(firstAt, at);
      lastAt = Math.max(lastAt, at);
    } catch (error) {
      fail(`${(error as Error).name}: ${(error as Error).message}`);
    }
  }));
  clearTimeout(deadline);
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Closed at the deadline.
    }
  }
  return {
    watchers: conns.length,
    updated,
    firstAt,
    lastAt,
    errors: failures.count,
    firstError: failures.first,
  };
}

async function runIdle(
  port: number,
  count: number,
  request: Uint8Array,
  expect: Uint8Array,
): Promise<IdleResult> {
  const failures = new Failures();
  const fail = failures.add;
  const conns = await openInWaves(
    count,
    () => Deno.connect({ hostname: "127.0.0.1", port }),
    (why) => fail(`connect failed: ${why}`),
  );
  console.log(`open ${conns.length}`);
  const stdin = Deno.stdin.readable.getReader();
  await stdin.read();
  stdin.releaseLock();
  let answered = 0;
  await Promise.all(conns.map(async (conn) => {
    try {
      for (let off = 0; off < request.length;) off += await conn.write(request.subarray(off));
      const reply = await readReply(conn, expect.length);
      if (reply === null) fail("connection closed before its reply");
      else if (reply.length !== expect.length || !reply.every((b, i) => b === expect[i])) {
        fail(`unexpected reply ${JSON.stringify(decoder.decode(reply).slice(0, 200))}`);
      } else answered++;
    } catch (error) {
      fail(`${(error as Error).name}: ${(error as Error).message}`);
    } finally {
      conn.close();
    }
  }));
  return { opened: conns.length, answered, errors: failures.count, firstError: failures.first };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      conns: { type: "string", default: "1" },
      depth: { type: "string", default: "1" },
      warmup: { type: "string", default: "1" },
      duration: { type: "string", default: "5" },
      count: { type: "string", default: "10000" },
      request: { type: "string" },
      expect: { type: "string" },
      lenient: { type: "boolean", default: false },
    },
  });
  if (values.port === undefined || values.request === undefined) {
    throw new TypeError("Missing --port or --request");
  }
  const request = encoder.encode(values.request + "\n");
  const port = Number(values.port);
  if (positionals[0] === "watch") {
    console.log(JSON.stringify(await runWatch(port, Number(values.count), request)));
    Deno.exit(0);
  }
  if (values.expect === undefined) throw new TypeError("Missing --expect");
  const expect = Uint8Array.fromBase64(values.expect);
  const result = positionals[0] === "idle"
    ? await runIdle(port, Number(values.count), request, expect)
    : await runLoad({
      port,
      conns: Number(values.conns),
      depth: Number(values.depth),
      warmupMs: Number(values.warmup) * 1000,
      durationMs: Number(values.duration) * 1000,
      request,
      expect,
      lenient: values.lenient,
    });
  console.log(JSON.stringify(result));
}
