/**
 * Quoting untrusted text for messages and logs.
 *
 * @module
 */

const lenient = new TextDecoder();

/**
 * A short, printable sample of untrusted text for messages and logs: control characters,
 * quotes and non-ASCII (bidi overrides included) are escaped, and long input is cut with an
 * ellipsis.
 */
export function sample(text: string, max = 60): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = JSON.stringify(cut).slice(1, -1).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `"${escaped}${text.length > max ? "…" : ""}"`;
}

/** {@linkcode sample} for raw bytes, decoding invalid UTF-8 leniently. */
export function sampleBytes(bytes: Uint8Array, max = 60): string {
  // One byte past what `max` characters can take, so a longer input still gets its ellipsis.
  return sample(lenient.decode(bytes.subarray(0, max * 4 + 1)), max);
}
