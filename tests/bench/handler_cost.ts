/**
 * The JavaScript a connection handler spends per read, without the kernel: the server's handler
 * (`PriceServer`) and the floor's (`floor.ts`) each serve 50 fake connections whose `read` hands
 * over one `MARKET BTC` v2 request and whose `write` settles at once. What is left is the
 * handlers' own code and their promises, measured in one process, so it moves far less between
 * runs than the socket benchmark (see "Run-to-run spread" in BENCHMARKS.md). Every reply's length
 * is checked, and a sample of replies byte for byte.
 *
 * `deno run -A tests/bench/handler_cost.ts [--reads N] [--rounds N]` prints the nanoseconds per
 * read of each round and their medians.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Market } from "../../lib/server/market.ts";
import { PriceServer } from "../../lib/server/price_server.ts";
import type { Conn, Listener } from "../../lib/net/conn.ts";
import { equalsAt } from "../../lib/util/equals_at.ts";
import { fixtureSnapshot } from "../helpers.ts";
import { median } from "./_stats.ts";
import { floorBatch, serveConnection } from "./floor.ts";

const REQUEST = new TextEncoder().encode('{"status":"OK","data":"MARKET BTC","v":2}\n');
const CONNECTIONS = 50;

/** The median nanoseconds per read of each handler, and the rounds behind them. */
export interface HandlerCost {
  floorNs: number;
  serverNs: number;
  rounds: { floorNs: number; serverNs: number }[];
}

/** Fake connections that each read `reads` requests, then wait for ever; replies are checked. */
function fakeConnections(reads: number, reply: Uint8Array) {
  let finished = 0;
  const all = Promise.withResolvers<void>();
  const wrong: string[] = [];
  const conns = Array.from({ length: CONNECTIONS }, (_, i) => {
    let left = reads;
    let writes = 0;
    const conn: Conn & { setNoDelay(): void } = {
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 10_000 + i },
      read(buffer: Uint8Array): Promise<number | null> {
        if (left-- === 0) {
          if (++finished === CONNECTIONS) all.resolve();
          return new Promise(() => {});
        }
        buffer.set(REQUEST);
        return Promise.resolve(REQUEST.length);
      },
      write(bytes: Uint8Array): Promise<number> {
        // Every reply's length is checked, and the bytes of the first and every 1024th: a full
        // comparison per write would cost more than the handlers measured.
        const check = (writes++ & 1023) === 0;
        if (bytes.length !== reply.length || (check && !equalsAt(bytes, 0, reply))) {
          wrong.push(new TextDecoder().decode(bytes.subarray(0, 80)));
        }
        return Promise.resolve(bytes.length);
      },
      close() {},
      closeWrite: () => Promise.resolve(),
      setNoDelay() {},
    };
    return conn;
  });
  return { conns, done: all.promise, wrong };
}

/** Measures both handlers, `rounds` times each, alternating. */
export async function measureHandlers(reads = 20_000, rounds = 5): Promise<HandlerCost> {
  const market = new Market({ staleAfterMs: 3_600_000 });
  market.update(await fixtureSnapshot(10, new Date().toISOString()));
  const reply = market.responder()(REQUEST, 0, REQUEST.length - 1, market.now(), false).bytes;
  const perRead = (ms: number) => ms * 1e6 / (CONNECTIONS * reads);
  const results: { floorNs: number; serverNs: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    const floor = fakeConnections(reads, reply);
    const batch = floorBatch(reply);
    let start = performance.now();
    for (const conn of floor.conns) serveConnection(conn, batch, reply.length);
    await floor.done;
    const floorNs = perRead(performance.now() - start);

    const server = fakeConnections(reads, reply);
    let accepted = 0;
    const listener: Listener = {
      addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
      accept: () =>
        accepted < CONNECTIONS ? Promise.resolve(server.conns[accepted++]) : new Promise(() => {}),
      close() {},
    };
    const priceServer = new PriceServer(listener, { market, log: () => {} });
    start = performance.now();
    priceServer.serve();
    await server.done;
    const serverNs = perRead(performance.now() - start);
    const wrong = [...floor.wrong, ...server.wrong];
    if (wrong.length > 0) {
      throw new Error(`Wrong reply ${JSON.stringify(wrong[0])}: expected the MARKET BTC v2 reply`);
    }
    results.push({ floorNs, serverNs });
  }
  return {
    floorNs: median(results.map((r) => r.floorNs)),
    serverNs: median(results.map((r) => r.serverNs)),
    rounds: results,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      reads: { type: "string", default: "20000" },
      rounds: { type: "string", default: "5" },
    },
  });
  const cost = await measureHandlers(Number(values.reads), Number(values.rounds));
  for (const r of cost.rounds) {
    console.log(`round: floor ${r.floorNs.toFixed(0)} ns/read, server ${r.serverNs.toFixed(0)}`);
  }
  console.log(
    `median: floor ${cost.floorNs.toFixed(0)} ns/read, server ${cost.serverNs.toFixed(0)} ns/read`,
  );
  // The servers' handlers wait on reads that never settle: nothing else ends the process.
  Deno.exit(0);
}
