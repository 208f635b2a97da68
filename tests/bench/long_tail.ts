/**
 * Benchmarks of the long tail, in process: SEARCH on the generated directory of ~17,000 coins
 * (median and 99th percentile of one search over a mix of queries), and the time to index the
 * directory when it loads. `deno run -A tests/bench/long_tail.ts`.
 *
 * @module
 */

import { CoinDirectory } from "../../lib/server/coin_directory.ts";
import { directoryEntry } from "../../lib/ingest/coingecko_directory.ts";
import { coinList } from "../fakes/coin_list.ts";

const QUERIES = ["pep", "btc", "x", "zen", "ko", "dogwif", "protocol", "nope-none", "a", "bonk"];
const ROUNDS = 20_000;

const entries = (await coinList()).map(directoryEntry).filter((e) => e !== null);
const t0 = performance.now();
const directory = new CoinDirectory(entries);
const indexMs = performance.now() - t0;

const times: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const start = performance.now();
  directory.search(QUERIES[i % QUERIES.length]);
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
console.log(
  `directory of ${directory.size} coins indexed in ${indexMs.toFixed(1)} ms; ` +
    `SEARCH median ${(at(0.5) * 1000).toFixed(1)} µs, p99 ${(at(0.99) * 1000).toFixed(1)} µs, ` +
    `max ${(at(1) * 1000).toFixed(1)} µs over ${ROUNDS} searches`,
);
