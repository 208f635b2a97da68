/**
 * One server, two listeners over real sockets: the connection caps (in all and per address) are
 * shared by every listener, and counters are kept per transport with totals.
 */
import assert from "node:assert/strict";
import { PriceServer } from "../../lib/server/price_server.ts";
import { Market } from "../../lib/server/market.ts";
import { lineSessions } from "../../lib/server/line_session.ts";
import type { Session, SessionFactory } from "../../lib/server/session.ts";
import type { Limits } from "../../lib/server/limits.ts";
import { fixtureSnapshot, LineClient } from "../helpers.ts";

const BTC_V1 = { status: "OK", data: "MARKET BTC" };

/** The line protocol under another transport name, to tell the listeners' counters apart. */
function renamed(factory: SessionFactory, transport: string): SessionFactory {
  return (context) => {
    const inner: Session = factory(context);
    return {
      transport,
      receive: (bytes, start, end, now, answer) => inner.receive(bytes, start, end, now, answer),
      get midRequest() {
        return inner.midRequest;
      },
      event: (line) => inner.event(line),
      farewell: (code, message) => inner.farewell!(code, message),
    };
  };
}

async function twoListeners(limits: Partial<Limits>) {
  const market = new Market({ staleAfterMs: 60_000 });
  market.update(await fixtureSnapshot());
  const server = new PriceServer([
    { listener: Deno.listen({ hostname: "127.0.0.1", port: 0 }) },
    {
      listener: Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      sessions: renamed(lineSessions(market), "alt"),
    },
  ], { market, limits, log: () => {} });
  const serving = server.serve();
  const [first, second] = server.addrs.map((addr) => addr.port);
  return { server, serving, first, second };
}

async function assertBusy(port: number, reason: RegExp): Promise<void> {
  await using refused = await LineClient.connect(port);
  const busy = await refused.readJson();
  assert.equal(busy.code, "BUSY");
  assert.match(busy.data as string, reason);
  assert.ok(await refused.closedByServer());
}

Deno.test("the total cap counts the connections of every listener", async () => {
  const { server, serving, first, second } = await twoListeners({ maxConnections: 2 });
  {
    await using a = await LineClient.connect(first);
    await using b = await LineClient.connect(second);
    assert.equal((await a.request(BTC_V1)).data, 20220);
    assert.equal((await b.request(BTC_V1)).data, 20220);
    await assertBusy(first, /^Server busy: 2 connections are open, try again later$/);
    await assertBusy(second, /^Server busy: 2 connections are open, try again later$/);
    assert.equal((await b.request(BTC_V1)).data, 20220, "the others do not notice");
    const { tcp, alt } = server.stats.byTransport;
    assert.deepStrictEqual([tcp.requests.MARKET, alt.requests.MARKET], [1, 2]);
    assert.deepStrictEqual([tcp.errors.BUSY, alt.errors.BUSY], [1, 1]);
    assert.deepStrictEqual([tcp.connectionsOpen, alt.connectionsOpen], [1, 1]);
    assert.equal(server.stats.requests.MARKET, 3);
    assert.equal(server.stats.errors.BUSY, 2);
    assert.equal(server.stats.connectionsOpen, 2);
  }
  await server.shutdown();
  await serving;
  assert.equal(server.stats.connectionsOpen, 0);
  assert.equal(server.stats.connectionsServed, 2);
});

Deno.test("the per-address cap counts one address over every listener", async () => {
  const { server, serving, first, second } = await twoListeners({
    maxConnections: 100,
    maxConnectionsPerAddress: 2,
  });
  {
    await using a = await LineClient.connect(first);
    await using b = await LineClient.connect(second);
    assert.equal((await a.request(BTC_V1)).data, 20220);
    assert.equal((await b.request(BTC_V1)).data, 20220);
    await assertBusy(second, /2 connections are open from 127\.0\.0\.1/);
    // The server lets go of a connection's place before it closes the socket.
    await a.request({ status: "CLOSE" });
    assert.ok(await a.closedByServer());
    // The first listener's connection is gone: its place serves the second listener.
    await using c = await LineClient.connect(second);
    assert.equal((await c.request(BTC_V1)).data, 20220);
  }
  await server.shutdown();
  await serving;
});

Deno.test("a session that switches protocols hands the connection on, counters and all", async () => {
  const market = new Market({ staleAfterMs: 60_000 });
  market.update(await fixtureSnapshot());
  const lines = lineSessions(market);
  const beta = renamed(lines, "beta");
  // Answers one request as "alpha", then switches to a "beta" session for the rest.
  const alpha: SessionFactory = (context) => {
    const inner = lines(context);
    let next: Session | undefined;
    return {
      transport: "alpha",
      receive: (bytes, start, end, now, answer) =>
        inner.receive(bytes, start, end, now, (reply, request, from, to) => {
          next ??= beta(context);
          answer(reply, request, from, to);
        }),
      get midRequest() {
        return inner.midRequest;
      },
      get next() {
        return next;
      },
      event: (line) => inner.event(line),
    };
  };
  const server = new PriceServer([
    { listener: Deno.listen({ hostname: "127.0.0.1", port: 0 }), sessions: alpha },
  ], { market, log: () => {} });
  const serving = server.serve();
  {
    await using client = await LineClient.connect(server.addr.port);
    assert.equal((await client.request(BTC_V1)).data, 20220);
    assert.equal((await client.request(BTC_V1)).data, 20220);
    assert.equal((await client.request(BTC_V1)).data, 20220);
    const { alpha: a, beta: b } = server.stats.byTransport;
    assert.deepStrictEqual([a.requests.MARKET, b.requests.MARKET], [1, 2]);
    assert.deepStrictEqual([a.connectionsOpen, b.connectionsOpen], [0, 1]);
    assert.equal(server.stats.connectionsOpen, 1);
  }
  await server.shutdown();
  await serving;
  const { alpha: a, beta: b } = server.stats.byTransport;
  assert.deepStrictEqual([a.connectionsServed, b.connectionsServed], [0, 1]);
  assert.equal(b.connectionsOpen, 0);
  assert.equal(server.stats.connectionsServed, 1, "one connection, counted once");
});
