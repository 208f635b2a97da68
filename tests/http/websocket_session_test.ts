/**
 * The WebSocket session over real sockets, on a listener that speaks WebSocket from the first
 * byte (the HTTP upgrade is the HTTP session's, tested end to end elsewhere).
 */
import assert from "node:assert/strict";
import { Market } from "../../lib/server/market.ts";
import { type Limits, PriceServer } from "../../lib/server/price_server.ts";
import { WebSocketSession } from "../../lib/http/websocket_session.ts";
import { CloseCode, Opcode } from "../../lib/http/websocket_frames.ts";
import { fixtureSnapshot, withDeadline } from "../helpers.ts";
import { clientFrame } from "./_client_frames.ts";
import { RawWebSocket } from "./_raw_ws.ts";
import { moved, movedBtc } from "../moved_snapshot.ts";

const decoder = new TextDecoder();

async function wsServer(limits: Partial<Limits> = {}) {
  const market = new Market({ staleAfterMs: 1e12 });
  market.update(await fixtureSnapshot());
  const logs: string[] = [];
  const server = new PriceServer(
    {
      listener: Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      sessions: (context) => new WebSocketSession(market, context),
    },
    { market, limits, log: (line) => logs.push(line) },
  );
  const serving = server.serve();
  return {
    market,
    server,
    logs,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await serving;
    },
  };
}

Deno.test("each text message is one request; replies come in order, one message each", async () => {
  await using env = await wsServer();
  await using ws = await RawWebSocket.connect(env.port);
  // Three requests in one write, one of them fragmented, one with a line client's newline.
  await ws.send(
    new Uint8Array([
      ...clientFrame(Opcode.text, '{"v":2,"data":"MARKET BTC"}'),
      ...clientFrame(Opcode.text, '{"data":', { fin: false }),
      ...clientFrame(Opcode.continuation, '"PING"}'),
      ...clientFrame(Opcode.text, "{bad}\n"),
    ]),
  );
  const first = await ws.frame();
  assert.equal(first?.opcode, Opcode.text);
  const text = decoder.decode(first!.payload);
  assert.ok(!text.endsWith("\n"), "no newline inside a message");
  assert.equal(JSON.parse(text).data.symbol, "BTC");
  assert.equal((await ws.json()).data, "PONG");
  assert.equal((await ws.json()).code, "BAD_JSON");
  assert.equal(env.server.stats.byTransport.ws.requests.MARKET, 1);
  assert.equal(env.server.stats.byTransport.ws.errors.BAD_JSON, 1);
});

Deno.test("WATCH: the update after an ingestion arrives as one message", async () => {
  await using env = await wsServer();
  await using ws = await RawWebSocket.connect(env.port);
  await ws.sendText('{"v":2,"data":"WATCH BTC"}');
  assert.equal((await ws.json()).status, "OK");
  env.market.update(movedBtc(env.market.snapshot!, 100));
  const event = await ws.json();
  assert.equal(event.event, "update");
  assert.equal((event.data as { symbol: string }).symbol, "BTC");
  await ws.sendText('{"v":2,"data":"UNWATCH"}');
  assert.deepEqual((await ws.json()).data, []);
});

Deno.test("ping is answered with pong; a close is echoed and the connection closed", async () => {
  await using env = await wsServer();
  await using ws = await RawWebSocket.connect(env.port);
  await ws.send(clientFrame(Opcode.ping, "hello"));
  const pong = await ws.frame();
  assert.equal(pong?.opcode, Opcode.pong);
  assert.equal(decoder.decode(pong!.payload), "hello");
  await ws.send(clientFrame(Opcode.close, Uint8Array.of(0x0f, 0xa0, 0x62)));
  assert.deepEqual(await ws.closeFrame(), { code: 4000, reason: "", ended: true });
});

Deno.test("CLOSE answers BYE, then a close frame", async () => {
  await using env = await wsServer();
  await using ws = await RawWebSocket.connect(env.port);
  await ws.sendText('{"status":"CLOSE"}');
  assert.equal((await ws.json()).data, "BYE");
  const close = await ws.closeFrame();
  assert.equal(close.code, CloseCode.normal);
  assert.ok(close.ended);
});

Deno.test("refused frames close with their code: unmasked 1002, binary 1003, bad UTF-8 1007, oversize 1009", async () => {
  await using env = await wsServer({ maxRequestBytes: 1000 });
  const cases: [Uint8Array, number][] = [
    [clientFrame(Opcode.text, '{"data":"PING"}', { mask: false }), CloseCode.protocolError],
    [clientFrame(Opcode.binary, "PING"), CloseCode.unsupportedData],
    [clientFrame(Opcode.text, Uint8Array.of(0x7b, 0xff, 0x7d)), CloseCode.invalidPayload],
    [clientFrame(Opcode.text, "x".repeat(5000)), CloseCode.messageTooBig],
  ];
  for (const [frame, code] of cases) {
    await using ws = await RawWebSocket.connect(env.port);
    await ws.send(frame);
    const close = await ws.closeFrame();
    assert.equal(close.code, code, close.reason);
    assert.ok(close.ended, `closed after ${code}`);
  }
  assert.equal(env.server.stats.byTransport.ws.errors.LINE_TOO_LONG, 1);
  assert.equal(env.server.stats.byTransport.ws.errors.BAD_REQUEST, 3);
});

Deno.test("idle: the server pings; a peer that answers stays, one that does not is closed", async () => {
  await using env = await wsServer({ idleTimeoutMs: 1500 });
  await using live = await RawWebSocket.connect(env.port);
  await using silent = await RawWebSocket.connect(env.port);
  // The live peer answers two pings: it outlives the idle timeout.
  for (let i = 0; i < 2; i++) {
    const ping = await live.frame();
    assert.equal(ping?.opcode, Opcode.ping, decoder.decode(ping?.payload));
    await live.send(clientFrame(Opcode.pong, ping!.payload));
  }
  // The silent one got a ping (unless a late sweep found it past the whole timeout at once),
  // then a close frame with the reason.
  let frame = await silent.frame();
  if (frame?.opcode === Opcode.ping) frame = await silent.frame();
  assert.equal(frame?.opcode, Opcode.close);
  assert.equal((frame!.payload[0] << 8) | frame!.payload[1], CloseCode.policyViolation);
  assert.match(decoder.decode(frame!.payload.subarray(2)), /no request for 1500 ms/);
  await live.sendText('{"data":"PING"}');
  assert.equal((await live.json()).data, "PONG");
});

Deno.test("a client that does not read is closed with 1008 past --max-unsent-bytes", async () => {
  await using env = await wsServer({ maxUnsentBytes: 65536 });
  await using hog = await RawWebSocket.connect(env.port);
  await using reader = await RawWebSocket.connect(env.port);
  const all = env.market.snapshot!.coins.slice(0, 50).map((coin) => coin.symbol).join(" ");
  await hog.sendText(`{"v":2,"data":"WATCH ${all}"}`);
  await reader.sendText(`{"v":2,"data":"WATCH ${all}"}`);
  const hogReply = await hog.json();
  assert.equal(hogReply.status, "OK", JSON.stringify(hogReply));
  assert.equal((await reader.json()).status, "OK");
  // Kernel buffers absorb the first megabytes; ingest until the server gives up on the hog.
  let cents = 0;
  await withDeadline(
    (async () => {
      while (env.server.stats.byTransport.ws.errors.UNSENT_LIMIT === undefined) {
        env.market.update(moved(env.market.snapshot!, ++cents));
        for (let i = 0; i < 50; i++) assert.equal((await reader.json()).event, "update");
      }
    })(),
    "the server to close the client that does not read",
    60_000,
  );
  assert.ok(
    env.logs.some((line) => /closed: more than 65536 bytes of replies not read/.test(line)),
  );
  assert.equal(env.server.stats.byTransport.ws.connectionsOpen, 1);
  // The hog, reading at last, finds whole update messages, then the end of the connection.
  let frame = await hog.frame();
  while (frame !== null && frame.opcode === Opcode.text) frame = await hog.frame();
  if (frame !== null) {
    assert.equal(frame.opcode, Opcode.close);
    assert.equal((frame.payload[0] << 8) | frame.payload[1], CloseCode.policyViolation);
  }
});

Deno.test("a message begun and not finished within the request timeout is closed with 1008", async () => {
  await using env = await wsServer({ requestTimeoutMs: 300 });
  await using ws = await RawWebSocket.connect(env.port);
  const frame = clientFrame(Opcode.text, '{"data":"PING"}');
  await ws.send(frame.subarray(0, 8));
  const close = await ws.closeFrame();
  assert.equal(close.code, CloseCode.policyViolation);
  assert.match(close.reason, /request not complete within 300 ms/);
});
