/**
 * Headless Chromium for the web page's tests, driven by puppeteer-core: a fresh profile per
 * launch, every wait with a deadline and a message, and the page's console errors, uncaught
 * exceptions and failed requests collected for the test to check.
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { commandWorks } from "../helpers.ts";

// In-page code runs in the browser: its globals, typed loosely here (tests are checked without
// the DOM library, which would clash with Deno's own types).
// deno-lint-ignore no-explicit-any
declare const document: any;

/** The browser used: `CHROMIUM` from the environment, else Debian's package. */
export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Whether Chromium runs here; the browser tests are ignored without it. */
export const hasChromium = await commandWorks(CHROMIUM, ["--version"]);

/** Why the browser tests are ignored, for their names; empty when they run. */
export const NO_CHROMIUM = hasChromium
  ? ""
  : ` (ignored: ${CHROMIUM} is missing; apt-get install chromium)`;

/** How long one wait on the page may take before the test fails. */
export const PAGE_DEADLINE_MS = 15_000;

/** A running headless Chromium with its own profile, closed and removed on dispose. */
export interface TestBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /**
   * A new tab whose console errors, page errors and failed requests go to `problems`, and the
   * text of every WebSocket message it receives to `frames`.
   */
  page(problems: string[], frames?: string[]): Promise<Page>;
}

/** Starts headless Chromium with a fresh profile; `extraArgs` e.g. to accept a test certificate. */
export async function launchBrowser(extraArgs: string[] = []): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "crypto-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: PAGE_DEADLINE_MS,
    protocolTimeout: PAGE_DEADLINE_MS * 2,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      ...extraArgs,
    ],
  });
  return {
    browser,
    async page(problems: string[], frames: string[] = []): Promise<Page> {
      const page = await browser.newPage();
      const cdp = await page.createCDPSession();
      await cdp.send("Network.enable");
      cdp.on("Network.webSocketFrameReceived", (event) => {
        frames.push(event.response.payloadData);
      });
      page.setDefaultTimeout(PAGE_DEADLINE_MS);
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      page.on("requestfailed", (request) => {
        problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
      });
      page.on("response", (response) => {
        if (response.status() >= 400) {
          problems.push(`HTTP ${response.status()}: ${response.url()}`);
        }
      });
      return page;
    },
    async [Symbol.asyncDispose]() {
      await browser.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Waits until `predicate(arg)`, run in the page, is truthy, and returns its value; fails after
 * the deadline with `what` and the last value seen by `describe` (run in the page too).
 */
export async function waitInPage(
  page: Page,
  what: string,
  // deno-lint-ignore no-explicit-any
  predicate: (arg: any) => unknown,
  arg: Record<string, unknown> = {},
  // deno-lint-ignore no-explicit-any
  describe?: (arg: any) => unknown,
): Promise<unknown> {
  try {
    const handle = await page.waitForFunction(predicate, {
      timeout: PAGE_DEADLINE_MS,
      polling: 50,
    }, arg);
    return await handle.jsonValue();
  } catch (error) {
    const seen = describe === undefined
      ? ""
      : `; the page had ${JSON.stringify(await page.evaluate(describe, arg).catch(String))}`;
    throw new Error(`Timed out after ${PAGE_DEADLINE_MS} ms waiting for ${what}${seen}`, {
      cause: error,
    });
  }
}

/** The table's rows as the page shows them: symbol, name, price and change cell text. */
export function tableRows(page: Page): Promise<string[][]> {
  return page.evaluate(readRows);
}

/** Run in the page: the visible rows' cell texts (symbol, name, price, 24 h). */
export function readRows(): string[][] {
  return [...document.querySelectorAll("#coins tbody tr")]
    // deno-lint-ignore no-explicit-any
    .filter((tr: any) => !tr.hidden)
    // deno-lint-ignore no-explicit-any
    .map((tr: any) => [...tr.children].slice(1, 5).map((cell: any) => cell.textContent ?? ""));
}
