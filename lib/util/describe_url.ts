/**
 * Naming a URL in messages without leaking what it carries.
 *
 * @module
 */

/** The host of a URL, for messages: never the path, query or credentials. */
export function describeUrl(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the upstream";
  }
}
