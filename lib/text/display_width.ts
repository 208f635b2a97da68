/**
 * How many terminal columns text takes, and text cut to a number of columns.
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const ESCAPES = /\x1b\[[0-9;]*m/g;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060\ufe00-\ufe0f]$/u;
const WIDE =
  /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

/**
 * Columns `s` takes in a terminal: East Asian wide characters and most emoji take 2, combining
 * marks and zero-width characters 0, everything else 1. ANSI escape sequences are not counted.
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ESCAPES, "")) w += charWidth(ch);
  return w;
}

/** `s` cut to at most `max` columns, ending in `…` when it was cut. */
export function truncate(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}
