/**
 * The benchmark's connection holder for the idle and the watch tests, run by `bench.ts` as its
 * own process so that its work does not share an event loop with the server it measures.
 * Throughput is measured by `loadgen.c` instead: a Deno generator needed more CPU per reply than
 * the floor server at 16 requests in flight, so it measured itself (issue 13). These two tests
 * measure memory and the fan-out of one update, where the holder's speed does not matter.
 *
 * `idle`: opens `--count` connections that send nothing, prints `open <count>`, waits for a line
 * on stdin, then sends one request on every connection and checks every reply. Prints one JSON
 * line of {@linkcode IdleResult}.
 *
 * `watch`: opens `--count` connections that each send `--request` (a WATCH) and read its reply,
 * prints `watching <count>`, then waits for one update event on every connection (at most 60 s)
 * and prints one JSON line of {@linkcode WatchResult} with when the first and the last arrived.
 * With `--ws PATH` the connections are WebSocket clients of the HTTP listener at `--port`: each
 * upgrades at PATH and sends the request as one text message; replies and events are messages.
 *
 * @module
 */

import { parseArgs } from "node:util";

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

/** How a watcher sends its WATCH and reads one reply or event: JSON lines or WebSocket. */
interface Wire {
  /** Connects and sends `request`; the connection is ready to read the reply. */
  open(port: number, request: Uint8Array): Promise<Deno.TcpConn>;
  /** Reads one reply or event into `buffer`; null at end of stream. */
  read(conn: Deno.TcpConn, buffer: Uint8Array): Promise<Uint8Array | null>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

const LINES: Wire = {
  async open(port, request) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, request);
    return conn;
  },
  read: readLine,
};

/** Reads `buffer[0, length)` to at least `want` bytes; false at end of stream. */
async function readAtLeast(conn: Deno.Conn, buffer: Uint8Array, length: number, want: number) {
  while (length < want) {
    if (want > buffer.length) throw new RangeError("Message longer than the read buffer");
    const n = await conn.read(buffer.subarray(length));
    if (n === null) return -1;
    length += n;
  }
  return length;
}

/** JSON lines over WebSocket at `path`: one masked text frame out, one server frame in. */
function webSocketWire(path: string): Wire {
  return {
    async open(port, request) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(
        conn,
        encoder.encode(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
      // The server sends nothing after its 101 until asked, so the head is all there is to read.
      const head = new Uint8Array(1024);
      let length = 0;
      while (!decoder.decode(head.subarray(0, length)).endsWith("\r\n\r\n")) {
        const n = await conn.read(head.subarray(length));
        if (n === null) throw new Error("upgrade failed: connection closed");
        length += n;
      }
      const status = decoder.decode(head.subarray(0, length)).split("\r\n")[0];
      if (!status.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${status}`);
      const payload = request.subarray(0, request.length - 1); // no newline inside a message
      const frame = new Uint8Array(6 + payload.length);
      frame[0] = 0x81;
      frame[1] = 0x80 | payload.length; // requests here are under 126 bytes; mask all zero
      frame.set(payload, 6);
      await writeAll(conn, frame);
      return conn;
    },
    async read(conn, buffer) {
      let length = await readAtLeast(conn, buffer, 0, 2);
      if (length < 0) return null;
      let header = 2;
      let size = buffer[1] & 0x7f;
      if (size === 126) {
        length = await readAtLeast(conn, buffer, length, 4);
        if (length < 0) return null;
        size = (buffer[2] << 8) | buffer[3];
        header = 4;
      }
      length = await readAtLeast(conn, buffer, length, header + size);
      return length < 0 ? null : buffer.subarray(header, header + size);
    },
  };
}

const epochNow = () => performance.timeOrigin + performance.now();

async function runWatch(
  port: number,
  count: number,
  request: Uint8Array,
  wire: Wire,
): Promise<WatchResult> {
  const failures = new Failures();
  const fail = failures.add;
  const buffers = new Map<Deno.TcpConn, Uint8Array>();
  const conns = await openInWaves(count, async () => {
    const conn = await wire.open(port, request);
    const buffer = new Uint8Array(4096);
    const reply = await wire.read(conn, buffer);
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
      const line = await wire.read(conn, buffers.get(conn)!);
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
      count: { type: "string", default: "10000" },
      request: { type: "string" },
      expect: { type: "string" },
      ws: { type: "string" },
    },
  });
  if (values.port === undefined || values.request === undefined) {
    throw new TypeError("Missing --port or --request");
  }
  const request = encoder.encode(values.request + "\n");
  const port = Number(values.port);
  if (positionals[0] === "watch") {
    const wire = values.ws === undefined ? LINES : webSocketWire(values.ws);
    console.log(JSON.stringify(await runWatch(port, Number(values.count), request, wire)));
    Deno.exit(0);
  }
  if (values.expect === undefined) throw new TypeError("Missing --expect");
  const expect = Uint8Array.fromBase64(values.expect);
  if (positionals[0] !== "idle") throw new TypeError("Expected a mode: idle or watch");
  console.log(JSON.stringify(await runIdle(port, Number(values.count), request, expect)));
}
