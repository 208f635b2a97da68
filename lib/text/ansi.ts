/**
 * ANSI colour for text that may go to a terminal: the codes used, and {@linkcode paint}, which
 * adds one only when colour is on.
 *
 * @module
 */

/** The SGR codes the formatters use. */
export const ANSI = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
} as const;

/** `s` in the colour `code` (one of {@linkcode ANSI}) when `color` is on and `code` is not empty. */
export function paint(s: string, code: string, color: boolean): string {
  return color && code !== "" ? `${code}${s}${ANSI.reset}` : s;
}

/** Green for a positive move, red for a negative one, none for none or unknown. */
export function moveColor(move: number | undefined): string {
  return move === undefined || move === 0 ? "" : move > 0 ? ANSI.green : ANSI.red;
}

/** Green for a rise in percent, red for a fall, none for unknown or 0.00%. */
export function changeColor(pct: number | null): string {
  if (pct === null || Number(Math.abs(pct).toFixed(2)) === 0) return "";
  return pct > 0 ? ANSI.green : ANSI.red;
}
