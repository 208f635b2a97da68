/**
 * The embedded page: up to date with its sources, small, and free of anything that would need
 * a looser Content-Security-Policy or would turn upstream text into markup.
 */

import assert from "node:assert/strict";
import { ASSETS } from "../../lib/web/_assets.ts";
import { buildAssets } from "../../lib/web/build_assets.ts";
import { WEB_CSP, WEB_HEADERS, webAsset } from "../../lib/web/web_assets.ts";

Deno.test("lib/web/_assets.ts is what `deno task web` builds from lib/web/ now", async () => {
  const built = await buildAssets();
  assert.deepEqual(Object.keys(ASSETS), Object.keys(built));
  for (const [path, asset] of Object.entries(built)) {
    assert.ok(
      ASSETS[path].text === asset.text && ASSETS[path].etag === asset.etag,
      `lib/web/_assets.ts is out of date for ${path}: run \`deno task web\``,
    );
  }
});

Deno.test("the page with its script, styles and icon is under 60 KB", () => {
  const bytes = Object.values(ASSETS)
    .reduce((n, asset) => n + new TextEncoder().encode(asset.text).length, 0);
  assert.ok(bytes < 60 * 1024, `The page takes ${bytes} bytes: expected under 60 KB`);
});

Deno.test("the page loads only its own files, and nothing inline", () => {
  const page = ASSETS["/"].text;
  const refs = [...page.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(refs.sort(), [
    "/api/v1/coins", // the link for a browser without JavaScript
    "/web/app.js",
    "/web/icon.svg",
    "/web/style.css",
  ]);
  for (const ref of refs.slice(1)) assert.equal(webAsset(ref)?.type, ASSETS[ref].type);
  for (const inline of [/<script(?![^>]*\bsrc=)[^>]*>/, /<style\b/, /\sstyle=/, /\son[a-z]+=/]) {
    assert.ok(!inline.test(page), `index.html has inline code or style: ${inline}`);
  }
  for (const [path, asset] of Object.entries(ASSETS)) {
    const external = asset.text.replaceAll("http://www.w3.org/2000/svg", "")
      .match(/\b(?:https?:)?\/\/[a-z0-9-]+\.[a-z0-9.-]+/i);
    assert.equal(external, null, `${path} refers to another origin`);
  }
});

Deno.test("the script never parses text as HTML", () => {
  const script = ASSETS["/web/app.js"].text;
  for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]) {
    assert.ok(!script.includes(sink), `app.js uses ${sink}`);
  }
});

Deno.test("page files carry a strict CSP, nosniff and a strong ETag", () => {
  assert.equal(WEB_HEADERS["x-content-type-options"], "nosniff");
  assert.equal(WEB_HEADERS["content-security-policy"], WEB_CSP);
  for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'"]) {
    assert.ok(WEB_CSP.includes(directive), `CSP lacks ${directive}`);
  }
  assert.doesNotMatch(WEB_CSP, /unsafe-inline|unsafe-eval|\*/);
  const page = webAsset("/")!;
  assert.match(page.etag, /^"[0-9a-f]{20}"$/);
  assert.equal(new TextDecoder().decode(page.body), ASSETS["/"].text);
  assert.equal(webAsset("/web/../index.html"), undefined);
  assert.equal(webAsset("/index.html"), undefined);
});
