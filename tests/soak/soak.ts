/**
 * `deno task soak [--duration 60]`: mixed traffic against the real `server.ts` whose upstream
 * flaps, then a report: requests answered, errors by code, server RSS and open descriptors.
 *
 * Traffic: normal clients (connect, a few requests, leave), pipelining clients, slow clients
 * (byte by byte, some never finishing: TIMEOUT), garbage senders (bad JSON, NUL, invalid UTF-8,
 * overlong lines), connection churn (connect and close or reset at once) and clients that
 * pipeline but never read (closed at the unsent cap). The upstream cycles through every failure
 * mode of the fake upstream.
 *
 * @module
 */

import { type FakeMode, startFakeUpstream } from "../fakes/fake_upstream.ts";
import { ServerProcess } from "../server_process.ts";
import { taskArgs } from "../task_args.ts";

const USAGE = `deno task soak [flags]: hostile and normal traffic against a flapping upstream

  --duration S   seconds of traffic (default 60)
  --json         the summary as JSON`;

const values = taskArgs(USAGE, {
  duration: { type: "string", default: "60" },
  json: { type: "boolean", default: false },
});
const durationMs = Number(values.duration) * 1000;
if (!(durationMs > 0)) {
  console.error(`error: invalid --duration ${JSON.stringify(values.duration)}: expected seconds`);
  Deno.exit(2);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];

const counts = {
  connections: 0,
  requestsSent: 0,
  answered: 0,
  ok: 0,
  closedByServer: 0,
  resets: 0,
  connectFailures: 0,
  nonReaders: 0,
  errors: {} as Record<string, number>,
};
const count = (code: string) => counts.errors[code] = (counts.errors[code] ?? 0) + 1;

/** A connection that counts every reply line it reads. */
class Client {
  #buffer = "";
  #chunk = new Uint8Array(64 * 1024);
  constructor(readonly conn: Deno.TcpConn) {}

  static async open(port: number): Promise<Client | null> {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      counts.connections++;
      return new Client(conn);
    } catch {
      counts.connectFailures++;
      return null;
    }
  }

  async send(text: string | Uint8Array, requests = 0): Promise<boolean> {
    const bytes = typeof text === "string" ? enc.encode(text) : text;
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
      counts.requestsSent += requests;
      return true;
    } catch {
      counts.resets++;
      return false;
    }
  }

  /** Reads one reply and counts it; null when the server closed. */
  async reply(): Promise<Record<string, unknown> | null> {
    try {
      while (true) {
        const newline = this.#buffer.indexOf("\n");
        if (newline >= 0) {
          const line = this.#buffer.slice(0, newline);
          this.#buffer = this.#buffer.slice(newline + 1);
          const reply = JSON.parse(line);
          counts.answered++;
          if (reply.status === "OK") counts.ok++;
          else count(String(reply.code));
          return reply;
        }
        const n = await this.conn.read(this.#chunk);
        if (n === null) {
          counts.closedByServer++;
          return null;
        }
        this.#buffer += dec.decode(this.#chunk.subarray(0, n), { stream: true });
      }
    } catch {
      counts.resets++;
      return null;
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

const REQUESTS = [
  '{"status":"OK","data":"MARKET ALL"}',
  '{"status":"OK","data":"MARKET ALL","v":2}',
  '{"status":"OK","data":"MARKET BTC"}',
  '{"status":"OK","data":"MARKET eth","v":2}',
  '{"status":"OK","data":"MARKET DOGE"}',
  '{"status":"OK","data":"MARKET NOPE"}',
];
const GARBAGE: (() => string | Uint8Array)[] = [
  () => "{not json\n",
  () => "[1,2,3]\n",
  () => '{"status":"OK","data":42}\n',
  () => '{"status":"OK","data":"SELL BTC"}\n',
  () => "\x00\x00\x00\n",
  () => new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
  () => "[".repeat(50_000) + "\n",
  () => "x".repeat(70 * 1024),
  () => crypto.getRandomValues(new Uint8Array(512)),
];

async function normal(port: number): Promise<void> {
  const client = await Client.open(port);
  if (client === null) return;
  for (let i = Math.floor(Math.random() * 5); i >= 0; i--) {
    if (!await client.send(pick(REQUESTS) + "\n", 1) || await client.reply() === null) break;
  }
  if (Math.random() < 0.5 && await client.send('{"status":"CLOSE"}\n', 1)) {
    await client.reply();
    await client.reply();
  }
  client.close();
}

async function pipelining(port: number): Promise<void> {
  const client = await Client.open(port);
  if (client === null) return;
  const n = 50 + Math.floor(Math.random() * 200);
  const batch = Array.from({ length: n }, () => pick(REQUESTS) + "\n").join("");
  const sending = client.send(batch, n);
  for (let i = 0; i < n; i++) if (await client.reply() === null) break;
  await sending;
  client.close();
}

async function slow(port: number): Promise<void> {
  const client = await Client.open(port);
  if (client === null) return;
  const request = pick(REQUESTS) + "\n";
  // One in four stops halfway and waits for the server's TIMEOUT.
  const upTo = Math.random() < 0.25 ? request.length / 2 : request.length;
  for (let i = 0; i < upTo; i++) {
    if (!await client.send(request[i])) break;
    await sleep(10 + Math.random() * 20);
  }
  if (upTo === request.length) counts.requestsSent++;
  await client.reply();
  client.close();
}

async function garbage(port: number): Promise<void> {
  const client = await Client.open(port);
  if (client === null) return;
  const bytes = pick(GARBAGE)();
  if (await client.send(bytes, 1)) await client.reply();
  client.close();
}

async function churn(port: number): Promise<void> {
  const client = await Client.open(port);
  if (client === null) return;
  // Half leave at once; half leave with a request half sent and unread data (a reset).
  if (Math.random() < 0.5) await client.send('{"status":"OK","da');
  client.close();
}

async function nonReader(port: number): Promise<void> {
  const client = await Client.open(port);
  if (client === null) return;
  counts.nonReaders++;
  // Not counted as requests sent: no reply is expected to reach it.
  await client.send(`${REQUESTS[1]}\n`.repeat(20_000));
  // The server cuts it off at the unsent cap (or at the write deadline): wait for that.
  const sink = new Uint8Array(64 * 1024);
  await sleep(500);
  try {
    while (await client.conn.read(sink) !== null) { /* drain */ }
    counts.closedByServer++;
  } catch {
    counts.resets++;
  }
  client.close();
}

function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

const upstream = await startFakeUpstream({ retryAfter: "2" });
const dir = await Deno.makeTempDir({ prefix: "crypto-soak-" });
const server = new ServerProcess([
  "--port",
  "0",
  "--db",
  `${dir}/soak.sqlite`,
  "--api-url",
  upstream.baseUrl,
  "--refresh",
  "1",
  "--request-timeout",
  "2",
  "--idle-timeout",
  "10",
]);
const port = await server.port();
await server.output.waitFor(/^ingested/);
const pid = server.child.pid;
const start = { rssKb: rssKb(pid), fds: openFds(pid) };
const samples: { at: number; rssKb: number; fds: number }[] = [];
const began = Date.now();
const deadline = began + durationMs;

const FLAPS: FakeMode[] = [
  "ok",
  "http500",
  "ok",
  "rate_limited",
  "ok",
  "html",
  "truncated",
  "ok",
  "empty",
  "invalid_prices",
  "ok",
  "hang",
  "ok",
];
const flapping = (async () => {
  for (let i = 0; Date.now() < deadline; i++) {
    upstream.mode = FLAPS[i % FLAPS.length];
    await sleep(Math.min(3000, Math.max(0, deadline - Date.now())));
  }
  upstream.mode = "ok";
})();
const sampling = (async () => {
  while (Date.now() < deadline) {
    await sleep(Math.min(2000, Math.max(0, deadline - Date.now())));
    samples.push({ at: Date.now() - began, rssKb: rssKb(pid), fds: openFds(pid) });
  }
})();

function loop(workers: number, task: (port: number) => Promise<void>, pauseMs = 0) {
  return Array.from({ length: workers }, async () => {
    while (Date.now() < deadline) {
      await task(port);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  });
}
await Promise.all([
  ...loop(4, normal),
  ...loop(2, pipelining),
  ...loop(3, slow),
  ...loop(2, garbage),
  ...loop(2, churn, 5),
  ...loop(1, nonReader, 2000),
  flapping,
  sampling,
]);

// Let the server close what the clients left behind (idle and write deadlines), then measure.
await sleep(3000);
const end = { rssKb: rssKb(pid), fds: openFds(pid) };
// Steady state: the median of the samples after the first third (warm-up) of the run.
const steadySamples = samples.filter((s) => s.at >= durationMs / 3);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const steady = {
  rssKb: median(steadySamples.map((s) => s.rssKb)),
  fds: median(steadySamples.map((s) => s.fds)),
};
const ingestion = {
  succeeded: server.output.matching(/^ingested/).length,
  failed: server.output.matching(/^ingestion failed/).length,
};
server.kill("SIGTERM");
const status = await server.exited();
await upstream.close();
await Deno.remove(dir, { recursive: true });

const report = {
  duration_s: durationMs / 1000,
  ...counts,
  ingestion,
  server_exit_code: status.code,
  rss_kb: {
    start: start.rssKb,
    steady: steady.rssKb,
    end: end.rssKb,
    max: Math.max(...samples.map((s) => s.rssKb)),
  },
  fds: { start: start.fds, steady: steady.fds, end: end.fds },
  samples,
};
if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
  console.log(`soak: ${report.duration_s} s of mixed traffic, upstream flapping every 3 s`);
  console.log(
    `connections ${counts.connections} (connect failures ${counts.connectFailures}), requests sent ${counts.requestsSent}, answered ${counts.answered} (OK ${counts.ok})`,
  );
  console.log(
    `closed by server ${counts.closedByServer}, resets seen by clients ${counts.resets}, non-reading clients ${counts.nonReaders}`,
  );
  console.log(
    `errors by code: ${
      Object.entries(counts.errors).sort().map(([k, v]) => `${k} ${v}`).join(", ") || "none"
    }`,
  );
  console.log(`ingestions: ${ingestion.succeeded} ok, ${ingestion.failed} failed`);
  console.log(
    `server RSS: start ${(start.rssKb / 1024).toFixed(1)} MiB, steady ${
      (steady.rssKb / 1024).toFixed(1)
    } MiB, end ${(end.rssKb / 1024).toFixed(1)} MiB (end vs steady ${
      pct(end.rssKb, steady.rssKb)
    }), max ${(report.rss_kb.max / 1024).toFixed(1)} MiB`,
  );
  console.log(`open descriptors: start ${start.fds}, steady ${steady.fds}, end ${end.fds}`);
  console.log(`server exit code after SIGTERM: ${status.code}`);
}
