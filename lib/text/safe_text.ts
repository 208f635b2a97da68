/**
 * Text from outside (the server, the upstream behind it, the user's own arguments) on its way to
 * a terminal: control characters and bidirectional controls are shown escaped, never obeyed.
 *
 * @module
 */

/**
 * C0 controls (ESC among them), DEL, C1 controls (0x9b is a one-byte CSI), the line and paragraph
 * separators and the bidirectional marks, embeddings, overrides and isolates.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character written as an escape: `\x1b` for ESC, `\u202e` for a
 * right-to-left override, `\n` for a newline; everything else unchanged.
 */
export function safeText(text: string): string {
  return text.replace(UNSAFE, escape);
}

/**
 * `JSON.stringify(value)` with the characters JSON leaves as they are (DEL, C1 and bidi
 * controls, line separators) also written as `\u` escapes, so piping JSON to a terminal is safe.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, unicodeEscape);
}

function escape(c: string): string {
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : unicodeEscape(c);
}

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}
