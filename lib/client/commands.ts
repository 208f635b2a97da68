/**
 * The client's commands, shared by the command line (`crypto-client price BTC`) and the prompt
 * (`price btc`): parsing words into a {@linkcode Command}, running it against a server and
 * reporting its errors, as text, JSON or CSV.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import { HISTORY_RANGES, isHistoryRange } from "../wire/history_range.ts";
import { isSymbol } from "../wire/request.ts";
import { MAX_WATCHED } from "../wire/limits.ts";
import type { HistoryRange } from "../wire/history_range.ts";
import { ConnectionError, type CurrencyInfo, ServerError } from "./price_client.ts";
import type { History, SearchResult } from "./price_client.ts";
import type { CoinView } from "../wire/coin_view.ts";
import { currencyUnit, historyIn } from "./currency.ts";
import { formatCurrencies, formatHistory } from "./format.ts";
import { formatInfo } from "./info_view.ts";
import type { InfoReport } from "../wire/info_report.ts";
import { formatCoin } from "../text/format_coin.ts";
import { formatTable } from "../text/format_table.ts";
import { safeJson, safeText } from "../text/safe_text.ts";

/** A command with its arguments checked. */
export type Command =
  | { kind: "list" }
  | { kind: "price"; symbols: string[] }
  | { kind: "history"; symbol: string; range: HistoryRange }
  | { kind: "currencies" }
  | { kind: "info" }
  | { kind: "search"; query: string }
  | { kind: "watch"; symbols: string[] };

/** How results are written: for people, one JSON document, or CSV rows. */
export type OutputFormat = "text" | "json" | "csv";

/** Commands `--csv` applies to. */
export const CSV_COMMANDS: readonly Command["kind"][] = ["list", "price", "history"];

/** Throws a usage error unless `text` names one coin; the text is echoed safely. */
export function checkSymbol(text: string): string {
  if (!isSymbol(text)) {
    throw new UsageError(`"${safeText(text)}" is not a coin symbol; use list to see all coins`);
  }
  return text;
}

/** Throws a usage error unless `text` is a history range; returns it in lower case. */
export function checkRange(text: string): HistoryRange {
  const range = text.toLowerCase();
  if (!isHistoryRange(range)) {
    throw new UsageError(
      `"${safeText(text)}" is not a history range; use ${HISTORY_RANGES.join(", ")}`,
    );
  }
  return range;
}

/** Symbols to watch, upper case without repeats, at most {@linkcode MAX_WATCHED}. */
export function checkWatchList(words: readonly string[]): string[] {
  const symbols = [...new Set(words.map((s) => checkSymbol(s).toUpperCase()))];
  if (symbols.length > MAX_WATCHED) {
    throw new UsageError(`watch takes at most ${MAX_WATCHED} coin symbols, got ${symbols.length}`);
  }
  return symbols;
}

/**
 * Parses `[word, ...args]` into a command.
 *
 * @throws {UsageError} for an unknown command or wrong arguments, with a message for a person
 */
export function parseCommand(name: string, rest: readonly string[]): Command {
  switch (name) {
    case "list":
    case "currencies":
    case "info":
      if (rest.length > 0) {
        throw new UsageError(`${name} takes no arguments, got "${safeText(rest.join(" "))}"`);
      }
      return { kind: name };
    case "price":
      if (rest.length === 0) throw new UsageError("price needs a coin symbol, e.g. price BTC");
      // Each coin once, whatever the case it was typed in (the server's symbols are
      // case-insensitive); the first spelling is the one asked for.
      return { kind: "price", symbols: uniqueIgnoringCase(rest.map(checkSymbol)) };
    case "history":
      if (rest.length === 0 || rest.length > 2) {
        throw new UsageError(
          "history needs a coin symbol and optionally a range, e.g. history BTC 7d",
        );
      }
      return { kind: "history", symbol: checkSymbol(rest[0]), range: checkRange(rest[1] ?? "24h") };
    case "watch":
      if (rest.length === 0) throw new UsageError("watch needs coin symbols, e.g. watch BTC ETH");
      return { kind: "watch", symbols: checkWatchList(rest) };
    case "search":
      if (rest.length !== 1 || !isSymbol(rest[0])) {
        throw new UsageError("search needs one word, part of a symbol or name, e.g. search pep");
      }
      return { kind: "search", query: rest[0] };
  }
  throw new UsageError(
    `Unknown command "${safeText(name)}"; commands are list, price, history, search, ` +
      `currencies, info and watch`,
  );
}

/** What a command needs from a connection; {@linkcode PriceClient} has it. */
export interface CommandClient {
  marketAll(currency?: string): Promise<CoinView[]>;
  market(symbol: string, currency?: string): Promise<CoinView>;
  history(symbol: string, range?: HistoryRange): Promise<History>;
  currencies(): Promise<CurrencyInfo[]>;
  info(): Promise<InfoReport>;
  search(query: string): Promise<SearchResult[]>;
}

/** Where and how a command writes. */
export interface CommandContext {
  client: CommandClient;
  /** Upper case; undefined for USD. */
  currency: string | undefined;
  /** The unit of `currency` when already known (see `currencyUnit`); else asked once. */
  unit?: string;
  format: OutputFormat;
  write: (s: string) => void;
  /** Writes one error (see {@linkcode reportError}). */
  error: (err: unknown) => void;
  color: boolean;
  now: () => Date;
  columns: () => number;
}

/**
 * Runs one command other than `watch` and returns whether all of it succeeded. A `price` of
 * several coins prints the ones found and reports the others.
 */
export async function runCommand(
  command: Exclude<Command, { kind: "watch" }>,
  ctx: CommandContext,
): Promise<boolean> {
  const { client, currency, format } = ctx;
  const json = format === "json";
  const unit = () =>
    currency === undefined || ctx.unit !== undefined ? ctx.unit : currencyUnit(client, currency);
  const options = async () => ({
    color: ctx.color,
    now: ctx.now(),
    unit: await unit(),
    width: ctx.columns(),
  });
  const out = (text: string) => ctx.write(text + "\n");
  switch (command.kind) {
    case "list": {
      const coins = await client.marketAll(currency);
      if (json) out(safeJson(coins));
      else if (format === "csv") out(coinsCsv(coins));
      else out(formatTable(coins, await options()));
      return true;
    }
    case "price": {
      const found = await Promise.allSettled(
        command.symbols.map((s) => client.market(s, currency)),
      );
      const coins = found.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
      if (json) {
        if (coins.length > 0) out(safeJson(command.symbols.length === 1 ? coins[0] : coins));
      } else if (format === "csv") {
        if (coins.length > 0) out(coinsCsv(coins));
      } else {
        const opts = coins.length > 0 ? await options() : undefined;
        if (coins.length > 0) out(coins.map((c) => formatCoin(c, opts!)).join("\n\n"));
      }
      const failures = found.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
      for (const failure of failures) {
        if (!(failure instanceof ServerError)) throw failure;
        ctx.error(failure);
      }
      return failures.length === 0;
    }
    case "history": {
      const history = await client.history(command.symbol, command.range);
      const shown = await historyIn(client, history, currency);
      if (json) {
        const converted = shown.history === history ? {} : { converted_from: history.currency };
        out(safeJson({ ...shown.history, ...converted }));
      } else if (format === "csv") {
        out(historyCsv(shown.history));
      } else {
        out(formatHistory(shown.history, { ...await options(), note: shown.note }));
      }
      return true;
    }
    case "currencies": {
      const list = await client.currencies();
      out(json ? safeJson(list) : formatCurrencies(list, { color: ctx.color }));
      return true;
    }
    case "search": {
      const found = await client.search(command.query);
      if (json) out(safeJson(found));
      else if (found.length === 0) out(`No coin matches "${safeText(command.query)}"`);
      else out(formatSearch(found));
      return true;
    }
    case "info": {
      const info = await client.info();
      out(
        json
          ? safeJson(info)
          : formatInfo(info, { color: ctx.color, now: ctx.now(), width: ctx.columns() }),
      );
      return true;
    }
  }
}

/** One line per coin: symbol, name and the id that names it exactly (`price id:<id>`). */
function formatSearch(found: readonly SearchResult[]): string {
  const width = Math.max(...found.map((c) => safeText(c.symbol).length));
  return found.map((c) =>
    `${safeText(c.symbol).padEnd(width)}  ${safeText(c.name)}  (id:${safeText(c.id)})`
  ).join("\n");
}

/** The error code of a failure, for `--json`: the server's, `CONNECTION`, `USAGE` or `ERROR`. */
function errorCode(err: unknown): string {
  if (err instanceof ServerError) return err.code;
  if (err instanceof ConnectionError) return "CONNECTION";
  if (err instanceof UsageError) return "USAGE";
  return "ERROR";
}

/**
 * The message of a failure for a client user: the server's hints name client commands rather
 * than wire commands, and outside text is made safe.
 */
export function errorMessage(err: unknown): string {
  return safeText(hinted(err));
}

function hinted(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\bMARKET ALL lists\b/g, "list shows")
    .replace(/\bCURRENCIES lists\b/g, "currencies lists");
}

/**
 * Writes one failure to `write`: `error: message` for people, or with `json` one object
 * `{"error":{"code":"UNKNOWN_COIN","message":"..."}}`.
 */
export function reportError(err: unknown, json: boolean, write: (s: string) => void): void {
  if (json) {
    write(safeJson({ error: { code: errorCode(err), message: hinted(err) } }) + "\n");
  } else {
    write(`error: ${errorMessage(err)}\n`);
  }
}

/** One CSV field: quoted when it holds a comma, quote or line break; outside text made safe. */
function csvField(value: string | number | null): string {
  if (value === null) return "";
  const text = safeText(String(value));
  return /[",]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function coinsCsv(coins: readonly CoinView[]): string {
  const header = "rank,symbol,name,price,currency,change_24h,market_cap,updated_at,stale";
  return [
    header,
    ...coins.map((c) =>
      [
        c.rank,
        c.symbol,
        c.name,
        c.price,
        c.currency,
        c.change_24h,
        c.market_cap,
        c.updated_at,
        String(c.stale),
      ].map(csvField).join(",")
    ),
  ].join("\n");
}

function historyCsv(history: History): string {
  return [
    "time,price,currency",
    ...history.points.map(([time, price]) =>
      [time, price, history.currency].map(csvField).join(",")
    ),
  ].join("\n");
}

/** `words` without those equal to an earlier one but for case, in their order. */
function uniqueIgnoringCase(words: readonly string[]): string[] {
  const seen = new Set<string>();
  return words.filter((word) => {
    const key = word.toUpperCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
