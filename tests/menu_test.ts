import assert from "node:assert/strict";
import { type CoinView, ConnectionError, ServerError } from "../lib/client.ts";
import { LineTooLongError, type MenuClient, readLines, runMenu } from "../lib/menu.ts";

const NOW = new Date("2022-10-04T20:19:30Z");

function coin(symbol: string, name: string, price: number, rank: number): CoinView {
  return {
    symbol,
    name,
    price,
    currency: "USD",
    rank,
    market_cap: null,
    change_24h: 1.5,
    updated_at: "2022-10-04T20:16:27.116Z",
    fetched_at: "2022-10-04T20:17:00.000Z",
    source: "coingecko",
    stale: false,
  };
}

const COINS = [coin("BTC", "Bitcoin", 20220, 1), coin("ETH", "Ethereum", 1355.37, 2)];

/** An in-memory server behind the MenuClient interface, recording what was asked. */
class FakeClient implements MenuClient {
  calls: string[] = [];
  closed = false;
  constructor(readonly failWith?: Error) {}
  marketAll(): Promise<CoinView[]> {
    this.calls.push("ALL");
    return this.failWith ? Promise.reject(this.failWith) : Promise.resolve(COINS);
  }
  market(symbol: string): Promise<CoinView> {
    this.calls.push(symbol);
    if (this.failWith) return Promise.reject(this.failWith);
    const found = COINS.find((c) => c.symbol === symbol.toUpperCase());
    return found
      ? Promise.resolve(found)
      : Promise.reject(new ServerError("UNKNOWN_COIN", `unknown coin ${symbol}`));
  }
  close(): void {
    this.closed = true;
  }
}

async function* lines(...items: string[]): AsyncGenerator<string> {
  yield* items;
}

async function run(input: AsyncIterable<string>, clients: FakeClient[] = [new FakeClient()]) {
  let out = "";
  let err = "";
  const opened: FakeClient[] = [];
  const code = await runMenu({
    input,
    write: (s) => out += s,
    writeError: (s) => err += s,
    connect: () => {
      const next = clients.shift();
      if (!next) return Promise.reject(new ConnectionError("cannot connect to x:1: refused"));
      opened.push(next);
      return Promise.resolve(next);
    },
    color: false,
    echo: true,
    now: () => NOW,
  });
  return { code, out, err, opened };
}

Deno.test("menu lists coins, then looks one up, then exits", async () => {
  const { code, out, err, opened } = await run(lines("1", "2", "btc", "0", "1"));
  assert.equal(code, 0);
  assert.equal(err, "");
  assert.match(out, /^1\. List all coins\n2\. Look up a coin\n0\. Exit\nChoice: 1\n/);
  const table = out.indexOf("20,220.00  +1.50%");
  const lookup = out.indexOf("Symbol (e.g. BTC): btc\nBitcoin (BTC)\n  Price       20,220.00 USD");
  assert.ok(table > 0 && lookup > table, out);
  assert.match(out, /1,355\.37/);
  assert.ok(out.endsWith("Choice: 0\n"), "the input after 0 is not read");
  assert.deepEqual(opened[0].calls, ["ALL", "btc"]);
  assert.equal(opened[0].closed, true);
});

Deno.test("menu reports an unknown coin and goes on", async () => {
  const { code, out, err } = await run(lines("2", "XYZ", "2", "ETH", "q"));
  assert.equal(code, 0);
  assert.equal(err, "error: unknown coin XYZ\n");
  assert.match(out, /Ethereum \(ETH\)/);
});

Deno.test("menu rejects invalid choices and symbols without asking the server", async () => {
  const { code, out, err, opened } = await run(lines("7", "", "2", "BTC ETH", "2", "", "exit"));
  assert.equal(code, 0);
  assert.equal(
    err,
    'Unknown choice "7": enter 1, 2 or 0 (q also exits)\n' +
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
    assert.equal(opened[0].closed, true);
  }
});

Deno.test("menu fails with exit code 1 when the server cannot be reached", async () => {
  const { code, out, err } = await run(lines("1"), []);
  assert.equal(code, 1);
  assert.equal(out, "");
  assert.equal(err, "error: cannot connect to x:1: refused\n");
});

Deno.test("menu reconnects on the next command after a lost connection", async () => {
  const lost = new FakeClient(new ConnectionError("connection to x:1 closed by the server"));
  const { code, out, err, opened } = await run(lines("1", "1", "0"), [lost, new FakeClient()]);
  assert.equal(code, 0);
  assert.equal(err, "error: connection to x:1 closed by the server\n");
  assert.equal(lost.closed, true);
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
