import assert from "node:assert/strict";
import { eventually } from "./_replicas.ts";
import { withDeadline } from "../helpers.ts";
import { POSTGRES_MISSING } from "../postgres_cluster.ts";
import { HaProxy, HAPROXY_MISSING } from "./_haproxy.ts";
import { startProxiedReplicas } from "./_proxied_replicas.ts";

/**
 * A stand-in for a replica's HTTP listener: `/readyz` answers 200 or 503 as `ready` says, the
 * coin look-up names the backend, so a test sees where HAProxy sent each request.
 */
class FakeReplica implements AsyncDisposable {
  ready = true;
  readonly served: string[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(readonly name: string) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/readyz") {
        return new Response(this.ready ? "ready\n" : "not ready: no data yet\n", {
          status: this.ready ? 200 : 503,
        });
      }
      this.served.push(path);
      return Response.json({ symbol: "BTC", replica: this.name });
    });
  }

  get port(): number {
    return this.#server.addr.port;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

async function lookUp(port: number): Promise<{ status: number; replica?: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/coins/BTC`);
  if (response.status !== 200) {
    await response.body?.cancel();
    return { status: response.status };
  }
  const body = await response.json();
  return { status: 200, replica: body.replica };
}

Deno.test({
  name: `HAProxy's HTTP front: requests reach ready replicas; one whose /readyz fails is taken out${
    HAPROXY_MISSING ? ` (ignored: ${HAPROXY_MISSING})` : ""
  }`,
  ignore: HAPROXY_MISSING !== null,
  async fn() {
    await using a = new FakeReplica("a");
    await using b = new FakeReplica("b");
    await using c = new FakeReplica("c");
    await using proxy = await HaProxy.start([], [a.port, b.port, c.port]);
    // Every ready replica gets requests (leastconn spreads sequential requests over them all).
    const seen = await eventually(
      async () => {
        const names = new Set<string>();
        for (let i = 0; i < 12; i++) names.add((await lookUp(proxy.httpPort)).replica ?? "none");
        return names.size === 3 ? names : undefined;
      },
      20_000,
      "requests through the HTTP front reach all three replicas",
    );
    assert.deepEqual([...seen].sort(), ["a", "b", "c"]);

    b.ready = false;
    // Two failed checks a second apart take it out; then no request goes there.
    await eventually(
      async () => {
        const before = b.served.length;
        for (let i = 0; i < 6; i++) assert.equal((await lookUp(proxy.httpPort)).status, 200);
        return b.served.length === before ? true : undefined;
      },
      20_000,
      "the replica whose /readyz answers 503 gets no more requests",
    );
    const names = new Set<string>();
    for (let i = 0; i < 12; i++) names.add((await lookUp(proxy.httpPort)).replica!);
    assert.deepEqual([...names].sort(), ["a", "c"]);

    // Ready again: back in.
    b.ready = true;
    await eventually(
      async () => (await lookUp(proxy.httpPort)).replica === "b" ? true : undefined,
      20_000,
      "the replica ready again is sent requests again",
    );
  },
});

const missing = POSTGRES_MISSING ?? HAPROXY_MISSING;

Deno.test({
  name: `HAProxy's HTTP front before three real replicas: the JSON API and /ws answer through it${
    missing ? ` (ignored: ${missing})` : ""
  }`,
  ignore: missing !== null,
  async fn() {
    await using cluster = await startProxiedReplicas();
    const { proxy } = cluster;
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`http://127.0.0.1:${proxy.httpPort}/api/v1/coins/btc`);
      assert.equal(response.status, 200);
      assert.equal((await response.json()).symbol, "BTC");
    }
    // A WebSocket upgrade goes through too, and the tunnel carries the protocol.
    const socket = new WebSocket(`ws://127.0.0.1:${proxy.httpPort}/ws`);
    const reply = Promise.withResolvers<Record<string, unknown>>();
    socket.onmessage = (event) => reply.resolve(JSON.parse(event.data));
    socket.onerror = () => reply.reject(new Error("WebSocket error through HAProxy"));
    socket.onopen = () => socket.send('{"v":2,"data":"MARKET BTC"}');
    const closed = new Promise((resolve) => socket.onclose = resolve);
    try {
      const message = await withDeadline(reply.promise, "a reply over /ws via HAProxy");
      assert.equal((message.data as { symbol: string }).symbol, "BTC");
    } finally {
      socket.close();
      await closed;
    }
  },
});
