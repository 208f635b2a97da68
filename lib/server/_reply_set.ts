/**
 * The replies to one snapshot, encoded once: every coin in each currency (USD with the snapshot,
 * others on first use), the update events between two snapshots, and the `HISTORY` reply.
 *
 * @module
 */

import type { Answer } from "./market.ts";
import type { Snapshot } from "../wire/coin.ts";
import { pricingFor, type Rates } from "./currency.ts";
import {
  coinObjectJson,
  encodeError,
  encodeOk,
  encodeUpdateEvent,
  v1AllJson,
  v1Number,
} from "../wire/reply.ts";
import type { ErrorCode } from "../wire/error_code.ts";
import type { HistoryRange } from "../wire/history_range.ts";
import type { HistorySeries } from "../storage/repository.ts";
import { ReplyCache } from "./_reply_cache.ts";

/** The replies of one currency for one snapshot. */
export interface CurrencyReplies {
  /** The v2 coin objects as JSON text, by symbol. */
  readonly objects: ReadonlyMap<string, string>;
  readonly v1All: Answer;
  readonly v2All: Answer;
  readonly v1Coin: ReadonlyMap<string, Answer>;
  readonly v2Coin: ReadonlyMap<string, Answer>;
}

/** Every reply to one snapshot, encoded. */
export interface ReplySet {
  readonly snapshot: Snapshot;
  readonly stale: boolean;
  readonly symbols: ReadonlySet<string>;
  /** USD is built with the set; other currencies on first use. */
  readonly byCurrency: Map<string, CurrencyReplies>;
  /** Replies by the exact request bytes, so a repeated request skips parsing entirely. */
  readonly cache: ReplyCache<Answer>;
}

/** A successful reply with `dataJson` as its data. */
export function ok(dataJson: string, command: string): Answer {
  return { bytes: encodeOk(dataJson), close: false, command, error: null };
}

/** An error reply, counted under `command` when given. */
export function errorReply(
  code: ErrorCode,
  message: string,
  command: string | null = null,
): Answer {
  return { bytes: encodeError(code, message), close: false, command, error: code };
}

/** The replies of `set` in currency `code`, or null when there is no rate for it. */
export function buildCurrency(
  set: Pick<ReplySet, "snapshot" | "stale">,
  rates: Rates | null,
  code: string,
) {
  const pricing = pricingFor(rates, code);
  if (pricing === null) return null;
  const { snapshot, stale } = set;
  const v1Coin = new Map<string, Answer>();
  const v2Coin = new Map<string, Answer>();
  const objects = new Map<string, string>();
  for (const coin of snapshot.coins) {
    const object = coinObjectJson(coin, snapshot, { stale, pricing });
    objects.set(coin.symbol, object);
    v1Coin.set(coin.symbol, ok(v1Number(pricing.price(coin)), "MARKET"));
    v2Coin.set(coin.symbol, ok(object, "MARKET"));
  }
  return {
    objects,
    v1All: ok(v1AllJson(snapshot.coins, pricing), "MARKET"),
    v2All: ok(`[${[...objects.values()].join(",")}]`, "MARKET"),
    v1Coin,
    v2Coin,
  };
}

/** The replies to `snapshot`, in USD; other currencies are built on first use. */
export function buildReplySet(snapshot: Snapshot, stale: boolean, rates: Rates | null): ReplySet {
  const set: ReplySet = {
    snapshot,
    stale,
    symbols: new Set(snapshot.coins.map((coin) => coin.symbol)),
    byCurrency: new Map(),
    cache: new ReplyCache(),
  };
  set.byCurrency.set("USD", buildCurrency(set, rates, "USD")!);
  return set;
}

/** Coins whose price, market cap, 24 h change, rank or name differ between two snapshots. */
export function changedCoins(previous: ReplySet, next: ReplySet): Map<string, Uint8Array> {
  const before = new Map(previous.snapshot.coins.map((coin) => [coin.symbol, coin]));
  const objects = next.byCurrency.get("USD")!.objects;
  const events = new Map<string, Uint8Array>();
  for (const coin of next.snapshot.coins) {
    const old = before.get(coin.symbol);
    if (
      old !== undefined && old.priceText === coin.priceText &&
      old.marketCapText === coin.marketCapText && old.change24h === coin.change24h &&
      old.rank === coin.rank && old.name === coin.name
    ) continue;
    events.set(coin.symbol, encodeUpdateEvent(objects.get(coin.symbol)!));
  }
  return events;
}

/** The `HISTORY` reply for one series. */
export function historyReply(symbol: string, range: HistoryRange, series: HistorySeries): Answer {
  const first = series.points[0]?.[1] ?? null;
  const last = series.points.at(-1)?.[1] ?? null;
  const change = first !== null && last !== null && first !== 0
    ? ((last - first) / first) * 100
    : null;
  return ok(
    JSON.stringify({
      symbol,
      range,
      currency: "USD",
      count: series.count,
      points: series.points,
      first,
      last,
      min: series.min,
      max: series.max,
      change_pct: change,
    }),
    "HISTORY",
  );
}

/** The `UNKNOWN_COIN` reply, which says how many coins are served. */
export function unknownCoin(symbol: string, set: ReplySet, command = "MARKET"): Answer {
  return errorReply(
    "UNKNOWN_COIN",
    `No coin with symbol ${symbol}: MARKET ALL lists the ${set.snapshot.coins.length} coins served`,
    command,
  );
}
