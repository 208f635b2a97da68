import assert from "node:assert/strict";
import { lineChart } from "../../lib/client/chart.ts";
import { formatHistory } from "../../lib/client/format.ts";
import { displayWidth } from "../../lib/text/display_width.ts";
import type { History } from "../../lib/client/price_client.ts";

const T0 = Date.parse("2022-10-04T00:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const options = {
  label: (p: number) => `$${p.toFixed(0)}`,
  time: (ms: number) => new Date(ms).toISOString().slice(11, 16),
};

/** The braille cells of a chart line, without its axis label. */
const cells = (line: string) => [...line.slice(line.indexOf("┤") + 1)];
const BLANK = "\u2800";

Deno.test("lineChart draws a rising series from the bottom left to the top right", () => {
  const points: [string, number][] = Array.from({ length: 20 }, (_, i) => [at(i), 100 + i]);
  const lines = lineChart(points, { ...options, width: 40, height: 4 });
  assert.equal(lines.length, 6, "4 rows, the axis and its labels");
  for (const line of lines) assert.ok(displayWidth(line) <= 40, line);
  assert.match(lines[0], /^\$119 ┤/);
  assert.match(lines[3], /^\$100 ┤/);
  assert.notEqual(cells(lines[3])[0], BLANK, "starts at the bottom left");
  assert.notEqual(cells(lines[0]).at(-1), BLANK, "ends at the top right");
  assert.equal(cells(lines[0])[0], BLANK);
  assert.match(lines[4], /^ {5}└─+$/);
  assert.match(lines[5], /^ {6}00:00 +00:19 UTC$/);
});

Deno.test("lineChart leaves a gap where the series has one, and starts where it starts", () => {
  // Every minute for 10 minutes, nothing for 40, every minute again for 10.
  const points: [string, number][] = [
    ...Array.from({ length: 10 }, (_, i) => [at(i), 100] as [string, number]),
    ...Array.from({ length: 10 }, (_, i) => [at(50 + i), 110] as [string, number]),
  ];
  const lines = lineChart(points, { ...options, width: 66, height: 4 });
  const columns = cells(lines[0]).length;
  const used = (col: number) => lines.slice(0, 4).some((l) => cells(l)[col] !== BLANK);
  const middle = Array.from({ length: columns }, (_, c) => c)
    .filter((c) => c > columns * 0.25 && c < columns * 0.75);
  assert.ok(middle.every((c) => !used(c)), "nothing drawn across the gap");
  assert.ok(used(0) && used(columns - 1));

  // A window wider than the data: the line starts where the prices start.
  const late = lineChart(points, { ...options, width: 66, height: 4, from: T0 - 60 * 60_000 });
  const lateUsed = (col: number) => late.slice(0, 4).some((l) => cells(l)[col] !== BLANK);
  assert.ok(!lateUsed(0) && !lateUsed(10));
});

function history(
  points: [string, number][],
  range: "1h" | "24h" = "1h",
  summary: Partial<History> = {},
): History {
  const prices = points.map(([, p]) => p);
  return {
    symbol: "BTC",
    range,
    currency: "USD",
    count: points.length,
    points,
    first: prices[0],
    last: prices.at(-1)!,
    min: Math.min(...prices),
    max: Math.max(...prices),
    change_pct: 1,
    ...summary,
  };
}

Deno.test("formatHistory draws the chart when wide, the sparkline when narrow", () => {
  const points: [string, number][] = Array.from({ length: 30 }, (_, i) => [at(i * 2), 20000 + i]);
  const wide = formatHistory(history(points), { color: false, width: 100 });
  assert.match(wide, /\$20,029\.00 ┤/);
  assert.match(wide, /└─+\n {12}23:58 +00:58 UTC$/);
  for (const line of wide.split("\n")) assert.ok(displayWidth(line) <= 100, line);
  const narrow = formatHistory(history(points), { color: false, width: 40 });
  assert.match(narrow, /\n {2}[▁-█]+$/);
  assert.doesNotMatch(narrow, /┤/);
});

Deno.test("lineChart fits any width: labels, then the axis times go before a line is too wide", () => {
  const points: [string, number][] = Array.from({ length: 30 }, (_, i) => [at(i), 20_000 + i]);
  const money = { ...options, label: (p: number) => `$${p.toFixed(2)}` };
  for (let width = 2; width <= 40; width++) {
    const lines = lineChart(points, { ...money, width, height: 4 });
    for (const line of lines) {
      assert.ok(displayWidth(line) <= width, `width ${width}: ${JSON.stringify(line)}`);
    }
    assert.ok(lines.slice(0, 4).every((l) => cells(l).length >= 1), `width ${width}: a plot`);
  }
  // 12 columns: no room for "$20029.00 ┤" and a plot, so the plot takes them all.
  const narrow = lineChart(points, { ...money, width: 12, height: 4 });
  assert.match(narrow[0], /^┤[\u2800-\u28ff]{11}$/);
  assert.equal(narrow[4], `└${"─".repeat(11)}`);
  assert.equal(narrow[5], " 00:29 UTC".padStart(12), "only the end time fits");
  // 8 columns: not even that.
  assert.equal(lineChart(points, { ...money, width: 8, height: 4 }).length, 5);
  // Wide enough again, the labels are back.
  assert.match(lineChart(points, { ...money, width: 30, height: 4 })[0], /^\$20029\.00 ┤/);
});

/** A history of `prices`, one a minute from T0, over `range`. */
function historyOf(prices: number[], range: "1h" | "24h", summary: Partial<History> = {}): History {
  return history(prices.map((p, i): [string, number] => [at(i), p]), range, summary);
}

Deno.test("the chart's price axis agrees with the summary's low and high", () => {
  // 200 points thinned from more: the extremes the summary names are not among them.
  const prices = Array.from({ length: 60 }, (_, i) => 20127.8 + (i % 10) * 15.07);
  const text = formatHistory(
    historyOf(prices, "1h", { count: 1440, min: 20043.3, max: 20318 }),
    { color: false, width: 80 },
  );
  assert.match(text, /Low {5}\$20,043\.30\n/);
  assert.match(text, /High {4}\$20,318\.00\n/);
  const axis = text.split("\n").filter((line) => line.includes("┤"));
  assert.match(axis[0], /^\$20,318\.00 ┤/, text);
  assert.match(axis.at(-1)!, /^\$20,043\.30 ┤/, text);
});

Deno.test("too little history for the window says so instead of an empty chart", () => {
  // A fresh server: three prices over two minutes of a one-hour window.
  const text = formatHistory(historyOf([20220, 20225, 20230], "1h"), {
    color: false,
    width: 80,
  });
  assert.doesNotMatch(text, /┤/);
  assert.match(
    text,
    /\n {2}Too little history yet for a chart: prices since 2022-10-04 00:00 UTC$/,
  );
});
