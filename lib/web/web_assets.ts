/**
 * The live web page's files as the HTTP router serves them: embedded in the program (see
 * `build_assets.ts`), encoded once, with the headers that keep the page to its own origin.
 *
 * @module
 */

import { ASSETS } from "./_assets.ts";

/** One file of the page, ready to send. */
export interface WebAsset {
  /** `Content-Type`. */
  readonly type: string;
  /** `ETag`, quoted. */
  readonly etag: string;
  /** The bytes to send. */
  readonly body: Uint8Array;
}

/**
 * Only our own origin: scripts, styles and the icon from it, requests (fetch and the WebSocket,
 * which CSP 3 counts as `'self'` on the same host and port) to it, nothing inline, no framing.
 */
export const WEB_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers every page file is sent with, besides its type and ETag. */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": WEB_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // Revalidated each time (a 304 while the program is the same): a new version shows at once.
  "cache-control": "no-cache",
};

const encoder = new TextEncoder();
const FILES = new Map<string, WebAsset>(
  Object.entries(ASSETS).map(([path, asset]) => [
    path,
    { type: asset.type, etag: asset.etag, body: encoder.encode(asset.text) },
  ]),
);

/** The page (`/`) or one of its files (`/web/app.js`, ...); undefined for any other path. */
export function webAsset(path: string): WebAsset | undefined {
  return FILES.get(path);
}
