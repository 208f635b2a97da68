import assert from "node:assert/strict";
import { ConnectionError, ServerError } from "../../lib/client/price_client.ts";
import type { CoinView } from "../../lib/wire/coin_view.ts";
import { runWatch, type WatchClient, type WatchOptions } from "../../lib/client/watch_view.ts";
import { coinView } from "../helpers.ts";

const NOW = new Date("2022-10-04T20:19:30Z");

function coin(symbol: string, price: number, rank: number): CoinView {
  return coinView(symbol, symbol === "BTC" ? "Bitcoin" : "Ethereum", price, rank, {
    market_cap: null,
    change_24h: 1.5,
  });
}

/** A watch connection whose updates and end the test controls. */
function fakeClient() {
  let push: ((coin: CoinView) => void) | undefined;
  const closed = Promise.withResolvers<ConnectionError>();
  const watching = Promise.withResolvers<void>();
  const client: WatchClient = {
    watch(_symbols, onUpdate) {
      push = onUpdate;
      watching.resolve();
      return Promise.resolve([coin("BTC", 20220, 1), coin("ETH", 1355.37, 2)]);
    },
    market: (symbol) => Promise.reject(new Error(`no look-up expected, got ${symbol}`)),
    marketAll: () => Promise.resolve([coin("BTC", 20220, 1), coin("ETH", 1355.37, 2)]),
    closed: closed.promise,
  };
  return { client, push: (c: CoinView) => push!(c), watching: watching.promise, closed };
}

/**
 * Runs the watch view on a fake terminal over a fake connection until the first draw; `redrawAfter`
 * pushes an update and returns what was written for it, `stop` ends the view and returns it all.
 */
async function watchOnTerminal(options: Partial<WatchOptions>) {
  const fake = fakeClient();
  const stop = new AbortController();
  let out = "";
  let wrote = Promise.withResolvers<void>();
  const running = runWatch({
    client: fake.client,
    symbols: ["BTC", "ETH"],
    write: (s) => {
      out += s;
      wrote.resolve();
    },
    terminal: true,
    color: false,
    now: () => NOW,
    columns: () => 200,
    signal: stop.signal,
    ...options,
  });
  await fake.watching;
  await wrote.promise;
  return {
    firstDraw: out,
    async redrawAfter(update: CoinView): Promise<string> {
      const from = out.length;
      wrote = Promise.withResolvers<void>();
      fake.push(update);
      await wrote.promise;
      return out.slice(from);
    },
    async stop(): Promise<string> {
      stop.abort();
      await running;
      return out;
    },
  };
}

Deno.test("watch redraws its table in place on a terminal, colouring moves", async () => {
  const view = await watchOnTerminal({ symbols: ["btc", "eth", "BTC"], color: true });
  const out = view.firstDraw;
  // Hidden cursor, cleared screen below, table (header, rule, 2 rows) and a status line.
  assert.ok(out.startsWith("\x1b[?25l\x1b[J"), JSON.stringify(out));
  assert.match(out, /Waiting for updates · data fetched 2m ago · Ctrl-C to stop/);
  assert.equal(out.split("\n").length - 1, 5);

  const redraw = await view.redrawAfter(coin("ETH", 1300, 2));
  assert.ok(redraw.startsWith("\x1b[5F\x1b[J"), "back up 5 lines, clear, draw again");
  assert.ok(redraw.includes("\x1b[31m$1,300.00\x1b[0m"), "a fall in red");
  assert.ok(redraw.includes("$20,220.00"), "the other coin stays");
  assert.match(
    redraw,
    /Last update 20:19:30 UTC \(just now\) · 1 update · data fetched 2m ago · Ctrl-C to stop/,
  );

  assert.ok((await view.stop()).endsWith("\x1b[?25h"), "the cursor comes back");
});

Deno.test("watch ends with the connection's error when the server goes away", async () => {
  const fake = fakeClient();
  let out = "";
  const running = runWatch({
    client: fake.client,
    symbols: ["BTC"],
    write: (s) => out += s,
    terminal: false,
    color: false,
    signal: new AbortController().signal,
  });
  await fake.watching;
  const lost = new ConnectionError("Connection to x:1 closed by the server");
  fake.closed.resolve(lost);
  await assert.rejects(running, lost);
  assert.equal(
    out,
    "2022-10-04T20:17:00Z BTC $20,220.00 +1.50%\n2022-10-04T20:17:00Z ETH $1,355.37 +1.50%\n",
  );
});

Deno.test("watch ticks ages every second, redraws whole on resize, and shows staleness", async () => {
  const fake = fakeClient();
  let clock = NOW.getTime();
  let out = "";
  let wrote = Promise.withResolvers<void>();
  let resize: (() => void) | undefined;
  let stale = false;
  fake.client.marketAll = () =>
    Promise.resolve([
      coin("BTC", 20220, 1),
      { ...coin("ETH", 1355.37, 2), stale, fetched_at: "2022-10-04T20:17:00.000Z" },
    ]);
  const stop = new AbortController();
  const running = runWatch({
    client: fake.client,
    symbols: ["BTC", "ETH"],
    write: (s) => {
      out += s;
      wrote.resolve();
    },
    terminal: true,
    color: false,
    now: () => new Date(clock),
    columns: () => 120,
    signal: stop.signal,
    tickMs: 5,
    refreshMs: 5,
    onResize: (listener) => {
      resize = listener;
      return { [Symbol.dispose]: () => resize = undefined };
    },
  });
  await fake.watching;
  await wrote.promise;
  fake.push(coin("ETH", 1300, 2));
  /** Waits for the output to match; the deadline only guards against a hang. */
  const untilOut = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(out)) {
      if (Date.now() > deadline) throw new Error(`The output never matched ${pattern}:\n${out}`);
      wrote = Promise.withResolvers<void>();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([wrote.promise, new Promise((r) => timer = setTimeout(r, 100))]);
      clearTimeout(timer);
    }
  };
  await untilOut(/\(just now\) · 1 update/);
  clock += 7_000;
  await untilOut(/\(7s ago\) · 1 update/);

  // The server's data went stale: a fresh look says so, as `price` does.
  stale = true;
  clock += 30_000;
  await untilOut(/Prices may be out of date: the server last fetched them 3m ago/);

  const before = out.length;
  resize!();
  assert.ok(out.slice(before).startsWith("\x1b[H\x1b[2J"), "cleared, then drawn anew");
  stop.abort();
  await running;
  assert.equal(resize, undefined, "the resize listener is removed");
});

Deno.test("watch reports unknown symbols and watches the rest", async () => {
  const fake = fakeClient();
  const watched: string[][] = [];
  const original = fake.client.watch.bind(fake.client);
  fake.client.watch = (symbols, onUpdate) => {
    watched.push([...symbols]);
    if (symbols.includes("NOPE")) {
      return Promise.reject(new ServerError("UNKNOWN_COIN", "No coin with symbol NOPE"));
    }
    return original(symbols, onUpdate);
  };
  const warnings: string[] = [];
  const stop = new AbortController();
  let out = "";
  const running = runWatch({
    client: fake.client,
    symbols: ["BTC", "NOPE", "ETH"],
    write: (s) => out += s,
    warn: (err) => warnings.push(err.message),
    terminal: false,
    color: false,
    signal: stop.signal,
    onShown: () => stop.abort(),
  });
  await running;
  assert.deepEqual(watched, [["BTC", "NOPE", "ETH"], ["BTC", "ETH"]]);
  assert.deepEqual(warnings, ["No coin with symbol NOPE: watching BTC, ETH"]);
  assert.match(out, /BTC \$20,220\.00/);
});

Deno.test("watch on a terminal shorter than its table redraws from a cleared screen", async () => {
  const view = await watchOnTerminal({ rows: () => 4 });
  const redraw = await view.redrawAfter(coin("ETH", 1300, 2));
  // Five lines do not fit four rows: moving up 5 would stop at the top and scroll a copy away.
  assert.ok(redraw.startsWith("\x1b[H\x1b[2J\x1b[J"), JSON.stringify(redraw.slice(0, 20)));
  assert.ok(!redraw.includes("\x1b[5F"));
  await view.stop();
});

Deno.test("the watch table keeps its columns as ages tick from just now to 1s ago", async () => {
  const fresh = (price: number) => ({
    ...coin("BTC", price, 1),
    updated_at: NOW.toISOString(),
  });
  const tableLines = (draw: string) =>
    // deno-lint-ignore no-control-regex
    draw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split("\n").slice(0, 3);
  let clock = NOW.getTime();
  const view = await watchOnTerminal({ symbols: ["BTC"], now: () => new Date(clock) });
  const first = await view.redrawAfter(fresh(20220));
  clock += 1000;
  const second = await view.redrawAfter(fresh(20221));
  await view.stop();
  assert.match(first, /just now/);
  assert.match(second, /1s ago/);
  assert.deepEqual(
    tableLines(second).map((line) => line.length),
    tableLines(first).map((line) => line.length),
    `${tableLines(first).join("\n")}\n${tableLines(second).join("\n")}`,
  );
});

Deno.test("the watch status line fits the terminal's width", async (t) => {
  for (const width of [15, 40, 60, 120]) {
    await t.step(`${width} columns`, async () => {
      const view = await watchOnTerminal({ columns: () => width });
      const later = await view.redrawAfter(coin("ETH", 1300, 2));
      await view.stop();
      for (const draw of [view.firstDraw, later]) {
        // deno-lint-ignore no-control-regex
        const status = draw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").trimEnd().split("\n").at(-1)!;
        assert.ok(status.length <= width, `${status.length}: ${status}`);
        assert.match(status, /^(Waiting|Last)/);
      }
    });
  }
  const roomy = await watchOnTerminal({ columns: () => 120 });
  await roomy.stop();
  assert.match(roomy.firstDraw, /Waiting for updates · data fetched 2m ago · Ctrl-C to stop\n/);
});
