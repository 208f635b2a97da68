/**
 * One answer from a {@linkcode Market}, the way the server asks for it (through a responder),
 * for tests that want the reply to a single request.
 *
 * @module
 */

import type { Answer, Market } from "../lib/server/market.ts";

/**
 * The market's reply to the request `bytes[start, end)`, from a fresh responder: nothing is
 * remembered from an earlier request. `now` defaults to the market's clock.
 */
export function respondTo(
  market: Market,
  bytes: Uint8Array,
  start: number,
  end: number,
  now: number = market.now(),
): Answer {
  return market.responder()(bytes, start, end, now, false);
}

/** The market's reply to one framed request, as {@linkcode respondTo}. */
export function respond(market: Market, line: Uint8Array, now?: number): Answer {
  return respondTo(market, line, 0, line.length, now);
}
