/**
 * A local CoinGecko for the long tail's tests: `/coins/list` (the generated ~17,000 coins),
 * `/coins/markets` (the recorded top 100, or the coins named by `ids`), `/exchange_rates`. It
 * counts every request by path and keeps the ids asked for, and can answer `429` with a
 * `Retry-After`.
 *
 * @module
 */

import { coinList, type ListedCoin, marketRecordJson } from "./coin_list.ts";
import { json } from "./fake_upstream.ts";

/** A running fake. */
export interface FakeLongTailUpstream extends AsyncDisposable {
  /** Base URL including `/api/v3`. */
  readonly baseUrl: string;
  /** The listed coins. */
  readonly list: readonly ListedCoin[];
  /** Requests received, by path below `/api/v3` (e.g. `/coins/markets`). */
  readonly counts: Map<string, number>;
  /** The `ids` of each `/coins/markets?ids=` request, in order. */
  readonly idRequests: string[][];
  /** When set, every request is answered `429` with this `Retry-After`. */
  rateLimited: string | null;
  /** Moves the prices of coins asked for by id: each step is 1%. */
  generation: number;
  /** Requests of a path received so far. */
  count(path: string): number;
  close(): Promise<void>;
}

const TOP = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
const RATES = new URL("../testdata/coingecko_exchange_rates_2021.json", import.meta.url);

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeLongTailUpstream(
  options: { count?: number } = {},
): Promise<FakeLongTailUpstream> {
  const list = await coinList(options.count);
  const byId = new Map(list.map((coin) => [coin.id, coin]));
  const listJson = JSON.stringify(list);
  const top = JSON.parse(await Deno.readTextFile(TOP)) as unknown[];
  const ratesText = await Deno.readTextFile(RATES);
  const counts = new Map<string, number>();
  const idRequests: string[][] = [];

  const close = () => server.shutdown();
  const fake: FakeLongTailUpstream = {
    get baseUrl() {
      return `http://127.0.0.1:${server.addr.port}/api/v3`;
    },
    list,
    counts,
    idRequests,
    rateLimited: null,
    generation: 0,
    count: (path) => counts.get(path) ?? 0,
    close,
    [Symbol.asyncDispose]: close,
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/api\/v3/, "");
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (fake.rateLimited !== null) {
      return json('{"status":{"error_code":429,"error_message":"Rate limited"}}', 429, {
        "retry-after": fake.rateLimited,
      });
    }
    if (path === "/coins/list") return json(listJson);
    if (path === "/exchange_rates") return json(ratesText);
    if (path !== "/coins/markets") return json('{"error":"Not Found"}', 404);
    const ids = url.searchParams.get("ids");
    if (ids === null) {
      const perPage = Number(url.searchParams.get("per_page") ?? 100);
      return json(JSON.stringify(top.slice(0, perPage)));
    }
    const asked = ids.split(",");
    idRequests.push(asked);
    const now = new Date().toISOString();
    const records = asked.flatMap((id) => {
      const coin = byId.get(id);
      return coin === undefined ? [] : [marketRecordJson(coin, now, fake.generation)];
    });
    return json(`[${records.join(",")}]`);
  });

  return fake;
}
