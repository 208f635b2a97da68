import assert from "node:assert/strict";
import fc from "fast-check";
import { Market } from "../../lib/server/market.ts";
import { RequestFramer } from "../../lib/wire/request_framer.ts";
import { fixtureSnapshot } from "../helpers.ts";
import { respond } from "../respond.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CAP = 256;

type Outcome = { requests: string[]; overflowed: boolean };

/** Requests the framer said repeat the previous one, over all runs: the check must be exercised. */
let repeats = 0;

/** Frames `stream` cut at `cuts`, checking the framer's invariants as it goes. */
function frameSplit(stream: Uint8Array, cuts: number[]): Outcome {
  const framer = new RequestFramer(CAP);
  const requests: string[] = [];
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  let previous: Uint8Array | null = null;
  for (const to of [...points, stream.length]) {
    if (to < from) continue;
    const fits = framer.push(stream.subarray(from, to), (b, start, end, repeat) => {
      const line = b.subarray(start, end);
      assert.ok(line.length <= CAP, "a request over the cap was passed on");
      assert.ok(!line.includes(0x0a), "a request contained a newline");
      if (repeat) {
        assert.deepStrictEqual(line, previous, "a request said to repeat the previous did not");
        repeats++;
      }
      previous = line.slice();
      requests.push(dec.decode(line));
    });
    if (!fits) return { requests, overflowed: true };
    from = to;
  }
  return { requests, overflowed: false };
}

/** Streams that look like the protocol more often than random bytes would. */
const token = fc.oneof(
  fc.constantFrom(
    '{"status":"OK","data":"MARKET ALL"}',
    '{"status":"OK","data":"MARKET btc","v":2}',
    '{"status":"CLOSE"}',
    "\n",
    "\r\n",
    "{",
    "}",
    '"',
    "\\",
    " ",
    '"}\\"{',
    "[1,2]",
  ),
  fc.string({ maxLength: 20 }),
  fc.uint8Array({ maxLength: 40 }).map((b) => dec.decode(b)),
);
const stream = fc.array(token, { maxLength: 40 }).map((parts) => enc.encode(parts.join("")));
const rawStream = fc.uint8Array({ maxLength: 600 });
/** A request sent again and again, as polling and pipelining clients do, then anything. */
const repeatedStream = fc.tuple(
  token,
  fc.integer({ min: 2, max: 6 }),
  fc.constantFrom("", "\n", "\r\n", " "),
  fc.array(token, { maxLength: 5 }),
).map(([request, times, separator, rest]) =>
  enc.encode((request + separator).repeat(times) + rest.join(""))
);
const cuts = fc.array(fc.nat(), { maxLength: 30 });

Deno.test("property: framing does not depend on how the stream is split", () => {
  for (const source of [stream, rawStream, repeatedStream]) {
    fc.assert(
      fc.property(source, cuts, (bytes, splits) => {
        const whole = frameSplit(bytes, []);
        const split = frameSplit(bytes, splits);
        const byteByByte = frameSplit(bytes, [...bytes.keys()]);
        assert.deepStrictEqual(split, whole);
        assert.deepStrictEqual(byteByByte, whole);
      }),
      { numRuns: 2500 },
    );
  }
  assert.ok(repeats > 100, `only ${repeats} requests were said to repeat: the check went unused`);
});

Deno.test("property: every reply is one valid JSON line with a status", async () => {
  const market = new Market({ staleAfterMs: 60_000 });
  market.update(await fixtureSnapshot());
  const empty = new Market({ staleAfterMs: 60_000 });
  const codes = new Set(["BAD_JSON", "BAD_REQUEST", "UNKNOWN_COMMAND", "UNKNOWN_COIN", "NO_DATA"]);
  fc.assert(
    fc.property(stream, cuts, (bytes, splits) => {
      const framer = new RequestFramer(CAP);
      let from = 0;
      for (
        const to of [
          ...splits.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b),
          bytes.length,
        ]
      ) {
        if (to < from) continue;
        framer.push(bytes.subarray(from, to), (b, start, end) => {
          const line = b.subarray(start, end);
          for (const m of [market, empty]) {
            const reply = dec.decode(respond(m, line).bytes);
            assert.equal(reply.indexOf("\n"), reply.length - 1, "one line, newline-terminated");
            const parsed = JSON.parse(reply);
            assert.ok(parsed.status === "OK" || codes.has(parsed.code), reply);
          }
        });
        from = to;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: a remembered reply is the reply parsing gives, whatever reuses the buffer", async () => {
  const snapshot = await fixtureSnapshot();
  const warm = new Market({ staleAfterMs: 60_000 });
  warm.update(snapshot);
  const line = fc.oneof(
    fc.constantFrom(
      '{"status":"OK","data":"MARKET ALL"}',
      '{"status":"OK","data":"MARKET ALL","v":2}',
      '{"status":"OK","data":"MARKET BTC"}',
      '{"status":"OK","data":"MARKET BTC","v":2}',
      '{"status":"OK","data":"  market   eth ","v":2}',
      '{"status":"OK","data":"MARKET BTD"}',
      '{"data":"MARKET BTC","status":"OK"}',
      '{"status":"CLOSE"}',
    ),
    fc.string({ maxLength: 60 }),
  );
  // One buffer for every request, as the framer hands out views of its read buffer: a reply
  // remembered for some bytes must not change when the buffer is overwritten.
  const buffer = new Uint8Array(256);
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), (lines) => {
      for (const text of [...lines, ...lines]) {
        const bytes = enc.encode(text);
        buffer.fill(0x7b);
        buffer.set(bytes);
        const remembered = respond(warm, buffer.subarray(0, bytes.length)).bytes;
        const cold = new Market({ staleAfterMs: 60_000 });
        cold.update(snapshot);
        assert.deepStrictEqual(dec.decode(remembered), dec.decode(respond(cold, bytes).bytes));
      }
    }),
    { numRuns: 300 },
  );
});
