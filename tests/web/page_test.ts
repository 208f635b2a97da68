/**
 * The live web page in a real browser (headless Chromium) against the real server process and a
 * local fake upstream: the table, live updates over the WebSocket, currencies, the chart, a
 * server restart, hostile upstream text, a phone-sized viewport and a clean console.
 * Screenshots for a person to look at go to `data/web-1280.png` and `data/web-360.png`.
 */

import assert from "node:assert/strict";
import { freePort } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { formatMoney } from "../../lib/text/format_money.ts";
import { safeText } from "../../lib/text/safe_text.ts";
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
import { hasChromium, launchBrowser, NO_CHROMIUM, tableRows, waitInPage } from "./_browser.ts";

// In-page code runs in the browser: its globals, typed loosely (see _browser.ts).
// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const window: any;
// deno-lint-ignore no-explicit-any
declare const localStorage: any;

const SHOTS = new URL("../../data/", import.meta.url);

Deno.test({
  name: `the web page shows live prices in a real browser${NO_CHROMIUM}`,
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "crypto-web-" });
    await using upstream = await startFakeUpstream();
    upstream.setCoins(await marketsText("20220"));
    const httpPort = freePort();
    const at: PageServer = { base: `http://127.0.0.1:${httpPort}` };
    const { base } = at;
    // Stale 3 s after the last good ingestion, so a failing upstream shows within the test.
    const flags = ["--stale-after", "3"];
    let server = await startServer(upstream, `${dir}/crypto.sqlite`, httpPort, at, flags);
    await using browser = await launchBrowser();
    const problems: string[] = [];
    const frames: string[] = [];
    const page = await browser.page(problems, frames);
    await Deno.mkdir(SHOTS, { recursive: true });
    await page.setViewport({ width: 1280, height: 900 });
    try {
      await t.step("the page is served with its CSP, nosniff and an ETag", async () => {
        const response = await fetch(`${base}/`, { headers: { accept: "text/html" } });
        const html = await response.text();
        assert.equal(response.status, 200);
        assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
        assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'none'/);
        assert.equal(response.headers.get("x-content-type-options"), "nosniff");
        assert.ok(response.headers.get("etag"), "no ETag");
        assert.match(html, /<table id="coins">/);
        const again = await fetch(`${base}/`, {
          headers: { accept: "text/html", "if-none-match": response.headers.get("etag")! },
        });
        await again.body?.cancel();
        assert.equal(again.status, 304);
      });

      await t.step(
        "the table shows the snapshot's coins and prices as /api/v1/coins has them",
        async () => {
          const coins = await getJson(at, "/api/v1/coins") as CoinJson[];
          assert.equal(coins.length, 10);
          await page.goto(`${base}/`);
          await waitForRows(page, expectedRows(coins, "USD"), "the table to show /api/v1/coins");
          await waitLive(page);
          await page.evaluate(() => window.notReloaded = true);
        },
      );

      await t.step("a coin name with markup, ANSI and bidi controls is inert text", async () => {
        const shown = await page.evaluate(() => ({
          images: document.querySelectorAll("img").length,
          pwned: window.pwned ?? null,
          name: [...document.querySelectorAll("#coins tbody td.name")]
            .map((td) => td.textContent).find((n: string) => n.includes("<img")),
          raw: ["\x1b", "\u202e"].some((c) => document.body.textContent.includes(c)),
        }));
        const coins = await getJson(at, "/api/v1/coins") as CoinJson[];
        const doge = coins.find((c) => c.symbol === "DOGE")!;
        assert.match(doge.name, /^<img src=x onerror=/);
        assert.deepEqual(shown, { images: 0, pwned: null, name: safeText(doge.name), raw: false });
      });

      await t.step("a new upstream price appears without a reload, flashing", async () => {
        upstream.setCoins(await marketsText("21000.5"));
        await waitInPage(
          page,
          "BTC's new price on the page",
          ({ price }) => {
            const cell = document.querySelector(
              '#coins tbody tr[data-symbol="BTC"] td:nth-child(4)',
            );
            return cell?.textContent === price && cell.classList.contains("flash-up");
          },
          { price: formatMoney(21000.5, "USD") },
          () => [...document.querySelectorAll("#coins tbody tr")].map((tr) => tr.textContent),
        );
        assert.equal(await page.evaluate(() => window.notReloaded), true, "the page reloaded");
        assertPushed(frames, "BTC", 21000.5);
      });

      await t.step("sorting by a header, with the mouse and the keyboard", async () => {
        await page.click('th[data-key="price"] button');
        const byPrice = await page.evaluate(
          () => [
            document.querySelector('th[data-key="price"]').getAttribute("aria-sort"),
            document.querySelector("#coins tbody tr").dataset.symbol,
          ],
        );
        assert.deepEqual(byPrice, ["descending", "BTC"]);
        await page.focus('th[data-key="price"] button');
        await page.keyboard.press("Enter");
        const ascending = await page.evaluate(() =>
          document.querySelector('th[data-key="price"]').getAttribute("aria-sort")
        );
        assert.equal(ascending, "ascending");
        await page.click('th[data-key="rank"] button');
        await page.type("#filter", "ethereum");
        assert.deepEqual((await tableRows(page)).map((r) => r[0]), ["ETH"]);
        await page.click("#filter", { count: 3 });
        await page.keyboard.press("Backspace");
        assert.equal((await tableRows(page)).length, 10);
      });

      await t.step("switching currency converts every row and is remembered", async () => {
        await page.select("#currency", "EUR");
        const coins = await getJson(at, "/api/v1/coins?currency=EUR") as CoinJson[];
        await waitForRows(page, expectedRows(coins, "EUR"), "every row in EUR");
        const remembered = await page.evaluate(() => [location.search, localStorage.length]);
        assert.equal(remembered[0], "?currency=EUR");
        await page.goto(`${base}/`);
        await waitForRows(page, expectedRows(coins, "EUR"), "EUR again, from local storage");
      });

      await t.step("the chart draws the history's points", async () => {
        // From the keyboard: the symbol is a button.
        await page.focus('#coins tbody tr[data-symbol="BTC"] th button');
        await page.keyboard.press("Enter");
        const drawn = await waitInPage(
          page,
          "the chart to draw every point of the history",
          async () => {
            const line = document.querySelector("#chart-plot polyline");
            if (!document.getElementById("chart").open || line === null) return false;
            const history = await (await fetch("/api/v1/coins/BTC/history?range=24h")).json();
            const points = line.getAttribute("points").trim().split(/\s+/).length;
            return points === history.points.length && history.points.length >= 2 && points;
          },
          {},
          () => document.getElementById("chart").textContent,
        );
        assert.ok(Number(drawn) >= 2);
        await page.click('[data-range="1h"]');
        await waitInPage(
          page,
          "the 1 h range drawn",
          async () => {
            const line = document.querySelector("#chart-plot polyline");
            if (document.querySelector('[data-range="1h"]').ariaPressed !== "true") return false;
            const history = await (await fetch("/api/v1/coins/BTC/history?range=1h")).json();
            return line?.getAttribute("points").trim().split(/\s+/).length ===
              history.points.length;
          },
        );
        const last = () => document.querySelector("#chart-stats dd")?.textContent;
        const before = await page.evaluate(last);
        upstream.setCoins(await marketsText("21500"));
        await waitInPage(
          page,
          "the open chart to follow the new price",
          ({ before }) => document.querySelector("#chart-stats dd")?.textContent !== before,
          { before },
        );
        // The table too, though the server pushes USD: the page loads the rows again in EUR.
        const eur = await getJson(at, "/api/v1/coins/BTC?currency=EUR") as CoinJson;
        await waitForBtcPrice(
          page,
          formatMoney(eur.price, "EUR"),
          "BTC's new EUR price in the table",
        );
        await page.screenshot({ path: new URL("web-chart.png", SHOTS).pathname });
        await page.keyboard.press("Escape");
        assert.equal(await page.evaluate(() => document.getElementById("chart").open), false);
      });

      await t.step("screenshots at 1280 and 360 px; no horizontal scroll at 360", async () => {
        await page.screenshot({ path: new URL("web-1280.png", SHOTS).pathname, fullPage: true });
        await page.setViewport({ width: 360, height: 740 });
        const widths = await page.evaluate(
          () => [document.documentElement.scrollWidth, document.documentElement.clientWidth],
        );
        assert.ok(widths[0] <= widths[1], `the page scrolls sideways at 360 px: ${widths}`);
        await page.screenshot({ path: new URL("web-360.png", SHOTS).pathname, fullPage: true });
        await page.setViewport({ width: 1280, height: 900 });
        const background = () => window.getComputedStyle(document.body).backgroundColor;
        const light = await page.evaluate(background);
        await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
        const dark = await page.evaluate(background);
        await page.screenshot({ path: new URL("web-1280-dark.png", SHOTS).pathname });
        await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
        assert.notEqual(dark, light, "prefers-color-scheme: dark changed nothing");
      });

      await t.step(
        "a failing upstream: stale prices and the provider's state in words",
        async () => {
          upstream.mode = "http500";
          await waitInPage(
            page,
            "the page to say the prices are stale and the provider fails",
            () =>
              document.getElementById("freshness").textContent.includes("stale") &&
              /coingecko (failing|paused)/.test(document.getElementById("providers").textContent),
            {},
            () => [
              document.getElementById("freshness").textContent,
              document.getElementById("providers").textContent,
            ],
          );
          upstream.mode = "ok";
        },
      );

      await t.step("the console has no errors", () => {
        assert.deepEqual(problems, []);
      });

      await t.step("a restarted server: reconnecting…, then live prices again", async () => {
        server.kill("SIGKILL");
        await server.exited();
        await waitInPage(
          page,
          "reconnecting…",
          () => document.getElementById("connection").textContent.startsWith("reconnecting…"),
        );
        upstream.setCoins(await marketsText("19000.25"));
        server = await startServer(upstream, `${dir}/crypto.sqlite`, httpPort, at, flags);
        await waitLive(page, "the connection to be live again");
        const eur = await getJson(at, "/api/v1/coins/BTC?currency=EUR") as CoinJson;
        await waitForBtcPrice(page, formatMoney(eur.price, "EUR"), "BTC's price after the restart");
        // While the server was down the browser logged its failed connections; nothing else.
        const others = problems.filter((p) =>
          !/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to/
            .test(p)
        );
        assert.deepEqual(others, []);
        await waitInPage(
          page,
          "the stale note to go once the new server has fresh prices",
          () => !document.getElementById("freshness").textContent.includes("stale"),
        );
      });
    } finally {
      await stopServer(server, dir);
    }
  },
});
