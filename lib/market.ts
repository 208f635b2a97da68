/**
 * The server's answers: the current snapshot with every reply to it encoded once, when the
 * snapshot arrives, so that answering a look-up does no `JSON.stringify` and no allocation.
 *
 * @module
 */

import type { Snapshot } from "./coin.ts";
import {
  coinObjectJson,
  encodeError,
  encodeOk,
  type ErrorCode,
  parseRequest,
  type Request,
  type RequestError,
  sample,
  v1AllJson,
  v1Number,
} from "./protocol.ts";

/** What to send for one request. */
export interface Reply {
  /** The reply line, newline included. */
  readonly bytes: Uint8Array;
  /** Close the connection once this reply is written. */
  readonly close: boolean;
  /** The command, for the server's counters (`MARKET`, `CLOSE`), or null for a bad request. */
  readonly command: string | null;
  /** The error code, when the reply is an error. */
  readonly error: ErrorCode | null;
}

/** Every reply to one snapshot, encoded. */
interface ReplySet {
  readonly snapshot: Snapshot;
  readonly stale: boolean;
  readonly v1All: Reply;
  readonly v2All: Reply;
  readonly v1Coin: ReadonlyMap<string, Reply>;
  readonly v2Coin: ReadonlyMap<string, Reply>;
  /** Replies by the exact request text, so a repeated request skips parsing entirely. */
  readonly cache: Map<string, Reply>;
}

/** How many distinct request texts a snapshot remembers; past it, requests are parsed. */
const CACHE_LIMIT = 1024;
/** Requests longer than this are never cached: common requests are far shorter. */
const CACHEABLE_BYTES = 200;

function ok(dataJson: string, command: string): Reply {
  return { bytes: encodeOk(dataJson), close: false, command, error: null };
}

function errorReply(code: ErrorCode, message: string, command: string | null = null): Reply {
  return { bytes: encodeError(code, message), close: false, command, error: code };
}

function buildReplySet(snapshot: Snapshot, stale: boolean): ReplySet {
  const v1Coin = new Map<string, Reply>();
  const v2Coin = new Map<string, Reply>();
  const objects: string[] = [];
  for (const coin of snapshot.coins) {
    const object = coinObjectJson(coin, snapshot, { stale });
    objects.push(object);
    v1Coin.set(coin.symbol, ok(v1Number(coin.priceText), "MARKET"));
    v2Coin.set(coin.symbol, ok(object, "MARKET"));
  }
  return {
    snapshot,
    stale,
    v1All: ok(v1AllJson(snapshot.coins), "MARKET"),
    v2All: ok(`[${objects.join(",")}]`, "MARKET"),
    v1Coin,
    v2Coin,
    cache: new Map(),
  };
}

const CLOSE_REPLY: Reply = { ...ok('"BYE"', "CLOSE"), close: true };
const NO_DATA: Reply = errorReply(
  "NO_DATA",
  "No prices yet: the first ingestion has not succeeded, try again shortly",
  "MARKET",
);

/** Options of a {@linkcode Market}. */
export interface MarketOptions {
  /** Age in milliseconds past which v2 coin objects say `"stale": true`. */
  staleAfterMs: number;
  /** The clock, injected for tests. */
  now?: () => number;
}

/** Holds the current snapshot and answers requests about it. */
export class Market {
  #fresh: ReplySet | null = null;
  #stale: ReplySet | null = null;
  #fetchedAtMs = 0;
  readonly #staleAfterMs: number;
  readonly #now: () => number;

  /** Creates an empty market; it answers `NO_DATA` until the first {@linkcode update}. */
  constructor(options: MarketOptions) {
    if (!(options.staleAfterMs > 0)) {
      throw new RangeError(
        `Invalid staleAfterMs ${options.staleAfterMs}: expected a positive number`,
      );
    }
    this.#staleAfterMs = options.staleAfterMs;
    this.#now = options.now ?? Date.now;
  }

  /** The snapshot being served, or null before the first. */
  get snapshot(): Snapshot | null {
    return this.#fresh?.snapshot ?? null;
  }

  /** Whether the snapshot being served is older than the staleness limit. */
  get isStale(): boolean {
    return this.#fresh !== null && this.#now() - this.#fetchedAtMs > this.#staleAfterMs;
  }

  /** Serves a new snapshot: every reply is encoded here, then swapped in at once. */
  update(snapshot: Snapshot): void {
    const fetchedAtMs = Date.parse(snapshot.fetchedAt);
    if (Number.isNaN(fetchedAtMs)) {
      throw new TypeError(
        `Invalid snapshot fetchedAt ${sample(snapshot.fetchedAt)}: expected ISO-8601`,
      );
    }
    this.#fresh = buildReplySet(snapshot, false);
    this.#stale = null;
    this.#fetchedAtMs = fetchedAtMs;
  }

  #current(): ReplySet | null {
    if (this.#fresh === null || !this.isStale) return this.#fresh;
    return this.#stale ??= buildReplySet(this.#fresh.snapshot, true);
  }

  /** The reply to one framed request. Never throws. */
  respond(line: Uint8Array): Reply {
    const set = this.#current();
    let key: string | null = null;
    if (set !== null && line.length <= CACHEABLE_BYTES) {
      key = String.fromCharCode.apply(null, line as unknown as number[]);
      const hit = set.cache.get(key);
      if (hit !== undefined) return hit;
    }
    const reply = this.#answer(parseRequest(line), set);
    if (key !== null && reply.error === null && set!.cache.size < CACHE_LIMIT) {
      set!.cache.set(key, reply);
    }
    return reply;
  }

  #answer(request: Request | RequestError, set: ReplySet | null): Reply {
    switch (request.kind) {
      case "error":
        return errorReply(request.code, request.message);
      case "close":
        return CLOSE_REPLY;
      case "market_all":
        if (set === null) return NO_DATA;
        return request.version === 2 ? set.v2All : set.v1All;
      case "market_coin": {
        if (set === null) return NO_DATA;
        const reply = (request.version === 2 ? set.v2Coin : set.v1Coin).get(request.symbol);
        return reply ??
          errorReply(
            "UNKNOWN_COIN",
            `No coin with symbol ${request.symbol}: MARKET ALL lists the ${set.snapshot.coins.length} coins served`,
            "MARKET",
          );
      }
    }
  }
}
