/**
 * Text wrapped at its spaces to a number of terminal columns.
 *
 * @module
 */

import { displayWidth } from "./display_width.ts";

/**
 * `text` split at spaces into lines of at most `width` columns (a longer word stays whole);
 * without a width, one line.
 */
export function wrap(text: string, width: number | undefined): string[] {
  if (width === undefined || displayWidth(text) <= width) return [text];
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(" ")) {
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
