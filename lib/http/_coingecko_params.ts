/**
 * The query parameters of the CoinGecko-compatible API: which ones each endpoint takes, which
 * are ignored because they change nothing here, and the checks of their values. A parameter we
 * do not support is refused with a message, never silently dropped: it would change the answer.
 *
 * @module
 */

import type { Precision } from "./_coingecko_bodies.ts";

/** A refusal: the message of a 400. */
export class ParamError extends Error {}

/**
 * Parameters that change nothing in our answers: the demo key is CoinGecko's (this server holds
 * its own upstream key), and `locale=en` is the language every name is in.
 */
function ignored(name: string, value: string): boolean {
  return name === "x_cg_demo_api_key" || (name === "locale" && value === "en");
}

/** Refuses every parameter of `query` that is not in `supported` and not ignored. */
export function checkNames(query: URLSearchParams, supported: readonly string[], path: string) {
  for (const [name, value] of query) {
    if (supported.includes(name) || ignored(name, value)) continue;
    if (name === "x_cg_pro_api_key") {
      throw new ParamError(
        "x_cg_pro_api_key is not used: this server holds its own upstream key; leave it out",
      );
    }
    const takes = supported.length === 0 ? "no parameters" : supported.join(", ");
    throw new ParamError(
      `Unsupported parameter ${name}=${value} on /api/v3/${path}: this server takes ${takes} ` +
        "(docs/coingecko-api.md)",
    );
  }
}

/** A boolean parameter (`true`/`false`), false when absent. */
export function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null || value === "false") return false;
  if (value === "true") return true;
  throw new ParamError(`Cannot parse ${name}=${value}: expected true or false`);
}

/** A boolean parameter whose `true` asks for data we do not store. */
export function refuseTrue(query: URLSearchParams, name: string, why: string): void {
  if (flag(query, name)) throw new ParamError(`${name}=true is not supported: ${why}`);
}

/** `precision`: `full` or 0 to 18 decimal places; `full` when absent. */
export function precision(query: URLSearchParams): Precision {
  const value = query.get("precision");
  if (value === null || value === "full") return "full";
  const places = Number(value);
  if (!/^\d{1,2}$/.test(value) || places > 18) {
    throw new ParamError(`Cannot parse precision=${value}: expected full or 0 to 18`);
  }
  return places;
}

/** A positive integer parameter no larger than `max`, `fallback` when absent. */
export function positiveInt(
  query: URLSearchParams,
  name: string,
  fallback: number,
  max: number,
): number {
  const value = query.get(name);
  if (value === null) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) {
    throw new ParamError(`Cannot parse ${name}=${value}: expected an integer from 1 to ${max}`);
  }
  return n;
}

/** A required parameter. */
export function required(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value.trim() === "") {
    throw new ParamError(`Missing parameter ${name}`);
  }
  return value;
}

/** A comma-separated list, trimmed, without empty items, in lower case. */
export function list(value: string): string[] {
  return value.split(",").map((item) => item.trim().toLowerCase()).filter((item) => item !== "");
}

/** Checks `order`: only CoinGecko's default, market cap descending, is served. */
export function checkOrder(query: URLSearchParams): void {
  const order = query.get("order");
  if (order !== null && order !== "market_cap_desc") {
    throw new ParamError(
      `order=${order} is not supported: coins are served in market cap order (market_cap_desc) ` +
        "only, as volumes and other orders are not stored",
    );
  }
}

/** Checks `price_change_percentage`: only the 24 h change is stored. */
export function checkPriceChange(query: URLSearchParams): void {
  const value = query.get("price_change_percentage");
  if (value !== null && value !== "") {
    throw new ParamError(
      `price_change_percentage=${value} is not supported: only the 24 h change is stored ` +
        "(price_change_percentage_24h)",
    );
  }
}

/** The most days of history `market_chart` serves: the longest range the history keeps. */
export const MAX_CHART_DAYS = 30;

/** `days` of `market_chart`: a positive number of days, at most {@linkcode MAX_CHART_DAYS}. */
export function chartDays(query: URLSearchParams): number {
  const value = required(query, "days");
  const days = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(days > 0) || days > MAX_CHART_DAYS) {
    throw new ParamError(
      `days=${value} is not supported: expected a number of days above 0 and at most ` +
        `${MAX_CHART_DAYS} (the history kept here)`,
    );
  }
  return days;
}
