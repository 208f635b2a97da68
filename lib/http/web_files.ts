/**
 * The live web page's files (`lib/web/`) as HTTP representations: built once, with the page's
 * security headers, an `ETag` and gzip like every other answer.
 *
 * @module
 */

import { WEB_HEADERS, webAsset } from "../web/web_assets.ts";
import { Representation } from "./representation.ts";

const HEADERS = Object.entries(WEB_HEADERS)
  .filter(([name]) => name !== "cache-control")
  .map(([name, value]) => `${name}: ${value}\r\n`).join("");
const reps = new Map<string, Representation | null>();

/** The page (`/`) or one of its files (`/web/app.js`, ...), or undefined for any other path. */
export function webFile(path: string): Representation | undefined {
  let rep = reps.get(path);
  if (rep === undefined) {
    const asset = webAsset(path);
    rep = asset === undefined
      ? null
      : new Representation(200, `Content-Type: ${asset.type}\r\n${HEADERS}`, asset.body, true);
    // Only the few real paths are kept, so a scan of made-up ones cannot grow the map.
    if (rep !== null) reps.set(path, rep);
  }
  return rep ?? undefined;
}
