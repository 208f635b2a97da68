import assert from "node:assert/strict";
import type { CoinView } from "../../lib/wire/coin_view.ts";
import {
  formatCurrencies,
  formatHistory,
  formatUpdateLine,
  useColor,
} from "../../lib/client/format.ts";
import { displayWidth } from "../../lib/text/display_width.ts";
import { formatChange } from "../../lib/text/format_change.ts";
import { formatCoin } from "../../lib/text/format_coin.ts";
import { formatColumn, formatMoney } from "../../lib/text/format_money.ts";
import { formatTable } from "../../lib/text/format_table.ts";
import { formatAge } from "../../lib/text/format_time.ts";
import type { History } from "../../lib/client/price_client.ts";
import { coinView } from "../helpers.ts";

const NOW = new Date("2022-10-04T20:19:30Z");
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/;

function coin(overrides: Partial<CoinView>): CoinView {
  return coinView("BTC", "Bitcoin", 20220, 1, {
    market_cap: 388264926667,
    change_24h: 3.50933,
    ...overrides,
  });
}

const COINS: CoinView[] = [
  coin({}),
  coin({ symbol: "ETH", name: "Ethereum", price: 1355.37, rank: 2, change_24h: -8.2 }),
  coin({ symbol: "SHIB", name: "Shiba Inu", price: 0.00001149, rank: 13, change_24h: null }),
  coin({ symbol: "柴", name: "柴犬コイン", price: 0.000012, rank: 99, updated_at: null }),
  coin({ symbol: "CAFE", name: "Cafe\u0301 Token", price: 97000.12, rank: 100, change_24h: 0 }),
];

Deno.test("formatChange", () => {
  assert.equal(formatChange(3.50933), "+3.51%");
  assert.equal(formatChange(-8.2), "-8.20%");
  assert.equal(formatChange(0), "0.00%");
  assert.equal(formatChange(-0.001), "0.00%");
  assert.equal(formatChange(null), "—");
});

Deno.test("formatAge", () => {
  assert.equal(formatAge("2022-10-04T20:19:18Z", NOW), "12s ago");
  assert.equal(formatAge("2022-10-04T20:16:27.116Z", NOW), "3m ago");
  assert.equal(formatAge("2022-10-04T15:00:00Z", NOW), "5h ago");
  assert.equal(formatAge("2022-10-02T08:05:00Z", NOW), "2022-10-02 08:05 UTC");
  assert.equal(formatAge("2022-10-04T20:19:31Z", NOW), "just now");
  assert.equal(formatAge(null, NOW), "—");
  assert.equal(formatAge("yesterday", NOW), "—");
});

Deno.test("displayWidth counts terminal columns", () => {
  assert.equal(displayWidth("Bitcoin"), 7);
  assert.equal(displayWidth("柴犬"), 4);
  assert.equal(displayWidth("Cafe\u0301"), 4);
  assert.equal(displayWidth("\x1b[32m+3.51%\x1b[0m"), 6);
});

Deno.test("formatTable aligns every row to the same display width", () => {
  const table = formatTable(COINS, { color: false, now: NOW });
  const lines = table.split("\n");
  assert.equal(lines.length, 2 + COINS.length);
  const widths = new Set(lines.map(displayWidth));
  assert.equal(widths.size, 1, `rows differ in width:\n${table}`);
  assert.doesNotMatch(table, ANSI);
  assert.match(lines[0], /^\s*#\s+Symbol\s+Name\s+Price \(USD\)\s+24h\s+Updated$/);
  assert.match(lines[2], /^ {2}1 {2}BTC +Bitcoin +\$20,220\.00 {2}\+3\.51% +3m ago$/);
  assert.match(lines[3], /\$1,355\.37 {2}-8\.20%/);
  assert.match(lines[4], /\$0\.00001149 +— +3m ago$/);
  // One precision for the small prices of the column.
  assert.match(lines[5], /柴犬コイン +\$0\.00001200 .* —$/);
  // Numbers are right-aligned: each price ends at the same display column.
  const prices = formatColumn(COINS.map((c) => c.price), "USD");
  const priceEnds = COINS.map((_, i) => {
    const line = lines[i + 2];
    const price = prices[i];
    return displayWidth(line.slice(0, line.indexOf(price) + price.length));
  });
  assert.equal(new Set(priceEnds).size, 1, table);
});

Deno.test("formatTable colours changes and headers only when asked", () => {
  const plain = formatTable(COINS, { color: false, now: NOW });
  const colored = formatTable(COINS, { color: true, now: NOW });
  assert.ok(colored.includes("\x1b[32m+3.51%\x1b[0m"), "positive change in green");
  assert.ok(colored.includes("\x1b[31m-8.20%\x1b[0m"), "negative change in red");
  assert.ok(colored.includes("\x1b[2m#\x1b[0m"), "dim header");
  // deno-lint-ignore no-control-regex
  assert.equal(colored.replace(/\x1b\[[0-9;]*m/g, ""), plain);
});

Deno.test("formatTable keeps server text from controlling the terminal", () => {
  const table = formatTable([coin({ name: "Evil\x1b[2J\nName" + "x".repeat(60) })], {
    color: false,
    now: NOW,
  });
  assert.ok(!table.includes("\x1b"), "no escape character");
  assert.equal(table.split("\n").length, 3);
  assert.match(table, /Evil\\x1b\[2J\\nNamex+…/);
});

Deno.test("formatTable notes stale data and handles an empty list", () => {
  const table = formatTable([coin({ stale: true })], { color: false, now: NOW });
  assert.match(
    table.split("\n").at(-1)!,
    /^Prices may be out of date: the server last fetched them 2m ago from coingecko$/,
  );
  assert.equal(formatTable([], { color: false, now: NOW }), "No coins available");
});

Deno.test("formatCoin prints aligned label/value lines", () => {
  const text = formatCoin(COINS[0], { color: false, now: NOW });
  assert.equal(
    text,
    [
      "Bitcoin (BTC)",
      "  Price       $20,220.00",
      "  24h change  +3.51%",
      "  Rank        #1",
      "  Market cap  $388,264,926,667",
      "  Updated     3m ago",
      "  Source      coingecko, fetched 2m ago",
    ].join("\n"),
  );
  const unknown = formatCoin(coin({ market_cap: null, change_24h: null }), {
    color: true,
    now: NOW,
  });
  assert.match(unknown, /Market cap.* {2}—/);
  assert.match(unknown, ANSI);
});

Deno.test("useColor needs a terminal and an unset or empty NO_COLOR", () => {
  const tty = { isTerminal: () => true };
  const pipe = { isTerminal: () => false };
  const env = (value: string | undefined) => (name: string) => name === "NO_COLOR" ? value : "";
  assert.equal(useColor(tty, env(undefined)), true);
  assert.equal(useColor(tty, env("")), true);
  assert.equal(useColor(tty, env("1")), false);
  assert.equal(useColor(pipe, env(undefined)), false);
});

Deno.test("formatMoney writes each currency as its country does", async (t) => {
  const cases: [number, string, string, string?][] = [
    [20220, "USD", "$20,220.00"],
    [0.00001149, "USD", "$0.00001149"],
    // Four significant digits, trailing zeros kept, so amounts of one size share a precision.
    [0.5, "USD", "$0.5000"],
    [0.418, "EUR", "€0.4180"],
    [0.0648, "USD", "$0.06480"],
    [0.99999, "USD", "$1.00"],
    // VND: no decimals, "." groups, the symbol after the amount.
    [123456789, "VND", "123.456.789\u00a0₫"],
    [476543210.6, "vnd", "476.543.211\u00a0₫"],
    // A coin worth a fraction of a đồng still shows its value, not "0 ₫".
    [0.27123, "VND", "0,2712\u00a0₫"],
    [12.3456, "VND", "12,35\u00a0₫"],
    [99.996, "VND", "100\u00a0₫"],
    [0, "VND", "0\u00a0₫"],
    [1355.37, "EUR", "€1,355.37"],
    [0.000012, "EUR", "€0.00001200"],
    [-5.5, "EUR", "-€5.50"],
    [1234.5, "JPY", "¥1,235"],
    // Currencies Intl does not know are written with their unit from CURRENCIES, or the code.
    [0.0677, "ETH", "0.06770 ETH", "ETH"],
    [2022000000, "SATS", "2,022,000,000.00 sats", "sats"],
    [1234.5, "XAU", "1,234.50 XAU"],
  ];
  for (const [amount, currency, text, unit] of cases) {
    await t.step(`${amount} ${currency} -> ${text}`, () => {
      assert.equal(formatMoney(amount, currency, { unit }), text);
    });
  }
  await t.step("whole units for totals, no direction marks, no exponents", () => {
    assert.equal(formatMoney(388264926667.7, "USD", { whole: true }), "$388,264,926,668");
    assert.equal(formatMoney(9318358240024, "VND", { whole: true }), "9.318.358.240.024\u00a0₫");
    assert.doesNotMatch(formatMoney(1234.5, "SAR"), /[\u200e\u200f\u061c]/);
    assert.doesNotMatch(formatMoney(1e-12, "VND"), /e/i);
    assert.equal(formatMoney(NaN, "USD"), "—");
  });
});

Deno.test("formatTable and formatCoin use the coins' currency", () => {
  const vnd = coin({ price: 476543210.6, currency: "VND", market_cap: 9318358240024000 });
  const shib = coin({ symbol: "SHIB", price: 0.27123, currency: "VND", rank: 13 });
  const table = formatTable([vnd, shib], { color: false, now: NOW }).split("\n");
  assert.match(table[0], /Price \(VND\)/);
  assert.match(table[2], /Bitcoin +476\.543\.211\u00a0₫/);
  assert.match(table[3], /0,2712\u00a0₫/);
  assert.equal(new Set(table.map(displayWidth)).size, 1);
  const one = formatCoin(vnd, { color: false, now: NOW });
  assert.match(one, /Price {7}476\.543\.211\u00a0₫\n/);
  assert.match(one, /Market cap {2}9\.318\.358\.240\.024\.000\u00a0₫\n/);
  const eth = formatCoin(coin({ price: 15.723, currency: "ETH" }), {
    color: false,
    now: NOW,
    unit: "ETH",
  });
  assert.match(eth, /Price {7}15\.72 ETH/);
});

Deno.test("formatTable colours the price by its last move when asked", () => {
  const eth = coin({ symbol: "ETH", name: "Ethereum", price: 1355.37, rank: 2 });
  const moves = new Map([["BTC", 1], ["ETH", -1]]);
  const table = formatTable([coin({}), eth], { color: true, now: NOW, moves });
  assert.ok(table.includes("\x1b[32m$20,220.00\x1b[0m"), table);
  assert.ok(table.includes("\x1b[31m$1,355.37\x1b[0m"), table);
  assert.ok(!formatTable([coin({})], { color: false, now: NOW, moves }).includes("\x1b"));
});

function history(prices: number[], overrides: Partial<History> = {}): History {
  const points = prices.map((p, i): [string, number] => [
    new Date(Date.parse("2022-10-03T20:17:00Z") + i * 60_000).toISOString(),
    p,
  ]);
  return {
    symbol: "BTC",
    range: "24h",
    currency: "USD",
    count: points.length,
    points,
    first: prices[0] ?? null,
    last: prices.at(-1) ?? null,
    min: prices.length ? Math.min(...prices) : null,
    max: prices.length ? Math.max(...prices) : null,
    change_pct: prices.length ? ((prices.at(-1)! - prices[0]) / prices[0]) * 100 : null,
    ...overrides,
  };
}

Deno.test("formatHistory prints a summary and a sparkline as wide as the terminal", () => {
  const rising = Array.from({ length: 200 }, (_, i) => 19500 + i * 5);
  const text = formatHistory(history(rising, { count: 1441 }), { color: false, width: 40 });
  const lines = text.split("\n");
  assert.deepEqual(lines.slice(0, 7), [
    "BTC over the last 24h (USD)",
    "  Last    $20,495.00",
    "  Change  +5.10%",
    "  First   $19,500.00",
    "  Low     $19,500.00",
    "  High    $20,495.00",
    // Too long for 40 columns: wrapped at its spaces, under itself.
    "  Prices  1,441 stored, 200 shown,",
  ]);
  assert.deepEqual(lines.slice(7, 9), [
    "          2022-10-03 20:17 UTC to",
    "          2022-10-03 23:36 UTC",
  ]);
  const spark = lines[9];
  assert.equal(spark.length, 40);
  assert.match(spark, /^ {2}▁[▁-█]*█$/);
  assert.equal(lines.length, 10);

  const vnd = formatHistory(history([476543210, 480000000], { currency: "VND" }), {
    color: true,
    width: 50,
    note: "Converted from USD at the current rate",
  });
  assert.match(vnd, /Last.*480\.000\.000\u00a0₫/);
  assert.ok(vnd.includes("\x1b[32m▁█\x1b[0m"), vnd);
  assert.match(vnd, /Converted from USD at the current rate/);
  assert.equal(
    formatHistory(history([]), { color: false, width: 80 }),
    "No prices stored for BTC in the last 24h",
  );
});

Deno.test("formatCurrencies lists code, unit, name and type", () => {
  const text = formatCurrencies([
    { code: "USD", name: "US Dollar", unit: "$", type: "fiat" },
    { code: "VND", name: "Vietnamese đồng", unit: "₫", type: "fiat" },
    { code: "SATS", name: "Satoshi", unit: "sats", type: "crypto" },
  ], { color: false });
  assert.equal(
    text,
    [
      "Code  Unit  Name             Type",
      "USD   $     US Dollar        fiat",
      "VND   ₫     Vietnamese đồng  fiat",
      "SATS  sats  Satoshi          crypto",
    ].join("\n"),
  );
});

Deno.test("formatUpdateLine is one line per update for pipes", () => {
  assert.equal(
    formatUpdateLine(coin({ fetched_at: "2026-11-24T17:00:00.000Z" })),
    "2026-11-24T17:00:00Z BTC $20,220.00 +3.51%",
  );
  assert.equal(
    formatUpdateLine(coin({ currency: "VND", price: 476543210.6, change_24h: -1 })),
    "2022-10-04T20:17:00Z BTC 476.543.211\u00a0₫ -1.00%",
  );
});

Deno.test("formatTable fits the terminal: more columns when wide, never wider than it", async (t) => {
  const headers = (width: number) =>
    formatTable(COINS, { color: false, now: NOW, width }).split("\n")[0].trim().split(/\s{2,}/);
  const all = ["#", "Symbol", "Name", "Price (USD)", "24h", "Market cap", "Updated", "Source"];
  await t.step("250 columns: market cap and source too", () => {
    assert.deepEqual(headers(250), all);
  });
  await t.step("the least useful columns go first", () => {
    assert.deepEqual(headers(80), all.slice(0, 7));
    assert.deepEqual(headers(70), ["#", "Symbol", "Name", "Price (USD)", "24h", "Updated"]);
    assert.deepEqual(headers(52), ["#", "Symbol", "Name", "Price (USD)", "24h"]);
    assert.deepEqual(headers(40), ["Symbol", "Name", "Price (USD)", "24h"]);
    assert.deepEqual(headers(30), ["Symbol", "Price (USD)", "24h"]);
  });
  for (const width of [30, 40, 55, 70, 80, 120, 250]) {
    await t.step(`every line fits in ${width} columns, also the stale note`, () => {
      const stale = [...COINS, coin({ symbol: "OLD", stale: true, rank: 101 })];
      const text = formatTable(stale, { color: false, now: NOW, width });
      for (const line of text.split("\n")) {
        assert.ok(displayWidth(line) <= width, `${displayWidth(line)}: ${line}`);
      }
    });
  }
  await t.step("names are shortened before they are dropped", () => {
    const text = formatTable(COINS, { color: false, now: NOW, width: 35 });
    assert.match(text, /^Symbol {2}Name +Price/);
    assert.match(text, /\nETH {5}Ether… /);
  });
});

/**
 * Whether `text` fits `width` columns: every line does, but for one that is a single word (a
 * price or a time, never cut) wider than the terminal itself.
 */
function fits(text: string, width: number): boolean {
  return text.split("\n").every((line) => displayWidth(line) <= width || !/\s/.test(line.trim()));
}

Deno.test("narrow terminals (10-19 columns): list, price and history fit, nothing cut", async (t) => {
  const stale = [...COINS, coin({ symbol: "OLD", stale: true, rank: 101 })];
  const rising = Array.from({ length: 50 }, (_, i) => 19500 + i * 5);
  for (let width = 10; width <= 19; width++) {
    await t.step(`${width} columns`, () => {
      const table = formatTable(stale, { color: false, now: NOW, width });
      assert.ok(fits(table, width), `\n${table}`);
      for (const price of ["$20,220.00", "$1,355.37", "$0.00001149", "$97,000.12"]) {
        assert.ok(table.includes(price), `${price} is shown whole:\n${table}`);
      }
      const one = formatCoin(COINS[0], { color: false, now: NOW, width });
      assert.ok(fits(one, width), `\n${one}`);
      assert.match(one, /\$20,220\.00/);
      const text = formatHistory(history(rising), { color: false, width });
      assert.ok(fits(text, width), `\n${text}`);
      assert.match(text, /\$19,745\.00/);
    });
  }
  await t.step("below the two-column table, each price goes under its symbol", () => {
    assert.equal(
      formatTable(COINS.slice(0, 2), { color: false, now: NOW, width: 15 }),
      ["Price (USD)", "───────────", "BTC", " $20,220.00", "ETH", "  $1,355.37"].join("\n"),
    );
    // Too narrow for the header: the currency alone.
    assert.match(formatTable(COINS, { color: false, now: NOW, width: 10 }), /^USD\n─{10}\n/);
  });
  await t.step("the summary goes under its labels, the same way for every field", () => {
    const lines = formatHistory(history([20000, 20100]), { color: false, width: 16 }).split("\n");
    assert.deepEqual(lines.slice(0, 6), [
      "BTC over the",
      "last 24h (USD)",
      "Last",
      "  $20,100.00",
      "Change",
      "  +0.50%",
    ]);
  });
});

Deno.test("a coin named by its symbol is not named twice, and headers name the unit", () => {
  const xrp = coin({ symbol: "XRP", name: "XRP", price: 0.4869 });
  assert.match(formatCoin(xrp, { color: false, now: NOW }), /^XRP\n/);
  assert.match(formatCoin(coin({}), { color: false, now: NOW }), /^Bitcoin \(BTC\)\n/);
  const sats = coin({ currency: "SATS", price: 100_000_000 });
  const table = formatTable([sats], { color: false, now: NOW, unit: "sats" });
  assert.match(table, /Price \(sats\)/);
  assert.match(table, /100,000,000\.00 sats/);
  assert.match(
    formatTable([coin({ currency: "EUR" })], { color: false, now: NOW }),
    /Price \(EUR\)/,
  );
});

Deno.test("one column, one precision: a table's prices and a history's summary", () => {
  const coins = [
    coin({ symbol: "XRP", price: 0.418, rank: 6 }),
    coin({ symbol: "ADA", price: 0.3819, rank: 7 }),
    coin({ symbol: "DOGE", price: 0.06483, rank: 8 }),
  ];
  const table = formatTable(coins, { color: false, now: NOW });
  assert.match(table, /\$0\.41800 /);
  assert.match(table, /\$0\.38190 /);
  assert.match(table, /\$0\.06483 /);
  const summary = formatHistory({
    symbol: "DOGE",
    range: "24h",
    currency: "USD",
    count: 2,
    points: [["2022-10-04T19:00:00Z", 0.06483], ["2022-10-04T20:00:00Z", 0.0648]],
    first: 0.06483,
    last: 0.0648,
    min: 0.0648,
    max: 0.06483,
    change_pct: -0.05,
  }, { color: false, now: NOW, width: 40 });
  assert.match(summary, /Low +\$0\.06480\n/);
  assert.match(summary, /First +\$0\.06483\n/);
});
