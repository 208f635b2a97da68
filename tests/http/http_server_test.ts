/**
 * The HTTP listener of the real service over real sockets, with clients we did not write: Deno's
 * `fetch`, curl and wrk, and raw sockets for what those clients will not send.
 */

import assert from "node:assert/strict";
import { LineClient, startTestService } from "../helpers.ts";
import { parseResponses, RawHttp, text } from "./_http.ts";

const decoder = new TextDecoder();

function httpPort(t: { service: { httpAddr: Deno.NetAddr | null } }): number {
  assert.ok(t.service.httpAddr !== null, "the HTTP listener is on");
  return t.service.httpAddr.port;
}

async function run(command: string, args: string[]) {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

Deno.test("fetch reads the JSON API: the same data as the v2 protocol, gzip, ETag and 304", async () => {
  await using t = await startTestService();
  const port = httpPort(t);
  const base = `http://127.0.0.1:${port}`;
  const coin = await fetch(`${base}/api/v1/coins/btc`);
  assert.equal(coin.status, 200);
  assert.equal(coin.headers.get("content-encoding"), null, "too small to compress");
  const body = await coin.json();
  await using socket = await LineClient.connect(t.port);
  const v2 = await socket.request({ status: "OK", data: "MARKET BTC", v: 2 });
  assert.deepEqual(body, v2.data);
  const all = await fetch(`${base}/api/v1/coins`, { headers: { "accept-encoding": "gzip" } });
  assert.equal(all.headers.get("content-encoding"), "gzip");
  const coins: { rank: number }[] = await all.json();
  assert.deepEqual(coins, (await socket.request({ status: "OK", data: "MARKET ALL", v: 2 })).data);
  assert.deepEqual(coins.map((c) => c.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const etag = all.headers.get("etag")!;
  const again = await fetch(`${base}/api/v1/coins`, { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  const missing = await fetch(`${base}/api/v1/coins/NOPE`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "UNKNOWN_COIN");
  const head = await fetch(`${base}/api/v1/coins/BTC`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  const post = await fetch(`${base}/api/v1/coins`, { method: "POST", body: "x" });
  assert.equal(post.status, 400, "a body is refused before the method");
  await post.body?.cancel();
  const del = await fetch(`${base}/api/v1/coins`, { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, HEAD");
  await del.body?.cancel();
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(await ready.text(), /^ready/);
});

Deno.test("curl gets the list table as text, a coin's price view, and decompresses gzip", async () => {
  await using t = await startTestService(["--cors-origin", "https://example.org"]);
  const base = `http://127.0.0.1:${httpPort(t)}`;
  const list = await run("curl", ["-s", "-i", `${base}/`]);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(list.out, /content-type: text\/plain; charset=utf-8/i);
  assert.match(list.out, /BTC\s+Bitcoin/);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(list.out, /\x1b/, "no colour");
  const price = await run("curl", ["-s", `${base}/eth?currency=EUR`]);
  assert.match(price.out, /Ethereum \(ETH\)/);
  assert.match(price.out, /€/);
  const json = await run("curl", ["-s", "--compressed", "-i", `${base}/api/v1/coins`]);
  assert.match(json.out, /content-encoding: gzip/i);
  assert.match(json.out, /access-control-allow-origin: https:\/\/example\.org/i);
  assert.equal(JSON.parse(json.out.slice(json.out.indexOf("\r\n\r\n") + 4)).length, 10);
  const health = await run("curl", [
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    `${base}/healthz`,
  ]);
  assert.equal(health.out, "200");
});

Deno.test("wrk: a short keep-alive run gets only 2xx answers", async () => {
  await using t = await startTestService();
  const url = `http://127.0.0.1:${httpPort(t)}/api/v1/coins/BTC`;
  const wrk = await run("wrk", ["-t1", "-c8", "-d1s", url]);
  assert.equal(wrk.code, 0, wrk.err);
  const requests = Number(/(\d+) requests in/.exec(wrk.out)?.[1]);
  assert.ok(requests > 100, wrk.out);
  assert.doesNotMatch(wrk.out, /Non-2xx/, wrk.out);
  assert.doesNotMatch(wrk.out, /Socket errors/, wrk.out);
});

Deno.test("pipelined requests are answered in order, byte for byte as one at a time", async () => {
  await using t = await startTestService();
  const port = httpPort(t);
  const a = "GET /api/v1/coins/BTC HTTP/1.1\r\nHost: x\r\n\r\n";
  const b = "GET /api/v1/coins/ETH?currency=EUR HTTP/1.1\r\nHost: x\r\n\r\n";
  const c = "HEAD /api/v1/currencies HTTP/1.1\r\nHost: x\r\n\r\n";
  const single = async (request: string, head = false) => {
    using raw = await RawHttp.connect(port);
    await raw.send(request);
    return (await raw.responses(1, [head])).responses[0];
  };
  using raw = await RawHttp.connect(port);
  await raw.send(a + b + c + a);
  const { responses } = await raw.responses(4, [false, false, true, false]);
  const alone = [await single(a), await single(b), await single(c, true), await single(a)];
  // The Date header may tick between the two; everything else is the same bytes.
  const strip = (bytes: Uint8Array) => decoder.decode(bytes).replace(/\r\nDate: [^\r]*/, "");
  assert.deepEqual(responses.map((r) => strip(r.raw)), alone.map((r) => strip(r.raw)));
});

Deno.test("refusals: 414, 431, 405, a body, bad paths; each closes the connection", async () => {
  await using t = await startTestService();
  const port = httpPort(t);
  const cases: [string, number][] = [
    [`GET /${"a".repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    [`GET / HTTP/1.1\r\nHost: x\r\n${"X-Pad: aaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(700)}\r\n`, 431],
    ["PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400],
  ];
  for (const [request, status] of cases) {
    using raw = await RawHttp.connect(port);
    await raw.send(request);
    const bytes = await raw.untilClosed();
    const [response] = parseResponses(bytes);
    assert.equal(response.status, status, request.slice(0, 40));
    assert.equal(response.headers.get("connection"), "close");
    assert.equal(JSON.parse(text(response)).error.code, "BAD_REQUEST");
  }
  for (const path of ["/../../etc/passwd", "/a/%2e%2e/b", "/%00", "/a%2Fb", "/%zz"]) {
    using raw = await RawHttp.connect(port);
    await raw.send(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const { responses } = await raw.responses(1);
    assert.equal(responses[0].status, 400, path);
  }
});

Deno.test("slowloris: a head not complete within --request-timeout is closed", async () => {
  await using t = await startTestService(["--request-timeout", "0.3"]);
  using raw = await RawHttp.connect(httpPort(t));
  await raw.send("GET /api/v1/coins HTTP/1.1\r\nHost: x\r\n");
  let open = true;
  const dripping = (async () => {
    // A header line every 50 ms, as slowloris does, until the server closes.
    for (let i = 0; open && i < 400; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await raw.send(`X-Drip-${i}: x\r\n`).catch(() => open = false);
    }
  })();
  const bytes = await raw.untilClosed(20_000);
  open = false;
  await dripping;
  const [response] = parseResponses(bytes);
  assert.equal(response.status, 408);
});

Deno.test("an idle keep-alive connection is closed at --idle-timeout, without a response", async () => {
  await using t = await startTestService(["--idle-timeout", "0.3"]);
  using raw = await RawHttp.connect(httpPort(t));
  await raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const { responses } = await raw.responses(1);
  assert.equal(responses[0].status, 200);
  const rest = await raw.untilClosed(20_000);
  assert.equal(parseResponses(rest).length, 1, "nothing after the one response");
});

Deno.test("the connection caps are shared with the socket listener: past them, 503 Retry-After", async () => {
  await using t = await startTestService(["--max-connections-per-ip", "2"]);
  await using socket = await LineClient.connect(t.port);
  await socket.request({ status: "OK", data: "PING" });
  using first = await RawHttp.connect(httpPort(t));
  await first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal((await first.responses(1)).responses[0].status, 200);
  using third = await RawHttp.connect(httpPort(t));
  const [busy] = parseResponses(await third.untilClosed());
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.equal(JSON.parse(text(busy)).error.code, "BUSY");
});
