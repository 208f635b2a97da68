/**
 * The floors of the HTTP benchmark, answering every request with one fixed body and content
 * type: no routing, no limits, no timers.
 *
 * - `serve` (default): a bare `Deno.serve` (hyper, in Rust), the fastest HTTP server Deno has and
 *   the yardstick.
 * - `socket`: `conn.read`/`conn.write` on `Deno.listen`, one fixed response per blank line read,
 *   as `floor.ts` does for the line protocol: the floor of any HTTP server written on Deno's
 *   socket primitives, as ours is, so the gap to `serve` that belongs to the primitives shows.
 *
 * `deno run --allow-net --allow-read tests/bench/http_floor.ts --body-file <path> --type <type>
 * [--kind serve|socket]` listens on a free port of 127.0.0.1 and prints `http-floor PORT`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { floorBatch, serveConnection } from "./floor.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "body-file": { type: "string" },
    type: { type: "string" },
    kind: { type: "string", default: "serve" },
  },
});
if (values["body-file"] === undefined || values.type === undefined) {
  throw new TypeError("Cannot start the floor: expected --body-file <path> --type <type>");
}
const body = await Deno.readFile(values["body-file"]);
if (values.kind === "socket") {
  const head = new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\ncontent-type: ${values.type}\r\ncontent-length: ${body.length}\r\n` +
      `date: ${new Date().toUTCString()}\r\n\r\n`,
  );
  const response = new Uint8Array(head.length + body.length);
  response.set(head);
  response.set(body, head.length);
  // floor.ts's loop, counting request heads (blank lines) instead of newlines.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(`http-floor ${listener.addr.port}`);
  const batch = floorBatch(response);
  for await (const conn of listener) serveConnection(conn, batch, response.length, countHeads);
} else {
  const headers = { "content-type": values.type };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`http-floor ${port}`) },
    () => new Response(body, { headers }),
  );
  await server.finished;
}

/**
 * The request heads `buffer[0, n)` ends: its blank lines. A head split over two reads is missed;
 * wrk's heads are far smaller than one read.
 */
function countHeads(buffer: Uint8Array, n: number): number {
  let heads = 0;
  for (let i = 3; i < n; i++) {
    if (buffer[i] === 0x0a && buffer[i - 1] === 0x0d && buffer[i - 2] === 0x0a) heads++;
  }
  return heads;
}
