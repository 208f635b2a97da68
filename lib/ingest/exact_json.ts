/**
 * JSON parsing that keeps the exact text of chosen numbers, so a price is served as the upstream
 * wrote it, not as a double rounds it.
 *
 * @module
 */

/** A number that remembers the JSON text it was parsed from. */
export class ExactNumber {
  constructor(readonly value: number, readonly text: string) {}
}

/** A `JSON.parse` reviver with the source-text context of V8. */
type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context: { source?: string },
) => unknown;

/** Which numbers of an answer keep their text; made by {@linkcode keepNumberText}. */
export interface ExactNumbers {
  /** The keys whose number values keep their text. */
  readonly keys: ReadonlySet<string>;
  /** Finds those numbers in JSON text: the key and what precedes the number, then the number. */
  readonly pattern: RegExp;
  /** The same with a source-text reviver, for text in which the marker could be forged. */
  readonly reviver: Reviver;
}

/** Numbers under `keys` will be parsed into {@linkcode ExactNumber}s, see {@linkcode parseJson}. */
export function keepNumberText(keys: Iterable<string>): ExactNumbers {
  const exact = new Set(keys);
  const names = [...exact].map((key) => key.replace(/[^\w]/g, (c) => `\\${c}`)).join("|");
  return {
    keys: exact,
    // JSON's own number grammar and white space, so only what JSON.parse reads as a number
    // after one of the keys is marked. A quote after a backslash is inside a string (`\"`), as
    // the start of a key never is.
    pattern: new RegExp(
      `((?<!\\\\)"(?:${names})"[ \\t\\n\\r]*:[ \\t\\n\\r]*)(-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)`,
      "g",
    ),
    reviver: (key, value, context) =>
      exact.has(key) && typeof value === "number" && context.source !== undefined
        ? new ExactNumber(value, context.source)
        : value,
  };
}

/** What marks a number's text in a string; a JSON string can only hold it as `\u0000`. */
const MARK = "\u0000";
const ESCAPED_MARK = /\\u0000/;

/**
 * `JSON.parse`, with the numbers under `exact.keys` parsed into {@linkcode ExactNumber}s. A
 * reviver reading the source text could do that alone, but then V8 keeps the source of every
 * value and calls back for each, which on a large answer costs several times the time and memory
 * of a plain parse (figures in BENCHMARKS.md). So each such number is first written as a
 * string that starts with a NUL character (`"price":1.5` becomes `"price":"\u00001.5"`), the
 * text is parsed plainly, and those strings become ExactNumbers. A JSON string can only
 * carry a NUL as the escape `\u0000` (a raw one is invalid JSON), so text with that escape
 * (none of any provider's real answers) is parsed with the reviver instead: no upstream can pass
 * a string off as a number.
 *
 * @throws {SyntaxError} when the text is not JSON
 */
export function parseJson(text: string, exact?: ExactNumbers): unknown {
  if (exact === undefined) return JSON.parse(text);
  if (ESCAPED_MARK.test(text)) {
    return JSON.parse(text, exact.reviver as Parameters<typeof JSON.parse>[1]);
  }
  const root = JSON.parse(text.replace(exact.pattern, '$1"\\u0000$2"'));
  // Iterative: a hostile answer may nest deeper than the call stack allows.
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== "object" || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === "object") pending.push(item);
      continue;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === "object") pending.push(item);
      else if (typeof item === "string" && item.startsWith(MARK) && exact.keys.has(key)) {
        const source = item.slice(1);
        record[key] = new ExactNumber(Number(source), source);
      }
    }
  }
  return root;
}
