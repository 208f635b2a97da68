import assert from "node:assert/strict";
import { HeadFramer, MAX_HEAD_BYTES, MAX_REQUEST_LINE_BYTES } from "../../lib/http/head_framer.ts";
import type { HeadError, RequestHead } from "../../lib/http/request_head.ts";
import { parseTarget } from "../../lib/http/request_target.ts";

const encoder = new TextEncoder();

/** Feeds `chunks` to one framer and returns every head or error it passed on. */
function frame(...chunks: string[]): (RequestHead | HeadError)[] {
  const framer = new HeadFramer();
  const out: (RequestHead | HeadError)[] = [];
  for (const chunk of chunks) {
    const bytes = encoder.encode(chunk);
    if (!framer.push(bytes, 0, bytes.length, (head) => out.push(head))) break;
  }
  return out;
}

function only(...chunks: string[]): RequestHead | HeadError {
  const out = frame(...chunks);
  assert.equal(out.length, 1, JSON.stringify(out));
  return out[0];
}

function status(...chunks: string[]): number {
  const head = only(...chunks);
  return head.kind === "error" ? head.status : 200;
}

Deno.test("a head with CRLF or bare LF lines parses the same, with lower-case header names", () => {
  for (const eol of ["\r\n", "\n"]) {
    const head = only(`GET /api/v1/coins HTTP/1.1${eol}Host: x${eol}X-Thing:  a b ${eol}${eol}`);
    assert.equal(head.kind, "head");
    if (head.kind !== "head") return;
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/api/v1/coins");
    assert.equal(head.headers.get("x-thing"), "a b");
    assert.equal(head.keepAlive, true);
  }
});

Deno.test("a head split byte by byte is framed as when it arrives whole, and says it is mid-request", () => {
  const text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const framer = new HeadFramer();
  const out: (RequestHead | HeadError)[] = [];
  for (let i = 0; i < text.length; i++) {
    const byte = encoder.encode(text[i]);
    framer.push(byte, 0, 1, (head) => out.push(head));
    if (i < text.length - 1) assert.equal(framer.midRequest, true, `after byte ${i}`);
  }
  assert.equal(framer.midRequest, false);
  assert.equal(out.length, 1);
  assert.equal((out[0] as RequestHead).target, "/a");
});

Deno.test("pipelined heads come out in order, repeated ones included", () => {
  const one = "GET /one HTTP/1.1\r\nHost: x\r\n\r\n";
  const two = "HEAD /two HTTP/1.1\r\nHost: x\r\n\r\n";
  const out = frame(one + one + two + one, one.slice(0, 10), one.slice(10));
  assert.deepEqual(
    out.map((head) => head.kind === "head" ? `${head.method} ${head.target}` : head.status),
    ["GET /one", "GET /one", "HEAD /two", "GET /one", "GET /one"],
  );
});

Deno.test("HTTP/1.0 closes unless it asks for keep-alive; HTTP/1.1 keeps alive unless it asks to close", () => {
  const keep = (text: string) => (only(text) as RequestHead).keepAlive;
  assert.equal(keep("GET / HTTP/1.0\r\n\r\n"), false);
  assert.equal(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), true);
  assert.equal(keep("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), false);
  assert.equal(keep("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, Close\r\n\r\n"), false);
});

Deno.test("methods other than GET and HEAD get 405 with Allow", () => {
  const head = only("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n") as HeadError;
  assert.equal(head.status, 405);
  assert.deepEqual(head.headers, { Allow: "GET, HEAD" });
  assert.equal(status("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
});

Deno.test("a request that announces a body is refused with 400", () => {
  for (
    const headers of [
      "Content-Length: 5",
      "Transfer-Encoding: chunked",
      "Content-Length: 0\r\nContent-Length: 0",
      "Content-Length: 0, 5",
      "Content-Length: -1",
    ]
  ) {
    assert.equal(status(`GET / HTTP/1.1\r\nHost: x\r\n${headers}\r\n\r\n`), 400, headers);
  }
  assert.equal(status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 200);
  const post = only("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc") as HeadError;
  assert.equal(post.status, 400);
  assert.match(post.message, /body/);
});

Deno.test("malformed heads get 400, unknown versions 505", () => {
  assert.equal(status("GET /\r\n\r\n"), 400);
  assert.equal(status("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
  assert.equal(status("GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
  assert.equal(status("GET http://example.com/a?b HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
});

Deno.test("a long request line gets 414 and a long head 431, before the head ends", () => {
  const longLine = `GET /${"a".repeat(MAX_REQUEST_LINE_BYTES)}`;
  assert.equal(status(longLine), 414, "refused before its end arrives");
  assert.equal(status(`${longLine} HTTP/1.1\r\nHost: x\r\n\r\n`), 414);
  const header = `X-Long: ${"b".repeat(1000)}\r\n`;
  const many = `GET / HTTP/1.1\r\n${header.repeat(Math.ceil(MAX_HEAD_BYTES / header.length))}`;
  assert.equal(status(many), 431, "refused before its end arrives");
  assert.equal(status(`${many}\r\n`), 431);
});

Deno.test("targets with .., NUL, encoded slashes or bad percent-encoding are refused", () => {
  for (
    const target of [
      "/..",
      "/api/../etc/passwd",
      "/%2e%2e/x",
      "/a%2Fb",
      "/a%2fb",
      "/a%5Cb",
      "/a%00",
      "/a\\b",
      "/%zz",
      "/%e2%28",
      "/x?currency=%",
      "/a%01",
    ]
  ) {
    assert.equal(parseTarget(target).kind, "error", target);
  }
  const ok = parseTarget("/api/v1/coins/BTC/?currency=eur&x=%41");
  assert.equal(ok.kind, "target");
  if (ok.kind !== "target") return;
  assert.deepEqual(ok.segments, ["api", "v1", "coins", "BTC"]);
  assert.equal(ok.query.get("currency"), "eur");
  assert.equal(ok.query.get("x"), "A");
  assert.deepEqual((parseTarget("/") as { segments?: string[] }).segments, []);
});
