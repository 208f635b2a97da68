/**
 * `candles`: the drawing itself (an exact small chart, colour), and the real client against the
 * real server with known hours of prices, drawn at 40 and 120 columns, and as CSV and JSON.
 *
 * @module
 */

import assert from "node:assert/strict";
import { drawCandles } from "../../lib/client/candle_chart.ts";
import type { CandlesView } from "../../lib/wire/candles.ts";
import { displayWidth } from "../../lib/text/display_width.ts";
import { startTestService } from "../helpers.ts";
import { currentHour, HOUR_MS, seedBtcPrices } from "../candle_seed.ts";
import { runClient } from "./_client_process.ts";

const VIEW: CandlesView = {
  symbol: "BTC",
  interval: "1h",
  range: "24h",
  currency: "USD",
  candles: [
    { time: "2024-01-01T10:00:00.000Z", open: 100, high: 115, low: 95, close: 110, count: 4 },
    { time: "2024-01-01T11:00:00.000Z", open: null, high: null, low: null, close: null, count: 0 },
    { time: "2024-01-01T12:00:00.000Z", open: 110, high: 110, low: 100, close: 100, count: 2 },
  ],
};

Deno.test("candles are drawn with bodies, wicks, signs and both axes", () => {
  const chart = drawCandles(VIEW, { width: 40, height: 5, color: false });
  assert.deepEqual(chart.split("\n"), [
    "BTC 1h candles, 24h (USD), times UTC",
    "$115.00 ┤ │       ",
    "        │ █     ░ ",
    "        │ █     ░ ",
    "$100.00 ┤ █     ░ ",
    " $95.00 ┤ │       ",
    "        └ +     - ",
    "          10:00 12:00",
    "Last 2024-01-01 12:00 (-9.09%)",
    "open $110.00 · high $110.00",
    "low $100.00 · close $100.00",
    "1 interval(s) without prices are left",
    "blank",
  ]);
  const colored = drawCandles(VIEW, { width: 40, height: 5, color: true });
  assert.ok(colored.includes("\x1b[32m█\x1b[0m"), "a rising body is green");
  assert.ok(colored.includes("\x1b[31m░\x1b[0m"), "a falling body is red");
});

Deno.test("candles through the client at 40 and 120 columns, and as CSV and JSON", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "candles-client-" });
  // 22 hours of prices, each hour opening where the last closed, rising or falling by turns,
  // with no prices 8 hours ago: a gap.
  const hour = currentHour();
  const prices: [number, number][] = [];
  let price = 20000;
  for (let back = 22; back >= 1; back--) {
    if (back === 8) continue;
    const start = hour - back * HOUR_MS;
    const close = price + (back % 3 === 0 ? -150 : 100);
    prices.push([start, price], [start + 20 * 60_000, Math.max(price, close) + 40]);
    prices.push([start + 40 * 60_000, Math.min(price, close) - 30], [start + 59 * 60_000, close]);
    price = close;
  }
  await seedBtcPrices(`${dir}/crypto.sqlite`, prices);
  await using env = await startTestService([], { dir });
  const args = ["--port", String(env.port)];

  for (const columns of [40, 120]) {
    await t.step(`${columns} columns: every line fits, signs and axes readable`, async () => {
      const run = await runClient([...args, "candles", "btc", "1h", "24h"], {
        COLUMNS: String(columns),
      });
      assert.equal(run.code, 0, run.err);
      const lines = run.out.trimEnd().split("\n");
      for (const line of lines) assert.ok(displayWidth(line) <= columns, `${columns}: ${line}`);
      assert.equal(lines[0], "BTC 1h candles, 24h (USD), times UTC");
      const signs = lines.find((l) => l.includes("└"))!;
      const marks = signs.slice(signs.indexOf("└") + 1).replace(/ /g, "");
      // 21 stored hours, the hour of the ingestion at start, and the empty ones are blank.
      assert.match(marks, /^[+-]{21}=$/, signs);
      assert.equal((marks.match(/-/g) ?? []).length, 7, signs);
      const times = lines[lines.indexOf(signs) + 1];
      assert.ok((times.match(/\d\d:\d\d/g) ?? []).length >= (columns === 40 ? 3 : 10), times);
      const priceRows = lines.slice(1, lines.indexOf(signs));
      assert.equal(priceRows.length, columns < 60 ? 8 : 12);
      assert.match(priceRows[0], /^ *\$\d{2},\d{3} ┤/);
      assert.ok(priceRows.some((l) => l.includes("█")) && priceRows.some((l) => l.includes("░")));
      assert.match(run.out, /interval\(s\) without prices are left\s+blank/);
    });
  }

  await t.step("--csv and --json carry the exact candles", async () => {
    const csv = await runClient([...args, "--csv", "candles", "BTC", "1h", "24h"]);
    assert.equal(csv.code, 0, csv.err);
    const rows = csv.out.trim().split("\n");
    assert.equal(rows[0], "time,open,high,low,close,count,currency");
    assert.equal(rows.length, 25);
    const first = new Date(hour - 22 * HOUR_MS).toISOString();
    assert.equal(rows.find((r) => r.startsWith(first)), `${first},20000,20140,19970,20100,4,USD`);
    const gap = new Date(hour - 8 * HOUR_MS).toISOString();
    assert.equal(rows.find((r) => r.startsWith(gap)), `${gap},,,,,0,USD`);
    const json = await runClient([...args, "--json", "--currency", "EUR", "candles", "BTC", "4h"]);
    assert.equal(json.code, 0, json.err);
    const view = JSON.parse(json.out);
    assert.equal(view.currency, "EUR");
    assert.equal(view.range, "30d");
    assert.equal(view.candles.length, 180);
    const bad = await runClient([...args, "candles", "BTC", "2h"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /"2h" is not a candle interval; use 1m, 5m, 15m, 30m, 1h, 4h, 1d/);
    const far = await runClient([...args, "candles", "BTC", "1m", "7d"]);
    assert.equal(far.code, 2);
    assert.match(far.err, /1m candles cover at most 24h; use a longer interval for 7d/);
  });
});
