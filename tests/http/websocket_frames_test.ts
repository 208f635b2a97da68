import assert from "node:assert/strict";
import {
  acceptKey,
  CloseCode,
  encodeClose,
  encodeFrame,
  encodeLine,
  FrameDecoder,
  type FrameFailure,
  isUtf8,
  Opcode,
} from "../../lib/http/websocket_frames.ts";
import { clientFrame, closePayload, parseServerFrames } from "./_client_frames.ts";

type Event = [string, string | number | null];

/** Feeds `chunks` to a decoder; returns what it reported and the failure, if any. */
function decode(
  chunks: Uint8Array[],
  maxBytes = 1024,
): { events: Event[]; failure: FrameFailure | null } {
  const decoder = new FrameDecoder(maxBytes);
  const events: Event[] = [];
  const text = new TextDecoder();
  let failure: FrameFailure | null = null;
  for (const chunk of chunks) {
    // A copy at an offset inside a larger buffer, as a read buffer would hold it.
    const buffer = new Uint8Array(chunk.length + 6);
    buffer.set(chunk, 3);
    failure ??= decoder.push(buffer, 3, 3 + chunk.length, {
      message: (bytes, start, end) =>
        events.push(["text", text.decode(bytes.subarray(start, end))]),
      ping: (payload) => events.push(["ping", text.decode(payload)]),
      pong: () => events.push(["pong", null]),
      close: (code, reason) => events.push(["close", `${code} ${reason}`]),
    });
  }
  return { events, failure };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

Deno.test("the accept key of RFC 6455 section 1.3's example", () => {
  assert.deepEqual(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("masked text frames decode, whole, split byte by byte and several per chunk", () => {
  const a = clientFrame(Opcode.text, '{"v":2,"cmd":"MARKET","symbol":"BTC"}');
  const b = clientFrame(Opcode.text, "PING");
  assert.deepEqual(decode([concat(a, b)]).events, [
    ["text", '{"v":2,"cmd":"MARKET","symbol":"BTC"}'],
    ["text", "PING"],
  ]);
  const bytes = [...concat(a, b)].map((byte) => Uint8Array.of(byte));
  assert.deepEqual(decode(bytes).events.length, 2);
  const decoder = new FrameDecoder(100);
  let mid = false;
  decoder.push(a, 0, 5, { message() {}, ping() {}, pong() {}, close() {} });
  mid = decoder.midMessage;
  assert(mid, "half a frame is mid-message");
});

Deno.test("16-bit and 64-bit lengths decode", () => {
  const medium = "x".repeat(300);
  const large = "y".repeat(70_000);
  const { events } = decode(
    [clientFrame(Opcode.text, medium), clientFrame(Opcode.text, large)],
    100_000,
  );
  assert.deepEqual(events, [["text", medium], ["text", large]]);
});

Deno.test("fragmented text with a ping between fragments", () => {
  const { events, failure } = decode([
    clientFrame(Opcode.text, "MARK", { fin: false }),
    clientFrame(Opcode.ping, "hi"),
    clientFrame(Opcode.continuation, "ET ", { fin: false }),
    clientFrame(Opcode.continuation, "BTC"),
  ]);
  assert.deepEqual(failure, null);
  assert.deepEqual(events, [["ping", "hi"], ["text", "MARKET BTC"]]);
});

Deno.test("refusals: unmasked, binary, bad UTF-8, oversize, bad control frames, bad sequences", () => {
  const cases: [Uint8Array[], number][] = [
    [[clientFrame(Opcode.text, "PING", { mask: false })], CloseCode.protocolError],
    [[clientFrame(Opcode.binary, "PING")], CloseCode.unsupportedData],
    [[clientFrame(Opcode.text, Uint8Array.of(0x50, 0xc3, 0x28))], CloseCode.invalidPayload],
    [[clientFrame(Opcode.text, Uint8Array.of(0xed, 0xa0, 0x80))], CloseCode.invalidPayload],
    [[clientFrame(Opcode.text, "x".repeat(1025))], CloseCode.messageTooBig],
    [
      [clientFrame(Opcode.text, "x".repeat(600), { fin: false }), clientFrame(0, "x".repeat(600))],
      CloseCode.messageTooBig,
    ],
    [[clientFrame(Opcode.ping, "x".repeat(126))], CloseCode.protocolError],
    [[clientFrame(Opcode.ping, "x", { fin: false })], CloseCode.protocolError],
    [[clientFrame(Opcode.continuation, "x")], CloseCode.protocolError],
    [
      [clientFrame(Opcode.text, "a", { fin: false }), clientFrame(Opcode.text, "b")],
      CloseCode.protocolError,
    ],
    [[clientFrame(Opcode.text, "a", { rsv: 4 })], CloseCode.protocolError],
    [[clientFrame(0x3, "a")], CloseCode.protocolError],
    [[clientFrame(Opcode.close, Uint8Array.of(3))], CloseCode.protocolError],
    [[clientFrame(Opcode.close, Uint8Array.of(0x03, 0xec))], CloseCode.protocolError], // 1004
  ];
  for (const [chunks, code] of cases) {
    const { events, failure } = decode(chunks);
    assert.deepEqual(failure?.code, code, `${JSON.stringify(events)} ${failure?.reason}`);
  }
});

Deno.test("an oversize frame is refused from its header, before its payload arrives", () => {
  const frame = clientFrame(Opcode.text, "x".repeat(5000));
  assert.deepEqual(decode([frame.subarray(0, 8)]).failure?.code, CloseCode.messageTooBig);
});

Deno.test("a close frame ends decoding; its code and reason are reported", () => {
  const close = clientFrame(
    Opcode.close,
    concat(Uint8Array.of(0x03, 0xe8), new TextEncoder().encode("bye")),
  );
  const { events } = decode([concat(close, clientFrame(Opcode.text, "PING"))]);
  assert.deepEqual(events, [["close", "1000 bye"]]);
  assert.deepEqual(decode([clientFrame(Opcode.close, "")]).events, [["close", "null "]]);
});

Deno.test("server frames are unmasked with minimal lengths; lines lose their newline", () => {
  const { frames, rest } = parseServerFrames(concat(
    encodeLine(new TextEncoder().encode('{"status":"OK"}\n')),
    encodeFrame(Opcode.text, new Uint8Array(300)),
    encodeFrame(Opcode.text, new Uint8Array(70_000)),
    encodeClose(CloseCode.policyViolation, "é".repeat(100)),
  ));
  assert.deepEqual(rest.length, 0);
  assert.deepEqual(new TextDecoder().decode(frames[0].payload), '{"status":"OK"}');
  assert.deepEqual(frames.map((frame) => frame.payload.length).slice(1, 3), [300, 70_000]);
  const close = closePayload(frames[3].payload);
  assert.deepEqual(close.code, CloseCode.policyViolation);
  assert(frames[3].payload.length <= 125 && close.reason === "é".repeat(61));
});

Deno.test("isUtf8 agrees with a fatal TextDecoder", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const samples = [
    [0x41],
    [0xc3, 0xa9],
    [0xc0, 0x80],
    [0xe2, 0x82, 0xac],
    [0xe0, 0x80, 0x80],
    [0xf0, 0x9f, 0x98, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xed, 0x9f, 0xbf],
    [0xed, 0xa0, 0x80],
    [0xe2, 0x82],
    [0xff],
    [0x80],
  ];
  for (let i = 0; i < 2000; i++) samples.push([...crypto.getRandomValues(new Uint8Array(i % 7))]);
  for (const sample of samples) {
    const bytes = Uint8Array.from(sample);
    let valid = true;
    try {
      strict.decode(bytes);
    } catch {
      valid = false;
    }
    assert.deepEqual(isUtf8(bytes, 0, bytes.length), valid, JSON.stringify(sample));
  }
});
