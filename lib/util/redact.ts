/**
 * Masking of a secret (an API key, a database password) in text that may reach a log line, an
 * error message or a reply.
 *
 * @module
 */

/** `text` with every occurrence of `secret` replaced by `***`; unchanged without a secret. */
export function redact(text: string, secret: string | undefined): string {
  return secret ? text.replaceAll(secret, "***") : text;
}
