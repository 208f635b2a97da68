/**
 * The web page over HTTPS, its WebSocket over WSS: the server with `--tls-cert`/`--tls-key`
 * serves both on its HTTP listener, and the page needs nothing changed.
 */

import assert from "node:assert/strict";
import { freePort, tlsFiles } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { formatMoney } from "../../lib/text/format_money.ts";
import { hasChromium, launchBrowser, NO_CHROMIUM } from "./_browser.ts";
import {
  assertPushed,
  type CoinJson,
  expectedRows,
  getJson,
  marketsText,
  type PageServer,
  startServer,
  stopServer,
  waitForBtcPrice,
  waitForRows,
  waitLive,
} from "./_page_server.ts";

Deno.test({
  name: `the web page works over HTTPS with live prices over WSS${NO_CHROMIUM}`,
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "crypto-web-tls-" });
    const { cert, key, certPem } = await tlsFiles(dir);
    await using upstream = await startFakeUpstream();
    upstream.setCoins(await marketsText("20220"));
    const httpPort = freePort();
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    const at: PageServer = { base: `https://127.0.0.1:${httpPort}`, client };
    const server = await startServer(upstream, `${dir}/crypto.sqlite`, httpPort, at, [
      "--tls-cert",
      cert,
      "--tls-key",
      key,
    ]);
    try {
      // The test certificate is self-signed: this browser profile trusts it, nothing else.
      await using browser = await launchBrowser(["--ignore-certificate-errors"]);
      const problems: string[] = [];
      const frames: string[] = [];
      const page = await browser.page(problems, frames);
      const coins = await getJson(at, "/api/v1/coins") as CoinJson[];
      await page.goto(`${at.base}/`);
      assert.equal(await page.evaluate(() => location.protocol), "https:");
      await waitForRows(page, expectedRows(coins, "USD"), "the table over HTTPS");
      await waitLive(page, "the WSS connection to be live");
      upstream.setCoins(await marketsText("21000.5"));
      await waitForBtcPrice(page, formatMoney(21000.5, "USD"), "BTC's new price, pushed over WSS");
      assertPushed(frames, "BTC", 21000.5);
      assert.deepEqual(problems, []);
    } finally {
      await stopServer(server, dir);
    }
  },
});
