/**
 * The portfolio file: the user's holdings as TOML, one `[[lot]]` table per purchase, read with
 * errors that name the line and written atomically (a temporary file in the same directory,
 * flushed to disk, then renamed over the old one), so that a crash or a full disk leaves either
 * the old file or the new one, never half of one.
 *
 * TOML rather than JSON: people edit this file by hand (a lot bought elsewhere, a typo fixed), and
 * TOML takes comments, needs no commas or braces, and its dates are dates.
 *
 * @module
 */

import { parse, TomlDate, TomlError } from "smol-toml";
import { isCurrencyCode, isSymbol } from "../wire/request.ts";
import { safeText } from "../text/safe_text.ts";
import { UsageError } from "../util/usage_error.ts";
import { dirname, join } from "node:path";
import { configPath } from "./config_file.ts";

/** One purchase: `amount` coins of `symbol` at `price` per coin in `currency`. */
export interface Lot {
  /** Upper case, e.g. `BTC`. */
  symbol: string;
  /** Coins held, more than 0. */
  amount: number;
  /** Price paid per coin, in `currency`; 0 for coins received for nothing. */
  price: number;
  /** Upper case, e.g. `USD`. */
  currency: string;
  /** The day of the purchase as `YYYY-MM-DD`, when given. */
  date?: string;
}

/** A portfolio file that cannot be used as it is; the file is then left alone. */
export class PortfolioFileError extends Error {
  override name = "PortfolioFileError";
}

const HEADER =
  `# crypto-client portfolio: one [[lot]] per purchase, edited by "crypto-client portfolio
# add/remove" or by hand. amount: coins held; price: paid per coin, in currency; date: optional.
`;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const FIELDS = new Set(["symbol", "amount", "price", "currency", "date"]);

/**
 * Where the portfolio lives: beside the client's config file, `portfolio.toml` in
 * `$XDG_CONFIG_HOME/crypto-client/`, else `~/.config/crypto-client/`.
 *
 * @throws {UsageError} when neither variable is set
 */
export function defaultPortfolioPath(env: (name: string) => string | undefined): string {
  const config = configPath(env);
  if (config === undefined) {
    throw new UsageError(
      "Cannot place the portfolio: set --portfolio FILE, XDG_CONFIG_HOME or HOME",
    );
  }
  return join(dirname(config), "portfolio.toml");
}

/**
 * The lots of a portfolio file's `text`.
 *
 * @throws {PortfolioFileError} naming `path` and the line at fault
 */
export function parsePortfolio(text: string, path: string): Lot[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = err.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw new PortfolioFileError(
      `Cannot parse portfolio ${path} line ${err.line}: expected TOML, ${reason}`,
    );
  }
  for (const key of Object.keys(doc)) {
    if (key !== "lot") {
      const line = lineOf(text, new RegExp(`^\\s*\\[*\\s*"?${escape(key)}"?\\s*[=\\]]`));
      throw fault(path, line, `expected only [[lot]] tables, got "${safeText(key)}"`);
    }
  }
  const lots = doc.lot ?? [];
  if (!Array.isArray(lots)) {
    throw fault(path, lineOf(text, /^\s*\[?\s*lot\b/), "expected [[lot]] tables");
  }
  return lots.map((lot, i) => checkLot(lot, text, i, path));
}

/** One `[[lot]]`, checked; its faults name the line of the field (or of the table). */
function checkLot(value: unknown, text: string, index: number, path: string): Lot {
  const start = nthLotLine(text, index);
  const at = (key: string) => fieldLine(text, start, key);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fault(path, start, "expected a [[lot]] table");
  }
  const lot = value as Record<string, unknown>;
  for (const key of Object.keys(lot)) {
    if (!FIELDS.has(key)) {
      throw fault(path, at(key), `expected symbol, amount, price, currency or date, got ${key}`);
    }
  }
  const { symbol, amount, price, currency = "USD", date } = lot;
  if (typeof symbol !== "string" || !isSymbol(symbol)) {
    throw fault(path, at("symbol"), `expected symbol = "BTC" or another coin symbol`);
  }
  if (typeof amount !== "number" || !(amount > 0) || !Number.isFinite(amount)) {
    throw fault(path, at("amount"), "expected amount = a number of coins above 0");
  }
  if (typeof price !== "number" || !(price >= 0) || !Number.isFinite(price)) {
    throw fault(path, at("price"), "expected price = the price paid per coin, 0 or more");
  }
  if (typeof currency !== "string" || !isCurrencyCode(currency.toUpperCase())) {
    throw fault(path, at("currency"), `expected currency = "USD" or another currency code`);
  }
  const day = date instanceof TomlDate ? date.toISOString().slice(0, 10) : date;
  if (day !== undefined && (typeof day !== "string" || !DAY.test(day))) {
    throw fault(path, at("date"), "expected date = YYYY-MM-DD");
  }
  return {
    symbol: symbol.toUpperCase(),
    amount,
    price,
    currency: currency.toUpperCase(),
    ...(day === undefined ? {} : { date: day }),
  };
}

/** The text of a portfolio file holding `lots`, with a comment saying how to edit it. */
export function formatPortfolio(lots: readonly Lot[]): string {
  const tables = lots.map((lot) =>
    [
      "[[lot]]",
      `symbol = ${JSON.stringify(lot.symbol)}`,
      `amount = ${tomlNumber(lot.amount)}`,
      `price = ${tomlNumber(lot.price)}`,
      `currency = ${JSON.stringify(lot.currency)}`,
      ...(lot.date === undefined ? [] : [`date = ${lot.date}`]),
    ].join("\n") + "\n"
  );
  return [HEADER, ...tables].join("\n");
}

/**
 * The lots in the file at `path`; none when there is no file yet.
 *
 * @throws {PortfolioFileError} when the file cannot be read or parsed
 */
export async function readPortfolio(path: string): Promise<Lot[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new PortfolioFileError(`Cannot read portfolio ${path}: ${reason(err)}`, { cause: err });
  }
  return parsePortfolio(text, path);
}

/**
 * Replaces the file at `path` with `lots`, atomically: the new text goes to a temporary file in
 * the same directory (a rename is only atomic within one file system), is flushed to disk, and
 * is renamed over the old file; the directory is created when missing. On any failure the old
 * file is untouched and the temporary file removed.
 *
 * @throws {PortfolioFileError} saying why the file could not be written
 */
export async function writePortfolio(path: string, lots: readonly Lot[]): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const temp = `${dir}/.${path.slice(dir.length + 1)}.${Deno.pid}.${Date.now()}.tmp`;
  const bytes = new TextEncoder().encode(formatPortfolio(lots));
  try {
    await Deno.mkdir(dir, { recursive: true });
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw new PortfolioFileError(
      `Cannot write portfolio ${path}: ${reason(err)}; the old file is unchanged`,
      { cause: err },
    );
  }
}

function fault(path: string, line: number, expected: string): PortfolioFileError {
  return new PortfolioFileError(`Cannot parse portfolio ${path} line ${line}: ${expected}`);
}

/** The 1-based line of the `index`th `[[lot]]` header, or 1. */
function nthLotLine(text: string, index: number): number {
  const lines = text.split("\n");
  let seen = -1;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*\[\[\s*"?lot"?\s*\]\]/.test(lines[i]) && ++seen === index) return i + 1;
  }
  return 1;
}

/** The line of `key = ...` in the table starting at line `start`, or `start`. */
function fieldLine(text: string, start: number, key: string): number {
  const lines = text.split("\n");
  const field = new RegExp(`^\\s*"?${escape(key)}"?\\s*=`);
  for (let i = start; i < lines.length && !/^\s*\[/.test(lines[i]); i++) {
    if (field.test(lines[i])) return i + 1;
  }
  return start;
}

function lineOf(text: string, pattern: RegExp): number {
  const index = text.split("\n").findIndex((line) => pattern.test(line));
  return index < 0 ? 1 : index + 1;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A number as TOML reads it back exactly: JavaScript's shortest round-trip form is valid TOML. */
function tomlNumber(n: number): string {
  return String(n);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
