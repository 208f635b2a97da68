/**
 * The warning under coins the server could not refresh recently.
 *
 * @module
 */

import type { CoinView } from "../wire/coin_view.ts";
import { ANSI, paint } from "./ansi.ts";
import { formatAge } from "./format_time.ts";
import { safeText as clean } from "./safe_text.ts";
import { wrap } from "./wrap.ts";

/**
 * `Prices may be out of date: ...` wrapped to `width` when one of `coins` is stale, in yellow
 * with `color`; undefined when none is.
 */
export function staleNote(
  coins: readonly CoinView[],
  now: Date,
  color: boolean,
  width?: number,
): string | undefined {
  const stale = coins.find((c) => c.stale);
  if (!stale) return undefined;
  const text = `Prices may be out of date: the server last fetched them ${
    formatAge(stale.fetched_at, now)
  } from ${clean(stale.source)}`;
  return wrap(text, width).map((line) => paint(line, ANSI.yellow, color)).join("\n");
}
