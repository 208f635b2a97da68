/**
 * `parseJson`: the fast way of keeping number text must give exactly what a source-text reviver
 * gives, on recorded answers and on generated JSON, and no upstream may pass a string off as a
 * number. Reading: a body is cancelled when the read stops early, whatever kind of stream it is.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { keepNumberText, parseJson } from "../../lib/ingest/exact_json.ts";
import { requestJson } from "../../lib/ingest/upstream_http.ts";

const TESTDATA = new URL("../testdata/", import.meta.url);
const EXACT = keepNumberText(["price", "market_cap", "current_price"]);

/** What the slow, obviously exact way gives, as comparable text. */
function viaReviver(text: string): string {
  return JSON.stringify(JSON.parse(text, EXACT.reviver as Parameters<typeof JSON.parse>[1]));
}

Deno.test("recorded answers parse exactly as with a source-text reviver", async () => {
  for (
    const name of [
      "coingecko_markets_usd_2022-10-04.json",
      "coingecko_markets_usd_2021-06-24.json",
      "coinpaprika_tickers_docs_example.json",
      "coinmarketcap_listings_latest_docs_example.json",
    ]
  ) {
    const text = await Deno.readTextFile(new URL(name, TESTDATA));
    const parsed = JSON.stringify(parseJson(text, EXACT));
    assert.equal(parsed, viaReviver(text), name);
    assert.match(parsed, /price":\{"value":[\d.e+-]+,"text":"[^"]+"\}/, name);
  }
});

Deno.test("number text is kept as written; strings, other keys and look-alikes stay as they are", () => {
  const text = String.raw`{"price" : 1.50, "market_cap":2E+3, "x": {"price": -0.10},
    "volume": 1.50, "current_price": "20220", "a\"price": 7, "n": "\"price\":8", "p": [0.10]}`;
  const value = parseJson(text, EXACT) as Record<string, unknown>;
  assert.deepEqual(JSON.parse(JSON.stringify(value)), {
    price: { value: 1.5, text: "1.50" },
    market_cap: { value: 2000, text: "2E+3" },
    x: { price: { value: -0.1, text: "-0.10" } },
    volume: 1.5,
    current_price: "20220",
    'a"price': 7,
    n: '"price":8',
    p: [0.1],
  });
  assert.equal(JSON.stringify(value), viaReviver(text));
});

Deno.test("a string marked like a kept number stays a string", () => {
  const value = parseJson(String.raw`{"price":"\u00001.5"}`, EXACT) as { price: unknown };
  assert.equal(value.price, "\u00001.5");
});

Deno.test("deep nesting and invalid JSON fail as JSON.parse does", () => {
  const deep = '{"a":'.repeat(100_000) + '{"price":1}' + "}".repeat(100_000);
  let value = parseJson(deep, EXACT) as Record<string, unknown>;
  while ("a" in value) value = value.a as Record<string, unknown>;
  assert.equal(JSON.stringify(value), '{"price":{"value":1,"text":"1"}}');
  for (const bad of ['{"price":01}', '{"price":1.}', '{"price":-}', '{"price":1', "[1,]"]) {
    assert.throws(() => parseJson(bad, EXACT), SyntaxError, bad);
  }
});

Deno.test("generated JSON parses exactly as with a source-text reviver", () => {
  const key = fc.constantFrom("price", "market_cap", 'a"price', "price\\", "name", "0", "rank");
  const number = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom("1.50", "2E+3", "-0.0", "1e-7", "123456789012345678901234567890"),
  );
  const { json } = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: "small" },
      number,
      fc.string(),
      fc.constantFrom(null, true, false),
      fc.array(tie("json")),
      fc.dictionary(key, tie("json")),
    ),
  }));
  const write = (value: unknown, pretty: boolean): string =>
    // Number texts given as strings are written as numbers, so odd spellings occur.
    JSON.stringify(value, null, pretty ? 2 : undefined).replace(
      /"(1\.50|2E\+3|-0\.0|1e-7|123456789012345678901234567890)"/g,
      "$1",
    );
  fc.assert(
    fc.property(json, fc.boolean(), (value, pretty) => {
      const text = write(value, pretty);
      assert.equal(JSON.stringify(parseJson(text, EXACT)), viaReviver(text));
    }),
    { numRuns: 500 },
  );
});

Deno.test("a body read only in part is cancelled, whatever kind of stream it is", async () => {
  for (const bytes of [true, false]) {
    const cancelled = Promise.withResolvers<void>();
    const source = {
      pull(controller: ReadableStreamDefaultController<Uint8Array>) {
        controller.enqueue(new TextEncoder().encode(" ".repeat(4096)));
      },
      cancel() {
        cancelled.resolve();
      },
    };
    const body = bytes
      ? new ReadableStream({ ...source, type: "bytes" } as UnderlyingByteSource)
      : new ReadableStream<Uint8Array>(source);
    const fetch = () => Promise.resolve(new Response(body));
    await assert.rejects(
      requestJson("http://h/x", { fetch, maxBytes: 64 * 1024 }),
      /h sent an answer over 65536 bytes \(cut off there\)/,
    );
    await cancelled.promise;
  }
});
