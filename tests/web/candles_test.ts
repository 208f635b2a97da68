/**
 * The history dialog's candles in a real browser (headless Chromium) against the real server,
 * whose database holds known BTC prices over the last day with a gap: one candle per interval
 * with prices, as the candles endpoint answers for the range, in the chosen currency; rising
 * and falling told apart by fill as well as colour; the line back on the toggle.
 * The screenshot for a person to look at goes to `data/web-candles-1280.png`.
 */

import assert from "node:assert/strict";
import { freePort } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { currentHour, HOUR_MS, seedBtcPrices } from "../candle_seed.ts";
import { marketsText, type PageServer, startServer, stopServer } from "./_page_server.ts";
import { hasChromium, launchBrowser, NO_CHROMIUM, waitInPage } from "./_browser.ts";

// In-page code runs in the browser: its globals, typed loosely (see _browser.ts).
// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const window: any;

const SHOTS = new URL("../../data/", import.meta.url);

/** Run in the page: whether the chart shows as many candles as the endpoint has with prices. */
async function candlesMatch(
  { range, interval, currency }: { range: string; interval: string; currency: string },
): Promise<number | false> {
  const pressed = (selector: string) => document.querySelector(selector).ariaPressed === "true";
  if (!pressed(`[data-range="${range}"]`) || !pressed('[data-mode="candles"]')) return false;
  const query = `interval=${interval}&range=${range}&currency=${currency}`;
  const reply = await (await fetch(`/api/v1/coins/BTC/candles?${query}`)).json();
  // deno-lint-ignore no-explicit-any
  const full = reply.candles.filter((c: any) => c.count > 0).length;
  const drawn = document.querySelectorAll("#chart-plot g.candle").length;
  const title = document.querySelector("#chart-plot svg title")?.textContent ?? "";
  return drawn === full && title.includes(`${interval} candles`) && full;
}

Deno.test({
  name: `the web page's chart draws candles in a real browser${NO_CHROMIUM}`,
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "crypto-web-candles-" });
    // Every 2 minutes from 20 h to 1 h ago, a wave with noise (so candles have wicks), with
    // nothing from 12 h to 9 h ago.
    const start = currentHour() - 20 * HOUR_MS;
    const prices: [number, number][] = [];
    let seed = 7;
    for (let ms = start; ms < currentHour() - HOUR_MS; ms += 120_000) {
      const hours = (ms - start) / HOUR_MS;
      seed = (seed * 48_271) % 2_147_483_647;
      if (hours >= 8 && hours < 11) continue;
      prices.push([ms, 20_000 + 400 * Math.sin(hours / 1.5) + (seed % 120) - 60]);
    }
    await seedBtcPrices(`${dir}/crypto.sqlite`, prices);
    await using upstream = await startFakeUpstream();
    upstream.setCoins(await marketsText("20220"));
    const httpPort = freePort();
    const at: PageServer = { base: `http://127.0.0.1:${httpPort}` };
    const server = await startServer(upstream, `${dir}/crypto.sqlite`, httpPort, at);
    await using browser = await launchBrowser();
    const problems: string[] = [];
    const page = await browser.page(problems, []);
    await Deno.mkdir(SHOTS, { recursive: true });
    await page.setViewport({ width: 1280, height: 900 });
    try {
      await page.goto(`${at.base}/`);
      await page.waitForSelector('#coins tbody tr[data-symbol="BTC"] th button');
      await page.click('#coins tbody tr[data-symbol="BTC"] th button');
      await waitInPage(
        page,
        "the line chart",
        () => document.querySelector("#chart-plot polyline"),
      );

      await t.step("from the keyboard, Candles draws one per interval with prices", async () => {
        await page.focus('[data-mode="candles"]');
        await page.keyboard.press("Enter");
        const args = { range: "24h", interval: "15m", currency: "USD" };
        const drawn = await waitInPage(
          page,
          "24 h of 15m candles",
          candlesMatch,
          args,
          () => document.getElementById("chart-plot").innerHTML.slice(0, 300),
        );
        // 19 hours of prices, 3 of them missing: about 64 candles, the gap not drawn.
        assert.ok(Number(drawn) >= 60 && Number(drawn) <= 80, `drew ${drawn}`);
        assert.equal(
          await page.evaluate(() => document.querySelector("#chart-plot polyline")),
          null,
        );
      });

      await t.step("rising candles are filled, falling ones hollow, in other colours", async () => {
        const looks = await page.evaluate(() =>
          ["up", "down"].map((kind) => {
            const body = document.querySelector(`#chart-plot g.candle.${kind} rect`);
            const style = window.getComputedStyle(body);
            return { fill: style.fill, stroke: style.stroke };
          })
        );
        const background = await page.evaluate(() =>
          window.getComputedStyle(document.getElementById("chart")).backgroundColor
        );
        assert.equal(looks[0].fill, looks[0].stroke, "a rising body is filled with its colour");
        assert.equal(looks[1].fill, background, "a falling body is hollow");
        assert.notEqual(looks[0].stroke, looks[1].stroke, "rising and falling have one colour");
        const wicks = await page.evaluate(() =>
          [...document.querySelectorAll("#chart-plot g.candle")].filter(
            // deno-lint-ignore no-explicit-any
            (g: any) =>
              g.querySelector("line").getBBox().height > g.querySelector("rect").getBBox().height,
          ).length
        );
        assert.ok(wicks > 10, `only ${wicks} candles have a wick past their body`);
      });

      for (const [range, interval] of [["7d", "4h"], ["1h", "1m"]]) {
        await t.step(`${range}: ${interval} candles`, async () => {
          await page.click(`[data-range="${range}"]`);
          await waitInPage(page, `${range} of ${interval} candles`, candlesMatch, {
            range,
            interval,
            currency: "USD",
          });
        });
      }

      await t.step("in EUR: the candles the server converts, with € on the axis", async () => {
        await page.click('[data-range="24h"]');
        await page.select("#currency", "EUR");
        const args = { range: "24h", interval: "15m", currency: "EUR" };
        await waitInPage(page, "EUR candles", candlesMatch, args);
        await waitInPage(
          page,
          "€ on the price axis",
          () => document.querySelector("#chart-plot svg > text")?.textContent.includes("€"),
        );
        await page.screenshot({ path: new URL("web-candles-1280.png", SHOTS).pathname });
      });

      await t.step("at 360 px the candles fit without sideways scroll", async () => {
        await page.setViewport({ width: 360, height: 740 });
        await waitInPage(page, "candles redrawn at 360 px", () => {
          const svg = document.querySelector("#chart-plot svg");
          return svg !== null && svg.getBoundingClientRect().right <= 360 &&
            document.querySelectorAll("#chart-plot g.candle").length > 0;
        });
        const widths = await page.evaluate(
          () => [document.documentElement.scrollWidth, document.documentElement.clientWidth],
        );
        assert.ok(widths[0] <= widths[1], `the page scrolls sideways at 360 px: ${widths}`);
        await page.screenshot({ path: new URL("web-candles-360.png", SHOTS).pathname });
        await page.setViewport({ width: 1280, height: 900 });
      });

      await t.step("Line brings the line back", async () => {
        await page.click('[data-mode="line"]');
        await waitInPage(
          page,
          "the line without candles",
          () =>
            document.querySelector("#chart-plot polyline") !== null &&
            document.querySelectorAll("#chart-plot g.candle").length === 0 &&
            document.querySelector('[data-mode="line"]').ariaPressed === "true",
        );
      });

      await t.step("the console has no errors", () => {
        assert.deepEqual(problems, []);
      });
    } finally {
      await stopServer(server, dir);
    }
  },
});
