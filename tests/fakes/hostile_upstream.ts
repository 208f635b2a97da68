/**
 * A local CoinPaprika (`/v1/tickers`) whose next answer can be too large to hold: a 200 MiB list
 * of valid tickers, a gzip bomb, or a valid list just under a given size. It also answers
 * CoinGecko's `/api/v3/exchange_rates` with the recorded rates, so a server pointed at it with
 * `--providers coinpaprika` has nothing else to fail on. Every body is made while the client
 * reads, so the fake itself holds little, and it records how far each answer got.
 *
 * Its next coin list can also carry records that fail validation (a symbol with a bidirectional
 * override), on every provider's coin list path: CoinPaprika's tickers, CoinGecko's
 * `/api/v3/coins/markets` and CoinMarketCap's `/v1/cryptocurrency/listings/latest` (any key).
 *
 * @module
 */

import zlib from "node:zlib";
import { CMC_FIXTURE, PAPRIKA_FIXTURE } from "./fake_providers.ts";

/** What a `/v1/tickers` request is answered with. */
export type TickersAnswer =
  /** {@linkcode OK_TICKERS} valid tickers (about 14 KB). */
  | "ok"
  /** 200 MiB of valid tickers, one JSON list, no `content-length`. */
  | "huge"
  /**
   * A gzip bomb: `[` and 4 GiB of spaces, `Content-Encoding: gzip`, 1,038 bytes on the wire per
   * MiB (about 4 MiB in all). It is served as an endless stream without the gzip trailer: no
   * reader under a cap gets that far.
   */
  | "bomb"
  /** Valid tickers filling the `underBytes` given to {@linkcode startHostileUpstream}. */
  | "under"
  /** {@linkcode OK_TICKERS} records, the third with the symbol {@linkcode BAD_SYMBOL}; any provider. */
  | "bad_symbol"
  /** {@linkcode OK_TICKERS} records, {@linkcode MOSTLY_BAD} of them with {@linkcode BAD_SYMBOL}; any provider. */
  | "mostly_bad";

/** A symbol no provider parser accepts: U+202E reverses the text after it on a terminal. */
export const BAD_SYMBOL = "\u202eADA";
/** How many records of a `"mostly_bad"` answer are invalid: more than half. */
export const MOSTLY_BAD = 11;

/** Records in an `"ok"` answer. */
export const OK_TICKERS = 20;
/** The size of the `"huge"` answer. */
export const HUGE_BYTES = 200 * 1024 * 1024;
/** How much the `"bomb"` answer expands to. */
export const BOMB_BYTES = 4 * 1024 * 1024 * 1024;

/** How one tickers answer went. */
export interface AnswerRecord {
  answer: TickersAnswer;
  /** Bytes of the body made (before compression) when it ended. */
  produced: number;
  /** Bytes handed to the HTTP layer (after compression). */
  wire: number;
  /** The client gave up on the body before its end. */
  cancelled: boolean;
}

/** A running hostile upstream. */
export interface HostileUpstream extends AsyncDisposable {
  /** Root URL: `--coinpaprika-url` is this, `--api-url` is this plus `/api/v3`. */
  readonly url: string;
  /**
   * What the next coin list request gets (`"huge"`, `"bomb"` and `"under"` only on `/v1/tickers`;
   * the other paths answer those with `"ok"`). A hostile answer (anything but `"ok"`) is served
   * once; the requests after it get `"ok"` again.
   */
  next: TickersAnswer;
  /** Resolves with the record of the next answer of this kind once its body has ended. */
  answered(answer: TickersAnswer): Promise<AnswerRecord>;
  close(): Promise<void>;
}

/** Options of {@linkcode startHostileUpstream}. */
export interface HostileUpstreamOptions {
  /** The size the `"under"` answer stays within; defaults to 1 MiB. */
  underBytes?: number;
}

const enc = new TextEncoder();
const RATES = new URL("../testdata/coingecko_exchange_rates_2021.json", import.meta.url);
const MARKETS = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);

/** Which records of a coin list answer carry {@linkcode BAD_SYMBOL}. */
function isBad(answer: TickersAnswer, i: number): boolean {
  return (answer === "bad_symbol" && i === 2) || (answer === "mostly_bad" && i < MOSTLY_BAD);
}

/** {@linkcode OK_TICKERS} records made by `record`, bad ones as `answer` says. */
function records<T>(answer: TickersAnswer, record: (i: number, symbol: string | null) => T): T[] {
  return Array.from(
    { length: OK_TICKERS },
    (_, i) => record(i, isBad(answer, i) ? BAD_SYMBOL : null),
  );
}

/** CoinGecko's `/coins/markets` and CoinMarketCap's listing, from their recorded first coin. */
async function otherProviders(): Promise<{
  markets: (answer: TickersAnswer) => string;
  listings: (answer: TickersAnswer) => string;
}> {
  const gecko = JSON.parse(await Deno.readTextFile(MARKETS))[0];
  const cmc = JSON.parse(await Deno.readTextFile(CMC_FIXTURE));
  return {
    markets: (answer) =>
      JSON.stringify(records(answer, (i, bad) => ({
        ...gecko,
        id: `coin-${i}`,
        symbol: bad ?? `c${i}`,
        name: `Coin ${i}`,
        market_cap_rank: i + 1,
      }))),
    listings: (answer) =>
      JSON.stringify({
        status: cmc.status,
        data: records(answer, (i, bad) => ({
          ...cmc.data[0],
          id: i + 1,
          symbol: bad ?? `C${i}`,
          name: `Coin ${i}`,
          slug: `coin-${i}`,
          cmc_rank: i + 1,
        })),
      }),
  };
}

/** Starts a hostile upstream on a free port of 127.0.0.1. */
export async function startHostileUpstream(
  options: HostileUpstreamOptions = {},
): Promise<HostileUpstream> {
  const template = JSON.stringify(JSON.parse(await Deno.readTextFile(PAPRIKA_FIXTURE))[0]);
  const ticker = (i: number) =>
    template
      .replace('"id":"btc-bitcoin"', `"id":"c${i}-coin-${i}"`)
      .replace('"name":"Bitcoin"', `"name":"Coin ${i}"`)
      .replace('"symbol":"BTC"', `"symbol":"C${i}"`)
      .replace('"rank":1,', `"rank":${i + 1},`);
  const tickerList = (answer: TickersAnswer) =>
    `[${
      records(answer, (i, bad) =>
        bad === null ? ticker(i) : ticker(i).replace(`"symbol":"C${i}"`, `"symbol":"${bad}"`)).join(
          ",",
        )
    }]`;
  const okBody = tickerList("ok");
  const { markets, listings } = await otherProviders();
  const underBody = fill(ticker, options.underBytes ?? 1024 * 1024);
  // One block of distinct tickers, repeated: the huge list is valid JSON made as it is read.
  const block = enc.encode(Array.from({ length: 96 }, (_, i) => ticker(i)).join(",") + ",");
  const bomb = await bombParts();
  const rates = await Deno.readTextFile(RATES);
  const waiters: { answer: TickersAnswer; resolve: (record: AnswerRecord) => void }[] = [];
  const state = { next: "ok" as TickersAnswer };

  const finish = (record: AnswerRecord) => {
    const i = waiters.findIndex((w) => w.answer === record.answer);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(record);
  };

  /** A body made chunk by chunk as the client reads, recorded when it ends or is cancelled. */
  const streamed = (answer: TickersAnswer, chunks: () => Uint8Array | null, size: number) => {
    const record: AnswerRecord = { answer, produced: 0, wire: 0, cancelled: false };
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks();
        if (chunk === null) {
          controller.close();
          finish(record);
          return;
        }
        record.wire += chunk.length;
        record.produced = Math.min(
          size,
          record.produced + (answer === "bomb" ? MIB : chunk.length),
        );
        controller.enqueue(chunk);
      },
      cancel() {
        record.cancelled = true;
        finish(record);
      },
    }, { highWaterMark: 1 });
  };

  const tickers = (answer: TickersAnswer): Response => {
    const json = { "content-type": "application/json" };
    if (answer === "huge") {
      let sent = -1;
      const body = streamed(answer, () => {
        if (sent === -1) return (sent = 1, enc.encode("["));
        if (sent >= HUGE_BYTES) return null;
        const last = sent + block.length >= HUGE_BYTES;
        sent += block.length;
        // The last block ends the list instead of its trailing comma.
        return last ? enc.encode(new TextDecoder().decode(block).slice(0, -1) + "]") : block;
      }, HUGE_BYTES);
      return new Response(body, { headers: json });
    }
    if (answer === "bomb") {
      let mib = -1;
      const body = streamed(answer, () => {
        if (mib === -1) return (mib = 1, bomb.head);
        return ++mib > BOMB_BYTES / MIB ? null : bomb.mib;
      }, BOMB_BYTES);
      return new Response(body, { headers: { ...json, "content-encoding": "gzip" } });
    }
    const text = answer === "under" ? underBody : answer === "ok" ? okBody : tickerList(answer);
    let done = false;
    const body = streamed(answer, () => done ? null : (done = true, enc.encode(text)), text.length);
    return new Response(body, { headers: json });
  };

  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/api/v3/exchange_rates") {
      return new Response(rates, { headers: { "content-type": "application/json" } });
    }
    const coinList = pathname === "/api/v3/coins/markets"
      ? markets
      : pathname === "/v1/cryptocurrency/listings/latest"
      ? listings
      : null;
    if (pathname !== "/v1/tickers" && coinList === null) {
      return new Response(`{"error":"Not Found"}`, { status: 404 });
    }
    const answer = state.next;
    state.next = "ok";
    if (coinList === null) return tickers(answer);
    const kind = answer === "bad_symbol" || answer === "mostly_bad" ? answer : "ok";
    return new Response(coinList(kind), { headers: { "content-type": "application/json" } });
  });

  let closing: Promise<void> | null = null;
  const close = () => closing ??= server.shutdown();
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    get next() {
      return state.next;
    },
    set next(answer: TickersAnswer) {
      state.next = answer;
    },
    answered(answer) {
      const { promise, resolve } = Promise.withResolvers<AnswerRecord>();
      waiters.push({ answer, resolve });
      return promise;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

const MIB = 1024 * 1024;

/** Valid tickers, as many as fit in `size` bytes of JSON. */
function fill(ticker: (i: number) => string, size: number): string {
  const parts: string[] = [];
  let length = 2;
  for (let i = 0;; i++) {
    const next = ticker(i);
    if (length + next.length + (i > 0 ? 1 : 0) > size) break;
    length += next.length + (i > 0 ? 1 : 0);
    parts.push(next);
  }
  return `[${parts.join(",")}]`;
}

/**
 * The gzip bomb in two pieces: `head` (the gzip header, `[` and a MiB of spaces) and `mib`, a
 * compressed MiB of spaces. Each piece ends in a full flush, which byte-aligns the output and leaves the
 * compressor in the same state (a window of spaces), so `mib` can follow itself any number of
 * times: gigabytes of body cost one MiB of compression.
 */
async function bombParts(): Promise<{ head: Uint8Array; mib: Uint8Array }> {
  const gzip = zlib.createGzip({ level: 9 });
  const step = (data: Uint8Array) =>
    new Promise<Uint8Array>((resolve) => {
      const parts: Uint8Array[] = [];
      const collect = (part: Uint8Array) => parts.push(part);
      gzip.on("data", collect);
      gzip.write(data);
      gzip.flush(zlib.constants.Z_FULL_FLUSH, () => {
        gzip.off("data", collect);
        const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
        let offset = 0;
        for (const part of parts) {
          out.set(part, offset);
          offset += part.length;
        }
        resolve(out);
      });
    });
  const spaces = new Uint8Array(MIB).fill(0x20);
  const start = await step(enc.encode("["));
  // The first MiB fills the window with spaces; every MiB after it compresses alike.
  const first = await step(spaces);
  const mib = await step(spaces);
  gzip.destroy();
  const head = new Uint8Array(start.length + first.length);
  head.set(start);
  head.set(first, start.length);
  return { head, mib };
}
