/**
 * The HTTP listener of the real service over real sockets, with clients we did not write: Deno's
 * `fetch`, curl and wrk, and raw sockets for what those clients will not send.
 */

import assert from "node:assert/strict";
import { FIXTURE, LineClient, startTestService, tlsFiles } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
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

Deno.test("HTTPS with a self-signed certificate: curl and fetch with its CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crypto-https-" });
  try {
    const files = await tlsFiles(dir);
    await using t = await startTestService(["--tls-cert", files.cert, "--tls-key", files.key]);
    assert.match(t.logs.lines.join("\n"), /^listening on 127\.0\.0\.1:\d+ \(https\)$/m);
    const url = `https://localhost:${httpPort(t)}/api/v1/coins/BTC`;
    const curl = await run("curl", ["-s", "--cacert", files.cert, url]);
    assert.equal(curl.code, 0, curl.err);
    assert.equal(JSON.parse(curl.out).symbol, "BTC");
    using client = Deno.createHttpClient({ caCerts: [files.certPem] });
    const answer = await fetch(url, { client });
    assert.equal(answer.status, 200);
    assert.equal((await answer.json()).symbol, "BTC");
    const plain = await run("curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "5",
      url.replace("https", "http"),
    ]);
    assert.notEqual(plain.out, "200", "no plain HTTP on the HTTPS port");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile coin names from upstream: escaped in JSON, inert in the text views", async () => {
  const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));
  const name = '<script>alert(1)</script>\x1b[2J\x1b]0;pwned\x07\u202eevil\u0000"';
  recorded[1] = { ...recorded[1], symbol: "evil", name };
  const dir = await Deno.makeTempDir({ prefix: "crypto-hostile-" });
  try {
    await Deno.writeTextFile(`${dir}/markets.json`, JSON.stringify(recorded));
    await using upstream = await startFakeUpstream({ marketsFixture: `${dir}/markets.json` });
    await using t = await startTestService([], { upstream });
    const base = `http://127.0.0.1:${httpPort(t)}`;
    const json = await (await fetch(`${base}/api/v1/coins/EVIL`)).text();
    await using socket = await LineClient.connect(t.port);
    const v2 = await socket.request({ status: "OK", data: "MARKET EVIL", v: 2 });
    assert.deepEqual(JSON.parse(json), v2.data, "the name as the socket protocol serves it");
    assert.match(JSON.parse(json).name, /<script>/);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(json, /[\x00-\x09\x0b-\x1f]/, "no raw control byte in the JSON");
    for (const path of ["/", "/EVIL"]) {
      const view = await run("curl", ["-s", `${base}${path}`]);
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(view.out, /[\x00-\x09\x0b-\x1f\x7f\u202e]/, `${path}: inert text`);
      assert.match(view.out, /EVIL/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/ws: Deno's WebSocket gets a 101 and speaks the protocol; bad handshakes are refused", async () => {
  await using t = await startTestService();
  const port = httpPort(t);
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const replies: unknown[] = [];
  const got = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  socket.onmessage = (event) => {
    replies.push(JSON.parse(event.data));
    if (replies.length === 2) got.resolve();
  };
  socket.onerror = () => got.reject(new Error("WebSocket error"));
  socket.onclose = () => closed.resolve();
  socket.onopen = () => {
    socket.send(JSON.stringify({ status: "OK", data: "MARKET BTC", v: 2 }));
    socket.send(JSON.stringify({ status: "OK", data: "MARKET NOPE", v: 2 }));
  };
  const timer = setTimeout(() => got.reject(new Error("No 2 replies within 10 s")), 10_000);
  try {
    await got.promise;
  } finally {
    clearTimeout(timer);
    socket.close();
    await closed.promise;
  }
  assert.equal((replies[0] as { data: { symbol: string } }).data.symbol, "BTC");
  assert.equal((replies[1] as { code: string }).code, "UNKNOWN_COIN");
  const handshake = (headers: string) =>
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`;
  const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const cases: [string, number][] = [
    [handshake(`${key}Sec-WebSocket-Version: 8\r\n`), 426],
    [handshake("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n"), 400],
  ];
  for (const [request, status] of cases) {
    using raw = await RawHttp.connect(port);
    await raw.send(request);
    const [response] = parseResponses(await raw.untilClosed());
    assert.equal(response.status, status);
  }
  using raw = await RawHttp.connect(port);
  await raw.send(handshake(`${key}Sec-WebSocket-Version: 13\r\n`));
  const { responses } = await raw.responses(1);
  assert.equal(responses[0].status, 101);
  assert.equal(responses[0].headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const plain = await fetch(`http://127.0.0.1:${port}/ws`);
  assert.equal(plain.status, 426);
  await plain.body?.cancel();
});

Deno.test("back-pressure: a client that pipelines and never reads is closed at --max-unsent-bytes", async () => {
  await using t = await startTestService(["--max-unsent-bytes", "65536", "--request-timeout", "1"]);
  const port = httpPort(t);
  const open = async () => {
    const info = await (await fetch(`http://127.0.0.1:${port}/api/v1/info`)).json();
    return info.connections.open as number;
  };
  const before = await open();
  using raw = await RawHttp.connect(port);
  const request = "GET /api/v1/coins HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20_000);
  // The server stops reading a client it cannot write to, so this write may never finish.
  const writing = raw.send(request).catch(() => {});
  const deadline = Date.now() + 30_000;
  while (await open() > before) {
    if (Date.now() > deadline) throw new Error("The client that does not read is still open");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  raw.conn.close();
  await writing;
  assert.ok(t.logs.lines.some((line) => /not read/.test(line)), t.logs.lines.join("\n"));
});
