/**
 * The portfolio: its file (round trips, hand edits, errors naming the line, atomic writes that a
 * full disk cannot tear) and its valuation through the real client against the real server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { commandWorks, startTestService } from "../helpers.ts";
import {
  formatPortfolio,
  type Lot,
  parsePortfolio,
  PortfolioFileError,
} from "../../lib/client/portfolio_file.ts";
import { runClient, RunningClient } from "./_client_process.ts";

const FIXTURE = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
/** The 2021 rates fixture: what one BTC is worth in USD and EUR. */
const USD = 61388.956;
const EUR = 52922.867;

Deno.test("the portfolio file reads back what was written, and what a person wrote", () => {
  const lots: Lot[] = [
    { symbol: "BTC", amount: 0.5, price: 20000, currency: "USD", date: "2024-01-02" },
    { symbol: "ETH", amount: 1e-7, price: 1234.5678, currency: "EUR" },
  ];
  assert.deepEqual(parsePortfolio(formatPortfolio(lots), "p.toml"), lots);
  const byHand = `# my coins
[[lot]]
symbol = "btc"   # bought on the dip
amount = 2
price = 0
date = 2023-05-06
`;
  assert.deepEqual(parsePortfolio(byHand, "p.toml"), [
    { symbol: "BTC", amount: 2, price: 0, currency: "USD", date: "2023-05-06" },
  ]);
  assert.deepEqual(parsePortfolio("", "p.toml"), []);
});

Deno.test("a malformed portfolio file is refused with the line at fault", () => {
  const cases: [string, RegExp][] = [
    ['[[lot]]\nsymbol = "BTC"\namount = = 1\n', /p\.toml line 3: expected TOML/],
    [
      '[[lot]]\nsymbol = "BTC"\namount = 1\nprice = 1\n\n[[lot]]\nsymbol = "ETH"\namount = -1\n',
      /line 8: expected amount = a number of coins above 0/,
    ],
    ['[[lot]]\nsymbol = "BTC"\namount = 1\nprice = "cheap"\n', /line 4: expected price =/],
    ['[[lot]]\nsymbol = "B C"\namount = 1\nprice = 1\n', /line 2: expected symbol =/],
    [
      '[[lot]]\nsymbol = "BTC"\namount = 1\nprice = 1\ncolour = "red"\n',
      /line 5: expected symbol, amount, price, currency or date, got colour/,
    ],
    ['title = "mine"\n', /line 1: expected only \[\[lot\]\] tables/],
    [
      '[[lot]]\nsymbol = "BTC"\namount = 1\nprice = 1\ndate = "yesterday"\n',
      /line 5: expected date = YYYY-MM-DD/,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parsePortfolio(text, "p.toml"), (err: unknown) => {
      assert.ok(err instanceof PortfolioFileError);
      assert.match(err.message, /^Cannot parse portfolio p\.toml line \d+: /);
      assert.match(err.message, message);
      return true;
    }, text);
  }
});

Deno.test("portfolio add and remove change the file; a malformed one is never overwritten", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portfolio-test-" });
  try {
    // The default place, under XDG_CONFIG_HOME, created when missing.
    const env = { XDG_CONFIG_HOME: dir };
    const path = `${dir}/crypto-client/portfolio.toml`;
    for (
      const args of [["BTC", "0.5", "--price", "20000", "--date", "2024-01-02"], [
        "btc",
        "0.25",
        "--price",
        "18000",
        "--currency",
        "EUR",
      ], ["ETH", "2", "--price", "1500"]]
    ) {
      const added = await runClient(["portfolio", "add", ...args], env);
      assert.equal(added.code, 0, added.err);
    }
    assert.deepEqual(parsePortfolio(await Deno.readTextFile(path), path), [
      { symbol: "BTC", amount: 0.5, price: 20000, currency: "USD", date: "2024-01-02" },
      { symbol: "BTC", amount: 0.25, price: 18000, currency: "EUR" },
      { symbol: "ETH", amount: 2, price: 1500, currency: "USD" },
    ]);
    const one = await runClient(["portfolio", "remove", "BTC", "1"], env);
    assert.equal(one.code, 0, one.err);
    assert.equal(one.out, `Removed BTC lot 1 from ${path}\n`);
    const all = await runClient(["portfolio", "remove", "eth"], env);
    assert.equal(all.code, 0, all.err);
    assert.deepEqual(parsePortfolio(await Deno.readTextFile(path), path), [
      { symbol: "BTC", amount: 0.25, price: 18000, currency: "EUR" },
    ]);
    assert.equal((await runClient(["portfolio", "remove", "ETH"], env)).code, 1);

    const broken = `${await Deno.readTextFile(path)}\n[[lot]]\nsymbol = "SOL"\namount = oops\n`;
    await Deno.writeTextFile(path, broken);
    const refused = await runClient(["portfolio", "add", "SOL", "1", "--price", "30"], env);
    assert.equal(refused.code, 1);
    const line = broken.split("\n").indexOf("amount = oops") + 1;
    assert.match(refused.err, new RegExp(`^error: Cannot parse portfolio ${path} line ${line}: `));
    assert.equal(await Deno.readTextFile(path), broken);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a write that fails (file size limit, as a full disk) leaves the old file whole",
  ignore: !await commandWorks("prlimit", ["--version"]),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "portfolio-test-" });
    try {
      const path = `${dir}/portfolio.toml`;
      const old = formatPortfolio([{ symbol: "BTC", amount: 1, price: 2, currency: "USD" }]);
      await Deno.writeTextFile(path, old);
      // Writes past the limit fail with EFBIG rather than killing the process: SIGXFSZ ignored.
      const size = new TextEncoder().encode(old).length;
      const output = await new Deno.Command("sh", {
        args: [
          "-c",
          `trap '' XFSZ; exec prlimit --fsize=${size} "$0" run -A client.ts --portfolio "$1" portfolio add ETH 1 --price 1`,
          Deno.execPath(),
          path,
        ],
        cwd: new URL("../../", import.meta.url),
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      const err = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 1, err);
      assert.match(
        err,
        /^error: Cannot write portfolio .*File too large.*; the old file is unchanged\n$/,
      );
      assert.equal(await Deno.readTextFile(path), old);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["portfolio.toml"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("portfolio values the holdings at the server's prices, in any currency", async (t) => {
  await using env = await startTestService();
  const path = `${env.dir}/portfolio.toml`;
  await Deno.writeTextFile(
    path,
    formatPortfolio([
      { symbol: "BTC", amount: 0.5, price: 20000, currency: "USD" },
      { symbol: "BTC", amount: 0.5, price: 18000, currency: "EUR" },
      { symbol: "ETH", amount: 2, price: 1500, currency: "USD" },
    ]),
  );
  const base = ["--port", String(env.port), "--portfolio", path];
  const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));
  const eth = recorded[1].current_price;
  const euroInUsd = USD / EUR;

  await t.step("--json: value, cost and profit per holding and in total", async () => {
    const run = await runClient([...base, "--json", "portfolio"]);
    assert.equal(run.code, 0, run.err);
    const v = JSON.parse(run.out);
    assert.equal(v.currency, "USD");
    const btc = v.holdings[0];
    assert.equal(btc.symbol, "BTC");
    assert.equal(btc.amount, 1);
    assert.equal(btc.price, 20220);
    assert.ok(Math.abs(btc.value - 20220) < 1e-6);
    assert.ok(Math.abs(btc.cost - (10000 + 9000 * euroInUsd)) < 1e-6);
    assert.ok(Math.abs(btc.profit - (btc.value - btc.cost)) < 1e-9);
    assert.ok(Math.abs(btc.profit_pct - (btc.profit / btc.cost) * 100) < 1e-9);
    assert.equal(v.holdings[1].value, 2 * eth);
    assert.ok(Math.abs(v.total.value - (20220 + 2 * eth)) < 1e-6);
    assert.ok(Math.abs(v.total.cost - (btc.cost + 3000)) < 1e-6);
  });

  await t.step(
    "text: a table with a signed profit and a total line, fitting the width",
    async () => {
      const run = await runClient([...base, "portfolio"], { COLUMNS: "120" });
      assert.equal(run.code, 0, run.err);
      const lines = run.out.split("\n");
      assert.match(lines[0], /^Coin +Amount +Price +Value +Cost +P\/L +P\/L %$/);
      assert.match(
        lines[1],
        /^BTC +1 +\$20,220\.00 +\$20,220\.00 +\$\d{2},\d{3}\.\d\d +[+-]\$[\d,.]+ +[+-]\d+\.\d\d%$/,
      );
      const ethProfit = 2 * eth - 3000;
      const sign = ethProfit > 0 ? "\\+" : "-";
      assert.match(lines[2], new RegExp(`^ETH +2 .* ${sign}\\$[\\d,.]+ +${sign}[\\d.]+%$`));
      assert.match(lines[3], /^Total +\$[\d,.]+ +\$[\d,.]+ +[+-]\$[\d,.]+ +[+-][\d.]+%$/);
      assert.ok(run.out.includes("BTC lot 2: 0.5 at €18,000.00"));
      assert.ok(run.out.includes("Costs in EUR converted to USD at the current rate"));
      const narrow = await runClient([...base, "portfolio"], { COLUMNS: "40" });
      for (const line of narrow.out.split("\n")) assert.ok(line.length <= 40, line);
      assert.doesNotMatch(narrow.out.split("\n")[0], /Price/);
    },
  );

  await t.step("--currency EUR and --csv", async () => {
    const run = await runClient([...base, "--csv", "--currency", "EUR", "portfolio"]);
    assert.equal(run.code, 0, run.err);
    const [header, btc, , total] = run.out.trim().split("\n");
    assert.equal(header, "symbol,amount,price,value,cost,profit,profit_pct,currency");
    const cells = btc.split(",");
    assert.equal(cells[0], "BTC");
    assert.ok(Math.abs(Number(cells[2]) - 20220 / euroInUsd) < 1e-6);
    assert.ok(Math.abs(Number(cells[4]) - (10000 / euroInUsd + 9000)) < 1e-6);
    assert.equal(cells[7], "EUR");
    assert.match(total, /^TOTAL,,,[\d.]+,[\d.]+,-?[\d.]+,-?[\d.]+,EUR$/);
  });

  await t.step("--watch: a line per price update with the new total", async () => {
    await using watch = new RunningClient([...base, "portfolio", "--watch"]);
    await watch.waitForLines(/^\d\d:\d\d:\d\d ETH /);
    recorded[0].current_price = 30000;
    env.upstream.setCoins(recorded);
    await env.service.ingestor.runOnce();
    const [line] = await watch.waitForLines(/ BTC \$30,000\.00 /);
    const total = (30000 + 2 * eth).toLocaleString("en-US", {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    assert.ok(line.includes(`total $${total}`), line);
  });
});
