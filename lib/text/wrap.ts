/**
 * Text wrapped at its spaces to a number of terminal columns.
 *
 * @module
 */

import { displayWidth } from "./display_width.ts";

/**
 * `text` split at spaces into lines of at most `width` columns. A word longer than a line stays
 * whole (a price is never cut), unless `cut` is set (a URL in an error): then it is cut into
 * pieces that fit. Without a width, one line.
 */
export function wrap(text: string, width: number | undefined, cut = false): string[] {
  if (width === undefined || displayWidth(text) <= width) return [text];
  const lines: string[] = [];
  let current = "";
  const words = text.split(" ");
  for (const word of cut ? words.flatMap((w) => pieces(w, Math.max(1, width))) : words) {
    if (current !== "" && displayWidth(current) + 1 + displayWidth(word) > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === "" ? word : `${current} ${word}`;
    }
  }
  lines.push(current);
  return lines;
}

/** `word` cut into pieces of at most `width` columns (one piece when it fits). */
function pieces(word: string, width: number): string[] {
  if (displayWidth(word) <= width) return [word];
  const out: string[] = [];
  let piece = "";
  for (const ch of word) {
    if (piece !== "" && displayWidth(piece + ch) > width) {
      out.push(piece);
      piece = "";
    }
    piece += ch;
  }
  if (piece !== "") out.push(piece);
  return out;
}
