/**
 * `price` as text: one coin as aligned `label  value` lines.
 *
 * @module
 */

import type { CoinView } from "../wire/coin_view.ts";
import type { FormatOptions } from "./format_options.ts";
import { changeColor, paint } from "./ansi.ts";
import { DASH } from "./dash.ts";
import { fieldLines, titleLines } from "./field_lines.ts";
import { formatChange } from "./format_change.ts";
import { formatMoney } from "./format_money.ts";
import { formatAge } from "./format_time.ts";
import { safeText as clean } from "./safe_text.ts";
import { staleNote } from "./stale_note.ts";

/** `Bitcoin (BTC)`, or `XRP` alone when the name is the symbol. */
function coinTitle(coin: CoinView): string {
  const [name, symbol] = [clean(coin.name), clean(coin.symbol)];
  return name.toUpperCase() === symbol.toUpperCase() ? name : `${name} (${symbol})`;
}

/** Renders one coin as a few aligned `label  value` lines, without a trailing newline. */
export function formatCoin(coin: CoinView, options: FormatOptions): string {
  const { color } = options;
  const now = options.now ?? new Date();
  const currency = clean(coin.currency);
  const fields: [string, string][] = [
    ["Price", formatMoney(coin.price, currency, options)],
    ["24h change", paint(formatChange(coin.change_24h), changeColor(coin.change_24h), color)],
    // A coin outside the provider's ranking (fetched on demand) has rank 0.
    ["Rank", coin.rank > 0 ? `#${coin.rank}` : DASH],
    [
      "Market cap",
      coin.market_cap === null
        ? DASH
        : formatMoney(coin.market_cap, currency, { unit: options.unit, whole: true }),
    ],
    ["Updated", formatAge(coin.updated_at, now)],
    ["Source", `${clean(coin.source)}, fetched ${formatAge(coin.fetched_at, now)}`],
  ];
  const lines = [
    ...titleLines(coinTitle(coin), options),
    ...fieldLines(fields, options),
  ];
  const stale = staleNote([coin], now, color, options.width);
  if (stale) lines.push(stale);
  return lines.join("\n");
}
