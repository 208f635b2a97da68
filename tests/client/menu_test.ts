import assert from "node:assert/strict";
import {
  ConnectionError,
  type CurrencyInfo,
  type History,
  type SearchResult,
  ServerError,
} from "../../lib/client/price_client.ts";
import type { CoinView } from "../../lib/wire/coin_view.ts";
import type { InfoReport } from "../../lib/wire/info_report.ts";
import { infoReport } from "./_info_report.ts";
import {
  LineTooLongError,
  type MenuClient,
  type MenuOptions,
  readLines,
  runMenu,
} from "../../lib/client/menu.ts";
import { coinView } from "../helpers.ts";

const NOW = new Date("2022-10-04T20:19:30Z");

function coin(symbol: string, name: string, price: number, rank: number): CoinView {
  return coinView(symbol, name, price, rank, { market_cap: null, change_24h: 1.5 });
}

const COINS = [coin("BTC", "Bitcoin", 20220, 1), coin("ETH", "Ethereum", 1355.37, 2)];

const CURRENCIES: CurrencyInfo[] = [
  { code: "USD", name: "US Dollar", unit: "$", type: "fiat" },
  { code: "VND", name: "Vietnamese đồng", unit: "₫", type: "fiat" },
];
const VND_PER_USD = 24000;

/** An in-memory server behind the MenuClient interface, recording what was asked. */
class FakeClient implements MenuClient {
  calls: string[] = [];
  wasClosed = false;
  /** Pushes an update to the watcher, as the server does after an ingestion. */
  push: ((coin: CoinView) => void) | undefined;
  #closed = Promise.withResolvers<ConnectionError>();
  readonly watching = Promise.withResolvers<void>();
  constructor(readonly failWith?: Error) {}
  get closed(): Promise<ConnectionError> {
    return this.#closed.promise;
  }
  #answer<T>(call: string, value: () => T): Promise<T> {
    this.calls.push(call);
    if (this.failWith) return Promise.reject(this.failWith);
    try {
      return Promise.resolve(value());
    } catch (err) {
      return Promise.reject(err);
    }
  }
  #find(symbol: string, currency = "USD"): CoinView {
    const found = COINS.find((c) => c.symbol === symbol.toUpperCase());
    if (!found) throw new ServerError("UNKNOWN_COIN", `unknown coin ${symbol}`);
    return currency === "VND" ? { ...found, currency, price: found.price * VND_PER_USD } : found;
  }
  marketAll(currency?: string): Promise<CoinView[]> {
    return this.#answer(
      currency ? `ALL ${currency}` : "ALL",
      () => COINS.map((c) => this.#find(c.symbol, currency)),
    );
  }
  market(symbol: string, currency?: string): Promise<CoinView> {
    return this.#answer(
      currency ? `${symbol} ${currency}` : symbol,
      () => this.#find(symbol, currency),
    );
  }
  search(query: string): Promise<SearchResult[]> {
    return this.#answer(
      `SEARCH ${query}`,
      () =>
        COINS.filter((c) => c.symbol.startsWith(query.toUpperCase())).map((c) => ({
          id: c.name.toLowerCase(),
          symbol: c.symbol,
          name: c.name,
        })),
    );
  }
  history(symbol: string, range = "24h"): Promise<History> {
    return this.#answer(`HISTORY ${symbol} ${range}`, () => {
      this.#find(symbol);
      const points: [string, number][] = [
        ["2022-10-04T19:00:00.000Z", 20000],
        ["2022-10-04T20:00:00.000Z", 20220],
      ];
      return {
        symbol: symbol.toUpperCase(),
        range,
        currency: "USD",
        count: 2,
        points,
        first: 20000,
        last: 20220,
        min: 20000,
        max: 20220,
        change_pct: 1.1,
      } as History;
    });
  }
  currencies(): Promise<CurrencyInfo[]> {
    return this.#answer("CURRENCIES", () => CURRENCIES);
  }
  info(): Promise<InfoReport> {
    return this.#answer("INFO", () => infoReport({ version: "9.9.9", uptime_seconds: 61 }));
  }
  watch(symbols: readonly string[], onUpdate: (coin: CoinView) => void): Promise<CoinView[]> {
    return this.#answer(`WATCH ${symbols.join(" ")}`, () => {
      const coins = symbols.map((s) => this.#find(s));
      this.push = onUpdate;
      this.watching.resolve();
      return coins;
    });
  }
  unwatch(): Promise<string[]> {
    return this.#answer("UNWATCH", () => {
      this.push = undefined;
      return [];
    });
  }
  close(): void {
    this.wasClosed = true;
    this.#closed.resolve(new ConnectionError("Connection to x:1 is closed"));
  }
}

async function* lines(...items: string[]): AsyncGenerator<string> {
  yield* items;
}

async function run(
  input: AsyncIterable<string>,
  clients: FakeClient[] = [new FakeClient()],
  extra: Partial<MenuOptions> & {
    onWrite?: (out: string) => void;
    onError?: (err: string) => void;
  } = {},
) {
  let out = "";
  let err = "";
  const opened: FakeClient[] = [];
  const code = await runMenu({
    input,
    write: (s) => {
      out += s;
      extra.onWrite?.(out);
    },
    writeError: (s) => {
      err += s;
      extra.onError?.(err);
    },
    connect: () => {
      const next = clients.shift();
      if (!next) return Promise.reject(new ConnectionError("Cannot connect to x:1: refused"));
      opened.push(next);
      return Promise.resolve(next);
    },
    color: false,
    echo: true,
    now: () => NOW,
    ...extra,
  });
  return { code, out, err, opened };
}

Deno.test("menu lists coins, then looks one up, then exits", async () => {
  const { code, out, err, opened } = await run(lines("1", "2", "btc", "0", "1"));
  assert.equal(code, 0);
  assert.equal(err, "");
  assert.match(out, /^1\. List all coins\n2\. Look up a coin\n3\. Price history of a coin\n/);
  assert.match(
    out,
    /\n5\. Choose the currency \(now USD\)\n6\. Server info\n0\. Exit\nChoice: 1\n/,
  );
  const table = out.indexOf("$20,220.00  +1.50%");
  const lookup = out.indexOf("Symbol (e.g. BTC): btc\nBitcoin (BTC)\n  Price       $20,220.00");
  assert.ok(table > 0 && lookup > table, out);
  assert.match(out, /1,355\.37/);
  assert.ok(out.endsWith("Choice: 0\n"), "the input after 0 is not read");
  assert.deepEqual(opened[0].calls, ["ALL", "btc"]);
  assert.equal(opened[0].wasClosed, true);
});

Deno.test("menu reports an unknown coin and goes on", async () => {
  const { code, out, err } = await run(lines("2", "XYZ", "2", "ETH", "q"));
  assert.equal(code, 0);
  assert.equal(err, "error: unknown coin XYZ\n");
  assert.match(out, /Ethereum \(ETH\)/);
});

Deno.test("menu rejects invalid choices and symbols without asking the server", async () => {
  const { code, out, err, opened } = await run(lines("9", "", "2", "BTC ETH", "2", "", "exit"));
  assert.equal(code, 0);
  assert.equal(
    err,
    'Unknown choice "9": enter 1 to 6 or a command (help lists them), or 0 to exit\n' +
      '"BTC ETH" is not a coin symbol: enter one symbol such as BTC\n',
  );
  assert.deepEqual(opened[0].calls, []);
  assert.ok(out.endsWith("Choice: exit\n"));
});

Deno.test("menu exits cleanly at the end of input, also at the symbol prompt", async () => {
  for (const input of [lines(), lines("1"), lines("2")]) {
    const { code, out, opened } = await run(input);
    assert.equal(code, 0);
    assert.ok(out.endsWith(": \n"), out);
    assert.equal(opened[0].wasClosed, true);
  }
});

Deno.test("menu fails with exit code 1 when the server cannot be reached", async () => {
  const { code, out, err } = await run(lines("1"), []);
  assert.equal(code, 1);
  assert.equal(out, "");
  assert.equal(err, "error: Cannot connect to x:1: refused\n");
});

Deno.test("menu reconnects on the next command after a lost connection", async () => {
  const lost = new FakeClient(new ConnectionError("Connection to x:1 closed by the server"));
  const { code, out, err, opened } = await run(lines("1", "1", "0"), [lost, new FakeClient()]);
  assert.equal(code, 0);
  assert.equal(err, "error: Connection to x:1 closed by the server\n");
  assert.equal(lost.wasClosed, true);
  assert.equal(opened.length, 2);
  assert.match(out, /Bitcoin/);
});

Deno.test("menu works from a piped byte stream", async () => {
  const stdin = ReadableStream.from([new TextEncoder().encode("1\r\n2\nBTC\n0\n")]);
  const { code, out } = await run(readLines(stdin));
  assert.equal(code, 0);
  assert.match(out, /Ethereum[\s\S]*Bitcoin \(BTC\)/);
});

async function collect(chunks: (string | Uint8Array)[], maxLineBytes?: number) {
  const encoder = new TextEncoder();
  const stream = ReadableStream.from(
    chunks.map((c) => typeof c === "string" ? encoder.encode(c) : c),
  );
  return await Array.fromAsync(readLines(stream, { maxLineBytes }));
}

Deno.test("readLines", async (t) => {
  await t.step(
    "splits on LF and CRLF, keeps empty lines, yields a last unterminated line",
    async () => {
      assert.deepEqual(await collect(["a\r\nb\n\nc"]), ["a", "b", "", "c"]);
      assert.deepEqual(await collect(["a\n"]), ["a"]);
      assert.deepEqual(await collect([]), []);
    },
  );
  await t.step("joins lines split across chunks, even inside a character", async () => {
    const euro = new TextEncoder().encode("€"); // 3 bytes
    assert.deepEqual(
      await collect(["ab", "c", euro.subarray(0, 1), euro.subarray(1), "\r", "\nd\n"]),
      ["abc€", "d"],
    );
  });
  await t.step("caps line length in bytes", async () => {
    assert.deepEqual(await collect(["12345\n", "1234", "5\n"], 5), ["12345", "12345"]);
    await assert.rejects(collect(["1234", "56\n"], 5), LineTooLongError);
  });
});

Deno.test("menu shows a coin's history with a sparkline", async () => {
  const fake = new FakeClient();
  const { code, out, err } = await run(
    lines("3", "btc", "", "3", "BTC", "2y", "7d", "3", "nope", "0"),
    [fake],
    { columns: () => 40 },
  );
  assert.equal(code, 0);
  // A bad range asks again for the same coin; an unknown coin is refused before the range.
  assert.equal(
    err,
    '"2y" is not a history range; use 1h, 24h, 7d, 30d\nerror: unknown coin nope\n',
  );
  assert.match(out, /BTC over the last 7d \(USD\)/);
  assert.match(out, /Range \(1h, 24h, 7d, 30d; Enter for 24h\): \nBTC over the last 24h \(USD\)\n/);
  assert.match(out, / {2}Last {4}\$20,220\.00\n/);
  assert.ok(out.includes("\n  ▁█\n"), out);
  assert.deepEqual(fake.calls, ["btc", "HISTORY btc 24h", "BTC", "HISTORY BTC 7d", "nope"]);
});

Deno.test("menu switches the currency, checking it with the server", async () => {
  const fake = new FakeClient();
  const { code, out, err } = await run(
    lines("5", "xyz", "€", "?", "vnd", "1", "2", "eth", "3", "btc", "7d", "0"),
    [fake],
  );
  assert.equal(code, 0);
  // A bad or unknown code asks again, as a bad range does.
  assert.equal(
    err,
    "error: Unknown currency XYZ: currencies lists them\n" +
      '"€" is not a currency code such as EUR or VND\n',
  );
  assert.match(out, /them\): xyz\nCurrency code \(e\.g\. EUR, VND; \? lists them\): €\nCurrency/);
  assert.ok(out.includes("VND   ₫     Vietnamese đồng  fiat"), out);
  assert.match(out, /Prices are now shown in VND\n\n1\. List/);
  assert.match(out, /5\. Choose the currency \(now VND\)/);
  assert.match(out, /Price \(VND\)[\s\S]*Bitcoin +485\.280\.000\u00a0₫/);
  assert.match(out, /Price {7}32\.528\.880\u00a0₫/);
  // History is kept in USD: it is converted with the server's own prices.
  assert.match(out, /BTC over the last 7d \(VND\)\n {2}Last {4}485\.280\.000\u00a0₫/);
  assert.match(out, /Converted from USD at the current rate/);
  assert.deepEqual(fake.calls, [
    "CURRENCIES",
    "CURRENCIES",
    "CURRENCIES",
    "ALL VND",
    "eth VND",
    "btc",
    "HISTORY btc 7d",
    "BTC VND",
    "BTC USD",
  ]);
});

Deno.test("menu shows the server's info", async () => {
  const { out } = await run(lines("6", "0"));
  assert.match(out, /Choice: 6\n {2}Server +version 9\.9\.9, up 1m 1s\n/);
});

/** Lines a test feeds one at a time; `null` ends the input. */
function feeder() {
  const queue: (string | null)[] = [];
  let wake: (() => void) | undefined;
  async function* input(): AsyncGenerator<string> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => wake = resolve);
      const next = queue.shift()!;
      if (next === null) return;
      yield next;
    }
  }
  return {
    input: input(),
    send(...items: (string | null)[]) {
      queue.push(...items);
      wake?.();
    },
  };
}

/** Resolves when the output so far matches `pattern`; pass `check` as onWrite. */
function outputWatcher() {
  let waiting: { pattern: RegExp; resolve: () => void } | undefined;
  return {
    check(out: string) {
      if (waiting && waiting.pattern.test(out)) {
        waiting.resolve();
        waiting = undefined;
      }
    },
    until(pattern: RegExp): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting = { pattern, resolve };
      return promise;
    },
  };
}

Deno.test("menu watches coins until Enter, Ctrl-C or the end of input", async (t) => {
  await t.step("Enter goes back to the menu, and the line is not a choice", async () => {
    const fake = new FakeClient();
    const feed = feeder();
    const output = outputWatcher();
    feed.send("4", "btc eth");
    const running = run(feed.input, [fake], { onWrite: output.check });
    await fake.watching.promise;
    const updated = output.until(/ETH \$1,400\.00 \+1\.50%\n$/);
    fake.push!({ ...COINS[1], price: 1400, fetched_at: "2022-10-04T20:18:00.000Z" });
    await updated;
    feed.send("1", "0");
    const { code, out, err } = await running;
    assert.equal(code, 0);
    assert.equal(err, "");
    assert.ok(
      out.includes(
        "Symbols to watch (e.g. BTC ETH): btc eth\n" +
          "Watching: press Enter or Ctrl-C to go back to the menu\n" +
          "2022-10-04T20:17:00Z BTC $20,220.00 +1.50%\n" +
          "2022-10-04T20:17:00Z ETH $1,355.37 +1.50%\n" +
          "2022-10-04T20:18:00Z ETH $1,400.00 +1.50%\n\n1. List all coins",
      ),
      out,
    );
    assert.ok(out.endsWith("Choice: 0\n"), "the line that stopped the watch was no choice");
    assert.deepEqual(fake.calls, ["WATCH BTC ETH", "UNWATCH"]);
  });

  await t.step("Ctrl-C goes back to the menu, keeping the line typed next", async () => {
    const fake = new FakeClient();
    const feed = feeder();
    const ctrlC = new AbortController();
    const output = outputWatcher();
    feed.send("4", "BTC");
    const shown = output.until(/BTC \$20,220\.00 \+1\.50%\n$/);
    const running = run(feed.input, [fake], {
      interrupts: () => ({ signal: ctrlC.signal, [Symbol.dispose]() {} }),
      onWrite: output.check,
    });
    await shown;
    ctrlC.abort();
    feed.send("6", "0");
    const { code, out } = await running;
    assert.equal(code, 0);
    assert.match(out, /BTC \$20,220\.00 \+1\.50%\n\n1\. List[\s\S]*Choice: 6\n {2}Server +version/);
    assert.deepEqual(fake.calls, ["WATCH BTC", "UNWATCH", "INFO"]);
  });

  await t.step("the end of input ends the menu; bad symbols are refused", async () => {
    const fake = new FakeClient();
    const feed = feeder();
    const errors = outputWatcher();
    feed.send("4", "BTC ALL", "4", "nope");
    const failed = errors.until(/unknown coin NOPE\n$/);
    const running = run(feed.input, [fake], { onError: errors.check });
    // Sent only once the watch failed, so "4" is taken as a menu choice, not as Enter.
    await failed;
    feed.send("4", "BTC");
    await fake.watching.promise;
    feed.send(null);
    const { code, err } = await running;
    assert.equal(code, 0);
    assert.equal(
      err,
      '"ALL" is not a coin symbol; use list to see all coins\n' +
        "error: unknown coin NOPE\n",
    );
    assert.deepEqual(fake.calls, ["WATCH NOPE", "WATCH BTC", "UNWATCH"]);
  });
});
