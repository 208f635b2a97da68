import assert from "node:assert/strict";
import type { Coin, Snapshot } from "../../lib/wire/coin.ts";
import { coinObjectJson, encodeError, v1AllJson, v1Number } from "../../lib/wire/reply.ts";
import { ERROR_CODES } from "../../lib/wire/error_code.ts";
import { parseRequest } from "../../lib/wire/request.ts";
import { RequestFramer } from "../../lib/wire/request_framer.ts";
import { BTC_2022 } from "../helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feeds chunks and returns the framed requests as text, or "OVERFLOW" where the cap was hit. */
function frame(chunks: (string | Uint8Array)[], max?: number): string[] {
  const framer = new RequestFramer(max);
  const out: string[] = [];
  for (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? enc.encode(chunk) : chunk;
    if (!framer.push(bytes, (b, start, end) => out.push(dec.decode(b.subarray(start, end))))) {
      out.push("OVERFLOW");
      break;
    }
  }
  return out;
}

Deno.test("framer", async (t) => {
  await t.step("splits JSON lines and skips blank ones", () => {
    assert.deepStrictEqual(frame(['{"a":1}\n\n  \r\n{"b":2}\r\n']), ['{"a":1}', '{"b":2}']);
  });
  await t.step("frames a repeated request as the first, whole, cut or followed by more", () => {
    const req = '{"status":"OK","data":"MARKET BTC","v":2}';
    assert.deepStrictEqual(frame([`${req}\n${req}\n${req}${req}\n`]), [req, req, req, req]);
    // The repeat's bytes start a longer request: the scan, not the shortcut, decides.
    assert.deepStrictEqual(frame([`{"a":1}\n{"a":1 , "b":{}}\n{"a":1}`]), [
      '{"a":1}',
      '{"a":1 , "b":{}}',
      '{"a":1}',
    ]);
    assert.deepStrictEqual(frame([`{"a":"}"}\n{"a":"}"}`, `{"a":"}`, `"}\n`]), [
      '{"a":"}"}',
      '{"a":"}"}',
      '{"a":"}"}',
    ]);
  });
  await t.step("says when a request repeats the previous one, only when it does", () => {
    const flags = (chunks: string[]) => {
      const framer = new RequestFramer();
      const out: [string, boolean][] = [];
      for (const chunk of chunks) {
        framer.push(enc.encode(chunk), (b, start, end, repeat) => {
          out.push([dec.decode(b.subarray(start, end)), repeat]);
        });
      }
      return out;
    };
    const req = '{"status":"OK","data":"MARKET BTC","v":2}';
    assert.deepStrictEqual(flags([`${req}\n${req}${req}\r\n`, `${req}\n`]), [
      [req, false],
      [req, true],
      [req, true],
      [req, true],
    ]);
    // The remembered request again, but not right after itself: not a repeat of the previous.
    assert.deepStrictEqual(flags([`${req}\nPING\n${req}\n${req}`]), [
      [req, false],
      ["PING", false],
      [req, false],
      [req, true],
    ]);
    // A different object in between, and an unbalanced one ending at the newline.
    assert.deepStrictEqual(flags([`{"a":1}{"b":1}{"a":1}{"a":1}{"a":1\n{"a":1}`]), [
      ['{"a":1}', false],
      ['{"b":1}', false],
      ['{"a":1}', false],
      ['{"a":1}', true],
      ['{"a":1', false],
      ['{"a":1}', false],
    ]);
    // A repeat cut in two is scanned, and then not flagged: false says nothing.
    assert.deepStrictEqual(flags([`${req}\n${req.slice(0, 9)}`, `${req.slice(9)}\n${req}`]), [
      [req, false],
      [req, false],
      [req, true],
    ]);
  });
  await t.step("ends an object request at its closing brace, with no newline", () => {
    assert.deepStrictEqual(frame(['{"status":"OK","data":"MARKET ALL"}']), [
      '{"status":"OK","data":"MARKET ALL"}',
    ]);
  });
  await t.step("splits concatenated objects", () => {
    assert.deepStrictEqual(frame(['{"a":1}{"b":{"c":2}} {"d":3}']), [
      '{"a":1}',
      '{"b":{"c":2}}',
      '{"d":3}',
    ]);
  });
  await t.step("ignores braces inside strings, escaped quotes included", () => {
    assert.deepStrictEqual(frame(['{"a":"}{\\"}"}']), ['{"a":"}{\\"}"}']);
  });
  await t.step("joins a request split across many segments, byte by byte", () => {
    const request = '{"status":"OK","data":"MARKET BTC"}\n';
    assert.deepStrictEqual(frame([...request]), ['{"status":"OK","data":"MARKET BTC"}']);
  });
  await t.step("a request that is not an object ends at the newline", () => {
    assert.deepStrictEqual(frame(["hello ", "world\n[1,2]\n"]), ["hello world", "[1,2]"]);
  });
  await t.step("an unbalanced object ends at the newline", () => {
    assert.deepStrictEqual(frame(['{"a":{\n{"b":1}']), ['{"a":{', '{"b":1}']);
  });
  await t.step("holds an unfinished request and reports it", () => {
    const framer = new RequestFramer();
    assert.equal(framer.push(enc.encode('  {"a":'), () => assert.fail("no request yet")), true);
    assert.equal(framer.inRequest, true);
    const requests: string[] = [];
    framer.push(
      enc.encode("1}"),
      (b, start, end) => requests.push(dec.decode(b.subarray(start, end))),
    );
    assert.deepStrictEqual(requests, ['{"a":1}']);
  });
  await t.step("caps an unfinished request", () => {
    assert.deepStrictEqual(frame(["x".repeat(10), "x".repeat(10)], 16), ["OVERFLOW"]);
    assert.deepStrictEqual(frame(["x".repeat(16), "\r", "\n"], 16), ["x".repeat(16)]);
    assert.deepStrictEqual(frame(["x".repeat(17), "\n"], 16), ["OVERFLOW"]);
  });
  await t.step("caps a request that arrives whole with its newline", () => {
    assert.deepStrictEqual(frame([`${"x".repeat(16)}\n${"y".repeat(17)}\n`], 16), [
      "x".repeat(16),
      "OVERFLOW",
    ]);
  });
  await t.step("refuses to be fed after overflowing", () => {
    const framer = new RequestFramer(4);
    assert.equal(framer.push(enc.encode("xxxxxx"), () => {}), false);
    assert.throws(() => framer.push(enc.encode("\n"), () => {}), TypeError);
  });
  await t.step("50,000 nested brackets cost no recursion", () => {
    const deep = "{".repeat(50_000) + "}".repeat(50_000);
    assert.deepStrictEqual(frame([deep], 200_000), [deep]);
  });
  await t.step("rejects a nonsensical cap", () => {
    assert.throws(() => new RequestFramer(0), RangeError);
  });
});

Deno.test("parseRequest", async (t) => {
  const parse = (text: string | Uint8Array) =>
    parseRequest(typeof text === "string" ? enc.encode(text) : text);
  await t.step("MARKET ALL and MARKET <symbol>, case and spaces tolerated", () => {
    assert.deepStrictEqual(parse('{"status":"OK","data":"MARKET ALL"}'), {
      kind: "market_all",
      version: 1,
      currency: "USD",
    });
    assert.deepStrictEqual(parse('{"status":"OK","data":"  market   btc "}'), {
      kind: "market_coin",
      version: 1,
      symbol: "BTC",
      currency: "USD",
    });
    assert.deepStrictEqual(parse('{"status":"OK","data":"MARKET all eur","v":2}'), {
      kind: "market_all",
      version: 2,
      currency: "EUR",
    });
    assert.deepStrictEqual(parse('{"status":"OK","data":"MARKET btc Vnd"}'), {
      kind: "market_coin",
      version: 1,
      symbol: "BTC",
      currency: "VND",
    });
  });
  await t.step("HISTORY, CURRENCIES, PING, INFO", () => {
    assert.deepStrictEqual(parse('{"data":"HISTORY btc","v":2}'), {
      kind: "history",
      version: 2,
      symbol: "BTC",
      range: "24h",
    });
    assert.deepStrictEqual(parse('{"data":"history eth 7D"}'), {
      kind: "history",
      version: 1,
      symbol: "ETH",
      range: "7d",
    });
    // Only the four windows: names of Object.prototype members are not ranges.
    for (const range of ["constructor", "toString", "1D", "24"]) {
      const result = parse(`{"data":"HISTORY BTC ${range}"}`);
      assert.equal(result.kind === "error" && result.code, "BAD_REQUEST", range);
    }
    assert.deepStrictEqual(parse('{"data":"currencies"}'), { kind: "currencies", version: 1 });
    assert.deepStrictEqual(parse('{"data":"PING","v":2}'), { kind: "ping", version: 2 });
    assert.deepStrictEqual(parse('{"data":"Info"}'), { kind: "info", version: 1 });
  });
  await t.step("CLOSE", () => {
    assert.deepStrictEqual(parse('{"status":"CLOSE"}'), { kind: "close" });
  });
  const code = (text: string | Uint8Array) => {
    const result = parse(text);
    assert.equal(result.kind, "error");
    return (result as { code: string }).code;
  };
  await t.step("BAD_JSON for invalid JSON, invalid UTF-8 and NUL bytes", () => {
    assert.equal(code("{"), "BAD_JSON");
    assert.equal(code("not json"), "BAD_JSON");
    assert.equal(code(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), "BAD_JSON");
    assert.equal(code('{"status":"OK",\0"data":"MARKET ALL"}'), "BAD_JSON");
  });
  await t.step("BAD_REQUEST for non-objects, missing or wrong data, bad status or version", () => {
    for (const text of ["[1]", "null", "42", '"MARKET ALL"', '{"status":"OK"}', '{"data":7}']) {
      assert.equal(code(text), "BAD_REQUEST", text);
    }
    assert.equal(code('{"status":"NO","data":"MARKET ALL"}'), "BAD_REQUEST");
    assert.equal(code('{"status":"OK","data":"MARKET ALL","v":3}'), "BAD_REQUEST");
    assert.equal(code('{"status":"OK","data":"MARKET"}'), "BAD_REQUEST");
    assert.equal(code('{"status":"OK","data":"MARKET BTC ETH EUR"}'), "BAD_REQUEST");
    assert.equal(code('{"data":"HISTORY BTC 2y"}'), "BAD_REQUEST");
    assert.equal(code('{"data":"HISTORY"}'), "BAD_REQUEST");
    assert.equal(code('{"data":"PING now"}'), "BAD_REQUEST");
  });
  await t.step("UNKNOWN_COMMAND, and UNKNOWN_COIN for an impossible symbol", () => {
    assert.equal(code('{"status":"OK","data":"BUY BTC"}'), "UNKNOWN_COMMAND");
    assert.equal(code('{"status":"OK","data":""}'), "UNKNOWN_COMMAND");
    assert.equal(code(`{"status":"OK","data":"MARKET ${"X".repeat(1000)}"}`), "UNKNOWN_COIN");
    assert.equal(code('{"status":"OK","data":"MARKET BTC EU-R"}'), "UNKNOWN_CURRENCY");
  });
  await t.step("50,000 nested brackets and huge numbers are answered, not thrown", () => {
    assert.equal(code("[".repeat(50_000) + "]".repeat(50_000)), "BAD_REQUEST");
    assert.equal(
      code(`{"status":"OK","data":"MARKET ALL","v":1${"0".repeat(400)}}`),
      "BAD_REQUEST",
    );
  });
});

const btc: Coin = BTC_2022;
const shib: Coin = {
  symbol: "SHIB",
  name: 'Shiba "Inu"',
  rank: 2,
  price: 0.00001234,
  priceText: "0.00001234",
  marketCap: null,
  marketCapText: null,
  change24h: null,
  updatedAt: null,
};
const snapshot: Snapshot = {
  coins: [btc, shib],
  fetchedAt: "2022-10-04T20:17:00.000Z",
  source: "coingecko",
};

Deno.test("reply encoding", async (t) => {
  await t.step("v1 prices always carry a decimal point, and keep the upstream's digits", () => {
    assert.equal(v1Number("32797"), "32797.0");
    assert.equal(v1Number("1913.88"), "1913.88");
    assert.equal(v1Number("0.00001234"), "0.00001234");
    assert.equal(v1Number("1e-7"), "1e-7");
    assert.equal(v1AllJson(snapshot.coins), '{"Bitcoin":20220.0,"Shiba \\"Inu\\"":0.00001234}');
  });
  await t.step("v2 coin objects parse back to the documented shape", () => {
    assert.deepStrictEqual(JSON.parse(coinObjectJson(btc, snapshot, { stale: false })), {
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
    });
    const text = coinObjectJson(shib, snapshot, { stale: true });
    assert.match(text, /"price":0\.00001234,/);
    assert.deepStrictEqual(
      [JSON.parse(text).market_cap, JSON.parse(text).change_24h, JSON.parse(text).stale],
      [null, null, true],
    );
  });
  await t.step("errors are one JSON line", () => {
    const line = dec.decode(encodeError("BAD_JSON", 'bad "input"\n'));
    assert.ok(line.endsWith("}\n"));
    assert.equal(line.indexOf("\n"), line.length - 1);
    assert.deepStrictEqual(JSON.parse(line), {
      status: "ERROR",
      code: "BAD_JSON",
      data: 'bad "input"\n',
    });
  });
});

Deno.test("docs/protocol.md's error table lists exactly the protocol's error codes", async () => {
  const readme = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  const table = readme.slice(readme.indexOf("**Errors**"));
  const documented = [...table.matchAll(/^\| `([A-Z_]+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(documented, [...ERROR_CODES]);
});
