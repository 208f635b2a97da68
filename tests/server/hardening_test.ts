/**
 * Hostile and broken clients over real sockets: every kind of bad input is answered and logged
 * with an escaped sample, caps refuse only the newcomer, a client that never reads is cut off,
 * and resets (mid-reply, or storms of them at accept time) stop nobody.
 */
import assert from "node:assert/strict";
import { PriceServer } from "../../lib/server/price_server.ts";
import { Market } from "../../lib/server/market.ts";
import {
  fixtureSnapshot,
  LineClient,
  LogCapture,
  outputWithin,
  startTestService,
} from "../helpers.ts";

const BTC_V1 = '{"status":"OK","data":"MARKET BTC"}';
const BTC_REPLY = '{"status":"OK","data":20220.0}';
const ALL_V2 = '{"status":"OK","data":"MARKET ALL","v":2}';
const enc = new TextEncoder();
const hasPython = await new Deno.Command("python3", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

/** The `address` the server logs for a client socket. */
function addressOf(client: LineClient): string {
  const local = client.conn.localAddr as Deno.NetAddr;
  return `${local.hostname}:${local.port}`;
}

/** Polls `check` until it holds: only for effects of other processes or of the kernel. */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sends bytes while the caller reads; a reset or broken pipe from the server is expected. */
function sendIgnoringReset(client: LineClient, bytes: Uint8Array): Promise<void> {
  return client.send(bytes).catch((error) => {
    if (
      !(error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe)
    ) {
      throw error;
    }
  });
}

async function python(script: string, ...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await outputWithin("python3", {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }, "a python3 helper");
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  return new TextDecoder().decode(stdout);
}

Deno.test("hostile input over real sockets", async (t) => {
  await using env = await startTestService();

  /**
   * Sends one line on a fresh connection (so each gets its own log budget), checks the reply's
   * code, that the connection still works, and that the log line is short and escaped.
   */
  async function answered(line: string | Uint8Array, code: string): Promise<string> {
    await using client = await LineClient.connect(env.port);
    const bytes = typeof line === "string" ? enc.encode(line) : line;
    await client.send(new Uint8Array([...bytes, 0x0a]));
    const raw = (await client.readLine())!;
    const reply = JSON.parse(raw);
    assert.equal(reply.status, "ERROR", raw);
    assert.equal(reply.code, code, raw);
    assert.equal(typeof reply.data, "string");
    assert.ok(raw.length < 300, `a ${bytes.length}-byte request got a ${raw.length}-byte reply`);
    await client.send(BTC_V1 + "\n");
    assert.equal(await client.readLine(), BTC_REPLY);
    // The log line exists once the reply is out: it is written before the reply.
    const logged = env.logs.matching(new RegExp(`^${addressOf(client)} `));
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.ok(logged[0].startsWith(`${addressOf(client)} ${code}: "`), logged[0]);
    // Printable ASCII only (plus the ellipsis of a cut sample), and short.
    assert.match(logged[0], /^[\x20-\x7e]*…?"$/);
    assert.ok(logged[0].length < 200, `log line of ${logged[0].length} characters`);
    return logged[0];
  }

  await t.step("JSON that is not an object", async () => {
    for (const line of ["[1,2,3]", "null", "12345", "true", '"MARKET ALL"', "[]"]) {
      await answered(line, "BAD_REQUEST");
    }
  });

  await t.step("invalid JSON", async () => {
    for (
      const line of [
        "{",
        '{"status":"OK"',
        "MARKET ALL",
        "{'status':'OK'}",
        '{"status":"OK",}',
        "\x7f",
      ]
    ) {
      await answered(line, "BAD_JSON");
    }
  });

  await t.step("data missing, null or of the wrong type; bad status and v", async () => {
    for (
      const line of [
        '{"status":"OK"}',
        '{"status":"OK","data":null}',
        '{"status":"OK","data":["MARKET","ALL"]}',
        '{"status":"OK","data":{"command":"MARKET ALL"}}',
        '{"status":"OK","data":true}',
        '{"status":"NOPE","data":"MARKET BTC"}',
        '{"status":"OK","data":"MARKET BTC","v":3}',
        '{"status":"OK","data":"MARKET BTC","v":"2"}',
        '{"status":"OK","data":"MARKET"}',
        '{"status":"OK","data":"MARKET BTC EUR USD"}',
      ]
    ) {
      await answered(line, "BAD_REQUEST");
    }
  });

  await t.step("unknown commands, including empty and non-ASCII ones", async () => {
    await answered('{"status":"OK","data":""}', "UNKNOWN_COMMAND");
    await answered('{"status":"OK","data":"   "}', "UNKNOWN_COMMAND");
    const log = await answered('{"status":"OK","data":"KAUFE ₿ \\u001b[31m"}', "UNKNOWN_COMMAND");
    // Non-ASCII and the escape character reach the log only as escapes.
    assert.ok(log.includes("\\u20bf") && log.includes("\\u001b"), log);
  });

  await t.step("NUL bytes, raw and escaped", async () => {
    const log = await answered('{"status":"OK","data":"MARKET\x00BTC"}', "BAD_JSON");
    assert.ok(log.includes("\\u0000"), log);
    await answered("\x00\x00\x00\x00", "BAD_JSON");
    await answered('{"status":"OK","data":"MARKET\\u0000BTC"}', "UNKNOWN_COMMAND");
  });

  await t.step("invalid UTF-8", async () => {
    const prefix = enc.encode('{"status":"OK","data":"MARKET ');
    for (
      const bad of [[0xff, 0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88]]
    ) {
      const log = await answered(
        new Uint8Array([...prefix, ...bad, ...enc.encode('"}')]),
        "BAD_JSON",
      );
      assert.ok(log.includes("\\ufffd"), log);
    }
  });

  await t.step("50,000 nested brackets", async () => {
    await answered("[".repeat(50_000), "BAD_JSON");
    await answered("{".repeat(50_000), "BAD_JSON");
    // Deep but valid JSON is parsed (no stack overflow) and refused for its shape.
    await answered(
      '{"status":"OK","data":' + "[".repeat(25_000) + "]".repeat(25_000) + "}",
      "BAD_REQUEST",
    );
  });

  await t.step("huge numbers and strings", async () => {
    await answered('{"status":"OK","data":"MARKET BTC","v":1e999}', "BAD_REQUEST");
    await answered(`{"status":"OK","data":"MARKET BTC","v":${"9".repeat(60_000)}}`, "BAD_REQUEST");
    const log = await answered(
      `{"status":"OK","data":"MARKET ${"A".repeat(60_000)}"}`,
      "UNKNOWN_COIN",
    );
    assert.ok(log.endsWith('…"'), log);
    await answered(`{"status":"OK","data":"${"X".repeat(60_000)}"}`, "UNKNOWN_COMMAND");
    // A huge number in a field the server does not use does not stop the request.
    await using client = await LineClient.connect(env.port);
    await client.send(`{"status":"OK","data":"MARKET BTC","x":${"9".repeat(60_000)}}\n`);
    assert.equal(await client.readLine(), BTC_REPLY);
  });

  await t.step(
    "a request of exactly the cap is answered; one byte more is LINE_TOO_LONG",
    async () => {
      const cap = env.service.server.limits.maxRequestBytes;
      const exact = BTC_V1.slice(0, -1) + " ".repeat(cap - BTC_V1.length) + "}";
      assert.equal(enc.encode(exact).length, cap);
      {
        await using client = await LineClient.connect(env.port);
        await client.send(exact + "\n");
        assert.equal(await client.readLine(), BTC_REPLY);
      }
      await using client = await LineClient.connect(env.port);
      await client.send(exact.slice(0, -1) + " }\n");
      assert.equal((await client.readJson()).code, "LINE_TOO_LONG");
      assert.ok(await client.closedByServer());
    },
  );

  await t.step(
    "a 10 MB line without newline: LINE_TOO_LONG, closed, nothing buffered",
    async () => {
      await using client = await LineClient.connect(env.port);
      const sending = sendIgnoringReset(client, new Uint8Array(10 * 1024 * 1024).fill(0x41));
      const reply = await client.readJson();
      assert.equal(reply.code, "LINE_TOO_LONG");
      assert.ok(await client.closedByServer());
      await sending;
      await env.logs.waitFor(new RegExp(`^${addressOf(client)} LINE_TOO_LONG: request over 65536`));
      await using other = await LineClient.connect(env.port);
      assert.equal((await other.request(JSON.parse(BTC_V1))).data, 20220);
    },
  );

  await t.step(
    "a reset in the middle of a large pipelined reply is quiet and harmless",
    async () => {
      const before = env.logs.lines.length;
      const addresses: string[] = [];
      for (let i = 0; i < 5; i++) {
        const client = await LineClient.connect(env.port);
        addresses.push(addressOf(client));
        // ~200 replies of ~3 KB: several writes, within the unsent cap.
        await client.send((ALL_V2 + "\n").repeat(200));
        assert.match((await client.readLine())!, /^\{"status":"OK","data":\[/);
        // Closing with unread data makes the kernel send a reset, not a FIN.
        client.close();
      }
      await using other = await LineClient.connect(env.port);
      assert.equal(await other.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
      other.close();
      await until(() => env.service.server.stats.connectionsOpen === 0, "every handler to end");
      const noise = env.logs.lines.slice(before).filter((l) =>
        addresses.some((a) => l.startsWith(a))
      );
      assert.deepStrictEqual(noise, []);
    },
  );

  await t.step("a half-closed connection with pipelined requests gets every reply", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send((BTC_V1 + "\n").repeat(500) + BTC_V1);
    await (client.conn as Deno.TcpConn).closeWrite();
    for (let i = 0; i < 501; i++) assert.equal(await client.readLine(), BTC_REPLY, `reply ${i}`);
    assert.equal(await client.readLine(), null);
  });

  await t.step("only the first bad requests of a connection are logged", async () => {
    await using client = await LineClient.connect(env.port);
    await client.send("{bad}\n".repeat(100) + BTC_V1 + "\n");
    for (let i = 0; i < 100; i++) assert.equal((await client.readJson()).code, "BAD_JSON");
    assert.equal(await client.readLine(), BTC_REPLY);
    const logged = env.logs.matching(new RegExp(`^${addressOf(client)} `));
    assert.equal(logged.length, 5);
    assert.match(logged[4], /further errors on this connection are not logged/);
  });
});

Deno.test("a client that pipelines but never reads is closed past --max-unsent-bytes; others do not notice", async () => {
  await using env = await startTestService(["--top", "100"]);
  await using reader = await LineClient.connect(env.port);
  await using hog = await LineClient.connect(env.port);
  // Each v2 MARKET ALL reply for 100 coins is ~30 KB: 2,000 of them would be ~60 MB.
  const sending = sendIgnoringReset(hog, enc.encode((ALL_V2 + "\n").repeat(2000)));
  await env.logs.waitFor(
    new RegExp(`^${addressOf(hog)} closed: more than 1048576 bytes of replies not read$`),
  );
  await sending;
  assert.equal(env.service.server.stats.errors.UNSENT_LIMIT, 1);
  // Whatever reached the hog's socket before the close is complete replies, then the end.
  let lines = 0;
  try {
    while (true) {
      const line = await hog.readLine();
      if (line === null) break;
      assert.match(line, /^\{"status":"OK","data":\[/);
      lines++;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
  assert.ok(lines < 2000, `the hog got ${lines} replies`);
  assert.equal(await reader.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  assert.equal((await reader.request(JSON.parse(ALL_V2))).status, "OK");
});

Deno.test("a pipelining client that reads as fast as it can is never cut off", async () => {
  await using env = await startTestService();
  await using client = await LineClient.connect(env.port);
  // 10,000 v2 coin replies of ~330 bytes (~3.3 MB) asked at once: more than the unsent cap in
  // all, though the replies to any one read of requests stay well under it; the client takes
  // them as fast as they come.
  const request = '{"status":"OK","data":"MARKET BTC","v":2}\n';
  const sending = client.send(request.repeat(10_000));
  for (let i = 0; i < 10_000; i++) {
    assert.equal(
      ((await client.readJson()).data as { symbol: string }).symbol,
      "BTC",
      `reply ${i}`,
    );
  }
  await sending;
  assert.equal(env.service.server.stats.errors.UNSENT_LIMIT, undefined);
});

Deno.test("a pipelining client that reads gets every reply", async () => {
  await using env = await startTestService();
  await using client = await LineClient.connect(env.port);
  // 300 v2 MARKET ALL replies of ~3 KB, sent in one write, read as they come.
  const sending = client.send((ALL_V2 + "\n").repeat(300));
  for (let i = 0; i < 300; i++) {
    assert.equal(((await client.readJson()).data as unknown[]).length, 10, `reply ${i}`);
  }
  await sending;
  assert.equal(env.service.server.stats.errors.UNSENT_LIMIT, undefined);
});

Deno.test("a reading client's burst of large replies is paced, never cut off", async () => {
  await using env = await startTestService(["--top", "100"]);
  await using client = await LineClient.connect(env.port);
  // 300 MARKET ALL v2 replies of ~30 KB (~9 MB, nine times the unsent cap) asked in one write:
  // the server frames them a slice at a time and waits while the client reads.
  const sending = client.send((ALL_V2 + "\n").repeat(300));
  for (let i = 0; i < 300; i++) {
    assert.equal(((await client.readJson()).data as unknown[]).length, 100, `reply ${i}`);
  }
  await sending;
  assert.equal(env.service.server.stats.errors.UNSENT_LIMIT, undefined);
});

Deno.test("past --max-connections-per-ip the newcomer gets BUSY; the others do not notice", async () => {
  await using env = await startTestService(["--max-connections-per-ip", "2"]);
  await using a = await LineClient.connect(env.port);
  await using b = await LineClient.connect(env.port);
  assert.equal(await a.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  assert.equal(await b.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  {
    await using c = await LineClient.connect(env.port);
    const busy = await c.readJson();
    assert.equal(busy.code, "BUSY");
    assert.match(busy.data as string, /2 connections are open from 127\.0\.0\.1/);
    assert.ok(await c.closedByServer());
  }
  await env.logs.waitFor(/^refused 127\.0\.0\.1:\d+: 2 connections are open from 127\.0\.0\.1$/);
  if (hasPython) {
    // Another address on the loopback network is not counted against 127.0.0.1.
    const out = await python(
      `import socket, sys
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b'${BTC_V1}\\n')
print(s.makefile().readline().strip())`,
      String(env.port),
    );
    assert.equal(out.trim(), BTC_REPLY);
  }
  assert.equal(await a.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  // Once one leaves (the server closes after BYE, so its slot is free by our EOF), a new one fits.
  assert.equal(await a.request({ status: "CLOSE" }).then((r) => r.data), "BYE");
  assert.ok(await a.closedByServer());
  await using d = await LineClient.connect(env.port);
  assert.equal(await d.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  assert.equal(await b.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
});

Deno.test("accept errors are logged, backed off, and the accept loop goes on", async () => {
  // A listener whose accept fails the way Deno's does when a client connects and resets at
  // once (NotConnected, os error 107), and the way a full descriptor table does (EMFILE).
  const real = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const failures: Error[] = [
    new Deno.errors.NotConnected("Transport endpoint is not connected (os error 107)"),
    new Deno.errors.NotConnected("Transport endpoint is not connected (os error 107)"),
    new Error("Too many open files (os error 24)"),
    new Error("Too many open files (os error 24)"),
  ];
  const listener = {
    get addr() {
      return real.addr;
    },
    accept() {
      const failure = failures.shift();
      return failure ? Promise.reject(failure) : real.accept();
    },
    close() {
      real.close();
    },
  } as unknown as Deno.Listener;
  const market = new Market({ staleAfterMs: 60_000 });
  market.update(await fixtureSnapshot());
  const logs = new LogCapture();
  await using server = new PriceServer(listener, { market, log: logs.log });
  const serving = server.serve();
  await using client = await LineClient.connect(server.addr.port);
  assert.equal(await client.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  assert.deepStrictEqual(logs.matching(/^accept failed/), [
    // A connection reset before accept costs only itself: no wait, and a log line for the 1st,
    // 2nd, 4th… so a storm cannot flood the log.
    "accept failed: Transport endpoint is not connected (os error 107) (1 so far)",
    "accept failed: Transport endpoint is not connected (os error 107) (2 so far)",
    // A full descriptor table is the server's problem: back off, doubling.
    "accept failed: Too many open files (os error 24); retrying in 5 ms",
    "accept failed: Too many open files (os error 24); retrying in 10 ms",
  ]);
  client.close();
  await server.shutdown();
  await serving;
});

Deno.test("storms of connect-and-reset and connect-and-close stop nobody", async () => {
  await using env = await startTestService();
  await using steady = await LineClient.connect(env.port);
  let answered = 0;
  let storming = true;
  const steadyLoop = (async () => {
    while (storming) {
      assert.equal(await steady.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
      answered++;
    }
  })();
  const storms: Promise<unknown>[] = [
    (async () => {
      // Connect and close at once, in a tight loop.
      for (let i = 0; i < 300; i++) {
        (await Deno.connect({ hostname: "127.0.0.1", port: env.port })).close();
      }
    })(),
  ];
  if (hasPython) {
    // Connect and reset at once (SO_LINGER 0), some after half a request.
    storms.push(python(
      `import socket, struct, sys
port = int(sys.argv[1])
for i in range(1500):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.connect(("127.0.0.1", port))
    if i % 3 == 0:
        s.send(b'{"status":"OK","da')
    s.close()
print("done")`,
      String(env.port),
    ));
  }
  // Newcomers during the storm are answered (each read has the LineClient deadline); that the
  // accept loop never backs off for a reset is shown by the log below, not by a stopwatch.
  let newcomersServed = 0;
  const newcomers = (async () => {
    while (storming) {
      await using client = await LineClient.connect(env.port);
      assert.equal(await client.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
      newcomersServed++;
    }
  })();
  await Promise.all(storms);
  storming = false;
  await Promise.all([steadyLoop, newcomers]);
  assert.ok(answered > 0);
  await using after = await LineClient.connect(env.port);
  assert.equal(await after.request(JSON.parse(BTC_V1)).then((r) => r.data), 20220);
  steady.close();
  after.close();
  await until(() => env.service.server.stats.connectionsOpen === 0, "every handler to end");
  // Resets are what clients do: nothing is logged for them but accept retries, if any.
  // Resets are what clients do: they cost no backoff, and at most a logarithmic trickle of log
  // lines (1st, 2nd, 4th… reset before accept); nothing else is logged for them.
  const accepts = env.logs.matching(/^accept failed/);
  assert.ok(accepts.length <= 12, accepts.join("\n"));
  for (const line of accepts) {
    assert.match(line, /^accept failed: .* \((1|2|4|8|16|32|64|128|256|512|1024) so far\)$/);
  }
  const unexpected = env.logs.lines.filter((l) => /failed|error/i.test(l) && !accepts.includes(l));
  assert.deepStrictEqual(unexpected, []);
  assert.deepStrictEqual(env.logs.matching(/retrying in/), [], "no accept backoff for resets");
  assert.ok(newcomersServed > 0);
});
