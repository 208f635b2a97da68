/**
 * The floor of the HTTP benchmark: a bare `Deno.serve` (hyper, in Rust) answering every request
 * with one fixed body and content type, so our HTTP session is measured against the fastest HTTP
 * server Deno has, sending the same bytes: no routing, no limits, no timers.
 *
 * `deno run --allow-net --allow-read tests/bench/http_floor.ts --body-file <path> --type <type>` listens
 * on a free port of 127.0.0.1 and prints `http-floor PORT` once it is listening.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { "body-file": { type: "string" }, type: { type: "string" } },
});
if (values["body-file"] === undefined || values.type === undefined) {
  throw new TypeError("Cannot start the floor: expected --body-file <path> --type <type>");
}
const body = await Deno.readFile(values["body-file"]);
const headers = { "content-type": values.type };
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`http-floor ${port}`) },
  () => new Response(body, { headers }),
);
await server.finished;
