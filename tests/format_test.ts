import assert from "node:assert/strict";
import type { CoinView } from "../lib/client.ts";
import {
  displayWidth,
  formatAge,
  formatChange,
  formatCoin,
  formatPrice,
  formatTable,
  useColor,
} from "../lib/format.ts";

const NOW = new Date("2022-10-04T20:19:30Z");
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/;

function coin(overrides: Partial<CoinView>): CoinView {
  return {
    symbol: "BTC",
    name: "Bitcoin",
    price: 20220,
    currency: "USD",
    rank: 1,
    market_cap: 388264926667,
    change_24h: 3.50933,
    updated_at: "2022-10-04T20:16:27.116Z",
    fetched_at: "2022-10-04T20:17:00.000Z",
    source: "coingecko",
    stale: false,
    ...overrides,
  };
}

const COINS: CoinView[] = [
  coin({}),
  coin({ symbol: "ETH", name: "Ethereum", price: 1355.37, rank: 2, change_24h: -8.2 }),
  coin({ symbol: "SHIB", name: "Shiba Inu", price: 0.00001149, rank: 13, change_24h: null }),
  coin({ symbol: "柴", name: "柴犬コイン", price: 0.000012, rank: 99, updated_at: null }),
  coin({ symbol: "CAFE", name: "Cafe\u0301 Token", price: 97000.12, rank: 100, change_24h: 0 }),
];

Deno.test("formatPrice", async (t) => {
  const cases: [number, string][] = [
    [97000.12, "97,000.12"],
    [20220, "20,220.00"],
    [1355.37, "1,355.37"],
    [1, "1.00"],
    [1.0049, "1.00"],
    [0.99999, "1.00"],
    [0.5, "0.50"],
    [0.4821, "0.4821"],
    [0.06483, "0.06483"],
    [0.000012, "0.000012"],
    [0.00001234, "0.00001234"],
    [0.0000000012345, "0.000000001235"],
    [1e-9, "0.000000001"],
    [0, "0.00"],
    [1234567890123, "1,234,567,890,123.00"],
  ];
  for (const [price, text] of cases) {
    await t.step(`${price} -> ${text}`, () => {
      assert.equal(formatPrice(price), text);
      assert.doesNotMatch(formatPrice(price), /e/i);
    });
  }
  await t.step("not a number", () => assert.equal(formatPrice(NaN), "—"));
});

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
  assert.match(lines[2], /^ {2}1 {2}BTC +Bitcoin +20,220\.00 {2}\+3\.51% +3m ago$/);
  assert.match(lines[3], /1,355\.37 {2}-8\.20%/);
  assert.match(lines[4], /0\.00001149 +— +3m ago$/);
  assert.match(lines[5], /柴犬コイン +0\.000012 .* —$/);
  // Numbers are right-aligned: each price ends at the same display column.
  const priceEnds = COINS.map((c, i) => {
    const line = lines[i + 2];
    const price = formatPrice(c.price);
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
  assert.match(table, /Evil\uFFFD\[2J\uFFFDNamex+…/);
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
      "  Price       20,220.00 USD",
      "  24h change  +3.51%",
      "  Rank        #1",
      "  Market cap  388,264,926,667 USD",
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
