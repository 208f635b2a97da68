/**
 * The real server and a fake upstream for the web page's browser tests, and what the page should
 * show for the API's coins.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { ServerProcess } from "../server_process.ts";
import { freePort, withDeadline } from "../helpers.ts";
import type { FakeUpstream } from "../fakes/fake_upstream.ts";
import { formatMoney } from "../../lib/text/format_money.ts";
import { safeText } from "../../lib/text/safe_text.ts";
import { waitInPage } from "./_browser.ts";

// In-page code runs in the browser: its globals, typed loosely (see _browser.ts).
// deno-lint-ignore no-explicit-any
declare const document: any;

const FIXTURE = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
/** A name an upstream could send: markup, an ANSI colour and a right-to-left override. */
const HOSTILE = '<img src=x onerror="window.pwned=1">\x1b[31mDoge\u202enioc';

/** The recorded markets with BTC at `btc` (number text as given) and Dogecoin's name hostile. */
export async function marketsText(btc: string): Promise<string> {
  return (await Deno.readTextFile(FIXTURE))
    .replace('"current_price": 20220,', `"current_price": ${btc},`)
    .replace('"name": "Dogecoin"', `"name": ${JSON.stringify(HOSTILE)}`);
}

/** Where the server under test is, and how to reach it from Deno. */
export interface PageServer {
  /** `http://127.0.0.1:<port>` or `https://localhost:<port>`. */
  readonly base: string;
  /** Fetch options that trust the test certificate, when there is one. */
  readonly client?: Deno.HttpClient;
}

/**
 * Starts `server.ts` with its HTTP listener on `httpPort`, ingesting every second from
 * `upstream`, and resolves once `/readyz` answers 200 (polled, within 20 s).
 */
export async function startServer(
  upstream: FakeUpstream,
  db: string,
  httpPort: number,
  at: PageServer,
  extraArgs: string[] = [],
): Promise<ServerProcess> {
  // A socket port of its own: with `--port 0` the kernel may hand the socket listener the very
  // port just found free for HTTP, and the HTTP listener then finds it taken.
  let socketPort = freePort();
  while (socketPort === httpPort) socketPort = freePort();
  const server = new ServerProcess([
    ...["--port", String(socketPort), "--http-host", "127.0.0.1", "--http-port", String(httpPort)],
    ...["--db", db, "--api-url", upstream.baseUrl, "--refresh", "1", ...extraArgs],
  ]);
  const deadline = Date.now() + 20_000;
  while (true) {
    const status = await fetch(`${at.base}/readyz`, { client: at.client })
      .then(async (response) => (await response.body?.cancel(), response.status))
      .catch(() => 0);
    if (status === 200) return server;
    if (Date.now() > deadline) {
      await server[Symbol.asyncDispose]();
      throw new Error(
        `The server's HTTP listener on ${httpPort} was not ready within 20 s; its output:\n` +
          server.output.lines.join("\n"),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** GETs an API path as JSON, asserting a 200. */
export async function getJson(at: PageServer, path: string): Promise<unknown> {
  const response = await fetch(`${at.base}${path}`, {
    headers: { accept: "application/json" },
    client: at.client,
  });
  assert.equal(response.status, 200, `${path} answered ${response.status}`);
  return await response.json();
}

/** The fields of a coin object the page's table shows. */
export interface CoinJson {
  symbol: string;
  name: string;
  price: number;
}

/** The rows the page should show for `coins` in `currency`: symbol, name, price. */
export function expectedRows(coins: CoinJson[], currency: string): string[][] {
  return coins.map((c) => [safeText(c.symbol), safeText(c.name), formatMoney(c.price, currency)]);
}

/** Waits until the table shows exactly `expected` (symbol, name, price), in that order. */
export async function waitForRows(page: Page, expected: string[][], what: string): Promise<void> {
  await waitInPage(
    page,
    what,
    ({ rows }) =>
      JSON.stringify(
        [...document.querySelectorAll("#coins tbody tr")].map((tr) =>
          [...tr.children].slice(1, 4).map((cell) => cell.textContent)
        ),
      ) === rows,
    { rows: JSON.stringify(expected) },
    () => [...document.querySelectorAll("#coins tbody tr")].map((tr) => tr.textContent),
  );
}

/** Waits until the table shows `price` (formatted text) as BTC's price. */
export async function waitForBtcPrice(page: Page, price: string, what: string): Promise<void> {
  await waitInPage(
    page,
    what,
    ({ price }) =>
      document.querySelector('#coins tbody tr[data-symbol="BTC"] td:nth-child(4)')
        ?.textContent === price,
    { price },
    () => document.querySelector('#coins tbody tr[data-symbol="BTC"]')?.textContent,
  );
}

/** Asserts that the page's WebSocket received an update event with this price of `symbol`. */
export function assertPushed(frames: string[], symbol: string, price: number): void {
  const pushed = frames.map((frame) => JSON.parse(frame)).some((message) =>
    message.event === "update" && message.data?.symbol === symbol && message.data.price === price
  );
  assert.ok(pushed, `No update event for ${symbol} at ${price} among ${frames.length} messages`);
}

/** Waits until the page says its WebSocket is live. */
export async function waitLive(page: Page, what = "the connection to be live"): Promise<void> {
  await waitInPage(page, what, () => document.getElementById("connection").textContent === "live");
}

/** Stops the server (killed if it takes over 20 s) and removes its directory. */
export async function stopServer(server: ServerProcess, dir: string): Promise<void> {
  await withDeadline(server[Symbol.asyncDispose](), "the server to stop", 20_000);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
