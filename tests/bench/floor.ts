/**
 * The floor server of the benchmark: the cheapest TCP server Deno allows, as a baseline for the
 * real one. It answers every `\n` it reads with one fixed, pre-encoded line, using the same
 * primitives as the real server (`conn.read` into a reused buffer, one `conn.write` per read,
 * `setNoDelay`) and nothing else: no parsing, no framing state, no limits, no timers.
 *
 * `deno run --allow-net tests/bench/floor.ts --sizes 23,341,3449` listens on one port of
 * 127.0.0.1 per reply size and prints `floor {"23":PORT,...}` once all are listening. The reply
 * of size n is {@linkcode floorLine}(n), a JSON object line of exactly n bytes.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** A reply line of exactly `size` bytes (newline included), valid JSON like the real replies. */
export function floorLine(size: number): Uint8Array {
  const frame = `{"status":"OK","data":""}\n`;
  if (!Number.isInteger(size) || size < frame.length) {
    throw new RangeError(
      `Invalid floor reply size ${size}: expected an integer >= ${frame.length}`,
    );
  }
  const pad = "x".repeat(size - frame.length);
  return new TextEncoder().encode(`{"status":"OK","data":"${pad}"}\n`);
}

/** How many replies one write can carry without building a new buffer. */
const BATCH = 64;

/** What the floor uses of a connection: a `Deno.TcpConn`, or a fake one in `handler_cost.ts`. */
export type FloorConn = Pick<Deno.TcpConn, "read" | "write" | "close" | "setNoDelay">;

/** How many requests `buffer[0, n)` ends: here, its newlines. */
export type CountRequests = (buffer: Uint8Array, n: number) => number;

function countNewlines(buffer: Uint8Array, n: number): number {
  let lines = 0;
  for (let i = 0; i < n; i++) if (buffer[i] === 0x0a) lines++;
  return lines;
}

/**
 * Serves one connection: every `\n` read (or every request `count` finds) is answered with one
 * `size`-byte reply from `batch` (`BATCH` copies of the reply), one write per read, each write
 * awaited before the next read.
 */
export async function serveConnection(
  conn: FloorConn,
  batch: Uint8Array,
  size: number,
  count: CountRequests = countNewlines,
) {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return;
      let lines = count(buffer, n);
      while (lines > 0) {
        const take = Math.min(lines, BATCH);
        const out = batch.subarray(0, take * size);
        for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
        lines -= take;
      }
    }
  } catch {
    // A reset peer ends the connection; the floor has nothing to report.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** {@linkcode BATCH} copies of `line`, for {@linkcode serveConnection}. */
export function floorBatch(line: Uint8Array): Uint8Array {
  const batch = new Uint8Array(line.length * BATCH);
  for (let i = 0; i < BATCH; i++) batch.set(line, i * line.length);
  return batch;
}

async function serve(listener: Deno.TcpListener, size: number): Promise<void> {
  const batch = floorBatch(floorLine(size));
  for await (const conn of listener) serveConnection(conn, batch, size);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { sizes: { type: "string" } } });
  const sizes = (values.sizes ?? "").split(",").filter((s) => s !== "").map(Number);
  if (sizes.length === 0) throw new TypeError("Missing --sizes: expected e.g. --sizes 23,341");
  const ports: Record<string, number> = {};
  const serving: Promise<void>[] = [];
  for (const size of sizes) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    ports[size] = listener.addr.port;
    serving.push(serve(listener, size));
  }
  console.log(`floor ${JSON.stringify(ports)}`);
  await Promise.all(serving);
}
