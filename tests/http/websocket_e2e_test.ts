/**
 * WebSocket end to end: a running service's HTTP listener upgrades `/ws`, with clients we did
 * not write (Deno's `WebSocket`, the npm `ws` package) and raw frames for what they never send.
 */
import assert from "node:assert/strict";
import WebSocketClient from "ws";
import { startTestService, type TestService, withDeadline } from "../helpers.ts";
import { CloseCode, Opcode } from "../../lib/http/websocket_frames.ts";
import { clientFrame } from "./_client_frames.ts";
import { RawWebSocket } from "./_raw_ws.ts";
import { moved } from "../moved_snapshot.ts";
import { HAS_PROMTOOL, promtoolCheck, seriesValue } from "../metrics/_promtool.ts";

const RECORDED = JSON.parse(
  await Deno.readTextFile(
    new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url),
  ),
);

function wsUrl(env: TestService): string {
  const addr = env.service.httpAddr;
  assert.ok(addr !== null, "the HTTP listener is on");
  return `ws://127.0.0.1:${addr.port}/ws`;
}

/** Messages of a Deno `WebSocket`, awaited one at a time with a deadline. */
function inbox(socket: WebSocket) {
  const queue: Record<string, unknown>[] = [];
  let wake = () => {};
  socket.onmessage = (event) => {
    queue.push(JSON.parse(event.data));
    wake();
  };
  return async (what: string): Promise<Record<string, unknown>> => {
    while (queue.length === 0) {
      await withDeadline(new Promise<void>((resolve) => wake = resolve), what);
    }
    return queue.shift()!;
  };
}

Deno.test("Deno's WebSocket: WATCH BTC gets the update of an ingestion that moved its price", async () => {
  await using env = await startTestService(["--refresh", "1"]);
  const socket = new WebSocket(wsUrl(env));
  const next = inbox(socket);
  const closed = new Promise((resolve) => socket.onclose = resolve);
  try {
    await withDeadline(new Promise((resolve) => socket.onopen = resolve), "the upgrade");
    socket.send(JSON.stringify({ v: 2, data: "WATCH BTC" }));
    const reply = await next("the WATCH reply");
    assert.equal(reply.status, "OK");
    const before = (reply.data as { price: number }[])[0].price;
    const coins = structuredClone(RECORDED);
    coins[0].current_price = before + 1.25;
    env.upstream.setCoins(coins);
    // The next ingestion (every second) carries the new price.
    let event = await next("an update event");
    while ((event.data as { price: number }).price === before) event = await next("the update");
    assert.equal(event.event, "update");
    assert.equal((event.data as { symbol: string }).symbol, "BTC");
    assert.equal((event.data as { price: number }).price, before + 1.25);
  } finally {
    socket.close();
    await closed;
  }
});

Deno.test("npm ws: requests in order, ping/pong, close echoed; counted in the metrics as ws", async () => {
  await using env = await startTestService();
  const client = new WebSocketClient(wsUrl(env));
  const messages: Record<string, unknown>[] = [];
  const got = Promise.withResolvers<void>();
  client.on("message", (data: unknown) => {
    messages.push(JSON.parse(String(data)));
    if (messages.length === 3) got.resolve();
  });
  client.on("error", (error: Error) => got.reject(error));
  await withDeadline(new Promise((resolve) => client.on("open", resolve)), "the upgrade");
  client.send('{"v":2,"data":"MARKET BTC"}');
  client.send('{"data":"PING"}');
  client.send('{"v":2,"data":"MARKET NOPE"}');
  await withDeadline(got.promise, "three replies");
  assert.deepEqual(
    messages.map((m) => m.code ?? (m.data as { symbol?: string }).symbol ?? m.data),
    ["BTC", "PONG", "UNKNOWN_COIN"],
  );
  const pong = new Promise<string>((resolve) =>
    client.on("pong", (data: unknown) => resolve(String(data)))
  );
  client.ping("are you there");
  assert.equal(await withDeadline(pong, "a pong"), "are you there");

  const text = env.service.metrics();
  assert.equal(seriesValue(text, 'crypto_connections_open{transport="ws"}'), 1);
  assert.equal(seriesValue(text, 'crypto_requests_total{command="MARKET",transport="ws"}'), 2);
  assert.equal(seriesValue(text, 'crypto_errors_total{code="UNKNOWN_COIN",transport="ws"}'), 1);

  const closed = new Promise<[number, string]>((resolve) =>
    client.on("close", (code: number, reason: unknown) => resolve([code, String(reason)]))
  );
  client.close(4001, "done");
  assert.deepEqual(await withDeadline(closed, "the echoed close"), [4001, ""]);
});

Deno.test("over the HTTP listener: unmasked and oversize frames are refused with 1002 and 1009", async () => {
  await using env = await startTestService(["--max-request-bytes", "1000"]);
  const port = env.service.httpAddr!.port;
  for (
    const [frame, code] of [
      [clientFrame(Opcode.text, '{"data":"PING"}', { mask: false }), CloseCode.protocolError],
      [clientFrame(Opcode.text, "x".repeat(5000)), CloseCode.messageTooBig],
    ] as const
  ) {
    await using ws = await RawWebSocket.connect(port, "/ws");
    await ws.send(frame);
    const close = await ws.closeFrame();
    assert.equal(close.code, code, close.reason);
    assert.ok(close.ended);
  }
});

Deno.test("npm ws: a client that stops reading is closed past --max-unsent-bytes", async () => {
  await using env = await startTestService(["--refresh", "3600", "--max-unsent-bytes", "65536"]);
  const symbols = env.service.market.snapshot!.coins.slice(0, 50).map((c) => c.symbol).join(" ");
  const hog = new WebSocketClient(wsUrl(env));
  const hogClosed = new Promise<number>((resolve) => hog.on("close", resolve));
  hog.on("error", () => {});
  await withDeadline(new Promise((resolve) => hog.on("open", resolve)), "the hog's upgrade");
  const watching = new Promise((resolve) => hog.once("message", resolve));
  hog.send(JSON.stringify({ v: 2, data: `WATCH ${symbols}` }));
  await withDeadline(watching, "the hog's WATCH reply");
  // The hog stops reading: its socket is paused, so the kernel buffers fill and then the server's.
  (hog as unknown as { _socket: { pause(): void } })._socket.pause();
  await withDeadline(
    (async () => {
      let cents = 0;
      while (env.service.server.stats.byTransport.ws?.errors.UNSENT_LIMIT === undefined) {
        env.service.market.update(moved(env.service.market.snapshot!, ++cents));
        // Let the event loop write what was queued before the next round.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })(),
    "the server to close the client that does not read",
    60_000,
  );
  assert.ok(
    env.logs.lines.some((line) => /closed: more than 65536 bytes of replies not read/.test(line)),
  );
  (hog as unknown as { _socket: { resume(): void } })._socket.resume();
  const code = await withDeadline(hogClosed, "the hog's close event");
  // 1008 when the close frame got through behind what was queued, 1006 when the socket ended first.
  assert.ok(code === CloseCode.policyViolation || code === 1006, `close code ${code}`);
  assert.equal(env.service.server.stats.byTransport.ws.connectionsOpen, 0);
});

Deno.test({
  name: "GET /metrics over HTTP after WebSocket traffic: counted, and promtool finds nothing",
  ignore: !HAS_PROMTOOL,
  async fn() {
    await using env = await startTestService();
    await using ws = await RawWebSocket.connect(env.service.httpAddr!.port, "/ws");
    await ws.sendText('{"v":2,"data":"WATCH BTC"}');
    assert.equal((await ws.json()).status, "OK");
    const response = await fetch(`http://127.0.0.1:${env.service.httpAddr!.port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.equal(seriesValue(text, "crypto_watchers"), 1);
    assert.equal(seriesValue(text, 'crypto_requests_total{command="WATCH",transport="ws"}'), 1);
    const { code, output } = await promtoolCheck(text);
    assert.equal(output, "");
    assert.equal(code, 0);
  },
});
