import assert from "node:assert/strict";
import { LineConnection } from "../../lib/client/connection.ts";
import { ConnectionError } from "../../lib/client/errors.ts";
import { ReplyDemux, type ServerEvent } from "../../lib/client/demux.ts";

const encoder = new TextEncoder();

/** A server that answers its first connection with `script`, given the request lines so far. */
function scriptedServer(script: (requests: number, write: (s: string) => void) => void) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    let requests = 0;
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        requests += buf.subarray(0, n).filter((b) => b === 0x0a).length;
        script(requests, (s) => void conn.write(encoder.encode(s)).catch(() => {}));
      }
    } catch {
      // the client closed first
    } finally {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await served;
    },
  };
}

Deno.test("ReplyDemux matches pipelined replies by order and hands events to listeners", async () => {
  await using server = scriptedServer((requests, write) => {
    // Both requests arrive before anything is answered; an event comes between the replies.
    if (requests === 2) write('{"n":1}\n{"event":"update","data":7}\n{"n":2}\n');
  });
  const conn = await LineConnection.open({ host: "127.0.0.1", port: server.port });
  const demux = new ReplyDemux(conn);
  const events: ServerEvent[] = [];
  demux.listen((event) => events.push(event));
  const replies = await Promise.all([demux.request({ a: 1 }), demux.request({ a: 2 })]);
  assert.deepEqual(replies, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(events, [{ event: "update", data: 7 }]);
  demux.fail("done");
  await demux.drained();
  assert.equal((await demux.closed).message, "done");
});

Deno.test("ReplyDemux fails every pending request when a line is not JSON", async () => {
  await using server = scriptedServer((requests, write) => {
    if (requests === 2) write("garbage\n");
  });
  const conn = await LineConnection.open({ host: "127.0.0.1", port: server.port });
  const demux = new ReplyDemux(conn);
  const results = await Promise.allSettled([demux.request({}), demux.request({})]);
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert.ok((result as PromiseRejectedResult).reason instanceof ConnectionError);
    assert.match((result as PromiseRejectedResult).reason.message, /not JSON/);
  }
  await assert.rejects(demux.request({}), /not JSON/);
  await demux.drained();
});

Deno.test("LineConnection reads a line split across reads, and no line once closed", async () => {
  await using server = scriptedServer((requests, write) => {
    if (requests === 1) {
      write('{"par');
      setTimeout(() => write('t":1}\n{"x"'), 10);
    }
  });
  const conn = await LineConnection.open({ host: "127.0.0.1", port: server.port });
  await conn.write(encoder.encode("hello\n"));
  assert.equal(await conn.readLine(), '{"part":1}');
  conn.close();
  await assert.rejects(conn.readLine(), /is closed/);
});
