/**
 * A command line split into words the way a user expects, without a shell: `--exec` runs the
 * words as they are, so nothing in them (or in the prices) is expanded or interpreted.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";

/**
 * Splits `text` at unquoted white space. Single quotes keep everything as is; double quotes keep
 * everything but `\"` and `\\`; outside quotes a backslash keeps the next character. No `$`,
 * `*`, `~` or `;` means anything.
 *
 * @throws {UsageError} for an unclosed quote or an empty command
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) word += text[++i];
      else word += ch;
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else {
      word = (word ?? "") + (ch === "\\" && i + 1 < text.length ? text[++i] : ch);
    }
  }
  if (quote !== undefined) throw new UsageError(`--exec has an unclosed ${quote} quote`);
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new UsageError("--exec needs a command, e.g. --exec notify-send");
  return words;
}
