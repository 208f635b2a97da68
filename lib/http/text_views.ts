/**
 * The plain-text views for curl, wget and httpie (as rate.sx does): `/` is the client's `list`
 * table, `/BTC` its `price` view, `?currency=EUR` converted. They are made from the JSON API's
 * bodies with the client's own formatting (lib/text/), without colour, and with every upstream
 * text made safe there, so no control byte of a coin name reaches a terminal.
 *
 * @module
 */

import { isCoinView } from "../wire/coin_view.ts";
import { formatTable } from "../text/format_table.ts";
import { formatCoin } from "../text/format_coin.ts";
import { safeText } from "../text/safe_text.ts";
import type { ApiResult, MarketApi } from "./market_api.ts";
import { Representation } from "./representation.ts";

const TEXT_TYPE = "Content-Type: text/plain; charset=utf-8\r\nVary: Accept\r\n";
const decoder = new TextDecoder();

/** Renders the text views from a {@linkcode MarketApi}. */
export class TextViews {
  readonly #api: MarketApi;

  /** @param api the API whose bodies the views show */
  constructor(api: MarketApi) {
    this.#api = api;
  }

  /** The `list` table (no symbol) or the `price` view of `symbol`. */
  answer(symbol: string | undefined, query: URLSearchParams, now: number): ApiResult {
    const result = this.#api.answer(
      symbol === undefined ? ["coins"] : ["coins", symbol],
      query,
      now,
    );
    if (result === null || "later" in result) throw new TypeError("Cannot view a later answer");
    const { rep, error, command } = result;
    const value = JSON.parse(decoder.decode(rep.body));
    let text: string;
    if (rep.status !== 200) {
      text = `${safeText(String(value?.error?.message))}\n`;
    } else {
      const options = { color: false, now: new Date(now) };
      text = Array.isArray(value)
        ? formatTable(value.filter(isCoinView), options)
        : isCoinView(value)
        ? formatCoin(value, options)
        : "";
      text += "\n";
    }
    return { rep: new Representation(rep.status, TEXT_TYPE, text, false), error, command };
  }
}
