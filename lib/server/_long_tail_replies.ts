/**
 * The market's answers about coins outside the snapshot: `MARKET` and `WATCH` of a coin of the
 * directory (at once when it is tracked, later when it is being fetched) and `SEARCH`.
 *
 * @module
 */

import type { Answer } from "./market.ts";
import type { LongTail, Lookup, Tracked } from "./long_tail.ts";
import type { Pricing } from "../wire/reply.ts";
import { coinObjectJson, encodeError, encodeOk, v1Number } from "../wire/reply.ts";
import type { ErrorCode } from "../wire/error_code.ts";

/** What the replies need from the market. */
export interface ReplyContext {
  readonly longTail: LongTail;
  /** The client's address, for the per-address bound. */
  readonly address: string;
  readonly staleAfterMs: number;
  readonly now: number;
}

const EMPTY = new Uint8Array(0);

function ok(dataJson: string, command: string): Answer {
  return { bytes: encodeOk(dataJson), close: false, command, error: null };
}

function failed(code: ErrorCode, message: string, command: string): Answer {
  return { bytes: encodeError(code, message), close: false, command, error: code };
}

/** A tracked coin as a v2 coin object (with its `id`). */
function objectOf(tracked: Tracked, pricing: Pricing, context: ReplyContext): string {
  const stale = context.now - Date.parse(tracked.fetchedAt) > context.staleAfterMs;
  const snapshot = { coins: [tracked.coin], fetchedAt: tracked.fetchedAt, source: tracked.source };
  return coinObjectJson(tracked.coin, snapshot, { stale, pricing });
}

/** The answer for a lookup that found nothing to send yet: the reason it cannot be fetched. */
function notFetched(key: string, reason: string, command: string): Answer {
  return failed("NO_DATA", `Cannot fetch ${key} now: ${reason}`, command);
}

/**
 * `MARKET key` for a coin outside the snapshot, or null when the directory does not list it
 * (the caller answers `UNKNOWN_COIN` then, with no upstream call).
 */
export function longTailMarket(
  request: { symbol: string; version: 1 | 2 },
  pricing: Pricing,
  context: ReplyContext,
): Answer | null {
  const reply = (tracked: Tracked) =>
    ok(
      request.version === 2
        ? objectOf(tracked, pricing, context)
        : v1Number(pricing.price(tracked.coin)),
      "MARKET",
    );
  const lookup = context.longTail.lookup(request.symbol, context.address);
  return answerOf(lookup, request.symbol, "MARKET", reply);
}

function answerOf(
  lookup: Lookup,
  key: string,
  command: string,
  reply: (tracked: Tracked) => Answer,
): Answer | null {
  switch (lookup.kind) {
    case "unknown":
      return null;
    case "refused":
      return failed("BUSY", lookup.message, command);
    case "coin":
      return reply(lookup.tracked);
    case "pending": {
      const later = lookup.promise.then((outcome) =>
        typeof outcome === "string" ? notFetched(key, outcome, command) : reply(outcome)
      );
      return { bytes: EMPTY, close: false, command, error: null, later };
    }
  }
}

/**
 * `WATCH` of symbols some of which the snapshot does not hold: `objectOf` gives a snapshot coin's
 * object. Null when one is not in the directory either (named in `unknown`).
 */
export function longTailWatch(
  symbols: readonly string[],
  snapshotObject: (symbol: string) => string | undefined,
  pricing: Pricing,
  context: ReplyContext,
): Answer | { unknown: string[] } {
  const parts: (string | Promise<string | Answer>)[] = [];
  const unknown: string[] = [];
  for (const symbol of symbols) {
    const object = snapshotObject(symbol);
    if (object !== undefined) {
      parts.push(object);
      continue;
    }
    const lookup = context.longTail.lookup(symbol, context.address);
    if (lookup.kind === "unknown") unknown.push(symbol);
    else if (lookup.kind === "refused") return failed("BUSY", lookup.message, "WATCH");
    else if (lookup.kind === "coin") parts.push(objectOf(lookup.tracked, pricing, context));
    else {
      parts.push(
        lookup.promise.then((outcome) =>
          typeof outcome === "string"
            ? notFetched(symbol, outcome, "WATCH")
            : objectOf(outcome, pricing, context)
        ),
      );
    }
  }
  if (unknown.length > 0) return { unknown };
  const watch = { add: symbols };
  if (parts.every((part) => typeof part === "string")) {
    return { ...ok(`[${parts.join(",")}]`, "WATCH"), watch };
  }
  const later = Promise.all(parts).then((done): Answer => {
    const error = done.find((part) => typeof part !== "string");
    if (error !== undefined) return error as Answer;
    return { ...ok(`[${done.join(",")}]`, "WATCH"), watch };
  });
  return { bytes: EMPTY, close: false, command: "WATCH", error: null, later };
}

/** `SEARCH query`: the directory's matches, `[{id, symbol, name}]`. */
export function searchAnswer(longTail: LongTail, query: string): Answer {
  const found = longTail.search(query).map(({ id, symbol, name }) => ({ id, symbol, name }));
  return ok(JSON.stringify(found), "SEARCH");
}
