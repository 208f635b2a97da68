import assert from "node:assert/strict";
import { ConnectionError, PriceClient, ServerError } from "../../lib/client/price_client.ts";
import type { CoinView } from "../../lib/wire/coin_view.ts";
import { generateSelfSigned } from "../../lib/app/cert.ts";
import { coinView } from "../helpers.ts";

const encoder = new TextEncoder();

function coin(symbol: string, name: string, price: number, rank: number): CoinView {
  return coinView(symbol, name, price, rank, { market_cap: 388264926667, change_24h: 3.50933 });
}

const BTC = coin("BTC", "Bitcoin", 20220, 1);
const ETH = coin("ETH", "Ethereum", 1355.37, 2);

/** Reads `\n`-terminated lines from a connection; null at end of stream. */
function lineReader(conn: Deno.Conn): () => Promise<string | null> {
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let pending = "";
  return async () => {
    for (;;) {
      const i = pending.indexOf("\n");
      if (i !== -1) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        return line;
      }
      const n = await conn.read(buf);
      if (n === null) return null;
      pending += decoder.decode(buf.subarray(0, n), { stream: true });
    }
  };
}

async function writeAll(conn: Deno.Conn, text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** A protocol-speaking server for one connection, answering each request line with `answer`. */
function answering(answer: (request: Record<string, unknown>) => unknown) {
  return async (conn: Deno.Conn) => {
    const next = lineReader(conn);
    for (let line = await next(); line !== null; line = await next()) {
      await writeAll(conn, JSON.stringify(answer(JSON.parse(line))) + "\n");
    }
  };
}

/** Runs `body` against a one-connection server on an ephemeral port, closing everything after. */
async function withServer(
  handle: (conn: Deno.Conn) => Promise<void>,
  body: (port: number) => Promise<void>,
  listener: Deno.Listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }),
): Promise<void> {
  const served = (async () => {
    using conn = await listener.accept();
    await handle(conn);
  })();
  try {
    await body((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
    // If body never connected, closing the listener ends accept() with an error.
    await served.catch((err) => {
      if (!(err instanceof Deno.errors.BadResource)) throw err;
    });
  }
}

function market(request: Record<string, unknown>): unknown {
  assert.equal(request.status, "OK");
  assert.equal(request.v, 2);
  const symbol = String(request.data).replace(/^MARKET\s+/, "");
  if (symbol === "ALL") return { status: "OK", data: [BTC, ETH] };
  const found = [BTC, ETH].find((c) => c.symbol === symbol.toUpperCase());
  return found
    ? { status: "OK", data: found }
    : { status: "ERROR", code: "UNKNOWN_COIN", data: `unknown coin ${symbol}` };
}

Deno.test("PriceClient sends v2 MARKET requests and parses replies", async () => {
  const seen: string[] = [];
  await withServer(
    answering((req) => {
      seen.push(JSON.stringify(req));
      return market(req);
    }),
    async (port) => {
      await using client = await PriceClient.connect({ host: "127.0.0.1", port });
      assert.equal(client.address, `127.0.0.1:${port}`);
      assert.deepEqual(await client.marketAll(), [BTC, ETH]);
      assert.deepEqual(await client.market("eth"), ETH);
      assert.deepEqual(await client.request({ status: "OK", data: "MARKET BTC", v: 2 }), {
        status: "OK",
        data: BTC,
      });
    },
  );
  assert.deepEqual(seen, [
    '{"status":"OK","data":"MARKET ALL","v":2}',
    '{"status":"OK","data":"MARKET eth","v":2}',
    '{"status":"OK","data":"MARKET BTC","v":2}',
  ]);
});

Deno.test("PriceClient reassembles replies split across writes and several in one write", async () => {
  const many = Array.from({ length: 2000 }, (_, i) => coin(`C${i}`, "Ω".repeat(40), i + 0.5, i));
  await withServer(async (conn) => {
    const next = lineReader(conn);
    // Byte-by-byte, cutting through a multi-byte character.
    assert.equal(await next(), '{"status":"OK","data":"MARKET BTC","v":2}');
    const btc = encoder.encode(JSON.stringify({ status: "OK", data: { ...BTC, name: "Bitcöin" } }));
    for (const b of btc) await writeAll(conn, new Uint8Array([b]));
    await writeAll(conn, "\n");
    // Two pipelined requests answered in a single write.
    await next();
    await next();
    await writeAll(
      conn,
      `${JSON.stringify({ status: "OK", data: ETH })}\n${
        JSON.stringify({ status: "OK", data: BTC })
      }\n`,
    );
    // A reply far larger than one read buffer.
    await next();
    await writeAll(conn, JSON.stringify({ status: "OK", data: many }) + "\n");
  }, async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port });
    assert.equal((await client.market("BTC")).name, "Bitcöin");
    const [eth, btc] = await Promise.all([client.market("ETH"), client.market("BTC")]);
    assert.deepEqual([eth, btc], [ETH, BTC]);
    assert.deepEqual(await client.marketAll(), many);
  });
});

Deno.test("PriceClient turns ERROR replies into ServerError with the code", async () => {
  await withServer(answering(market), async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port });
    const err = await client.market("XYZ").then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ServerError);
    assert.equal(err.name, "ServerError");
    assert.equal(err.code, "UNKNOWN_COIN");
    assert.equal(err.message, "unknown coin XYZ");
    // request() hands the error reply back as data, and the connection stays usable.
    assert.deepEqual(await client.request({ status: "OK", data: "MARKET XYZ", v: 2 }), {
      status: "ERROR",
      code: "UNKNOWN_COIN",
      data: "unknown coin XYZ",
    });
    assert.deepEqual(await client.market("BTC"), BTC);
  });
});

Deno.test("PriceClient.market rejects symbols that are not one coin", async () => {
  await withServer(answering(market), async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port });
    for (const bad of ["", "all", "BTC ETH", " "]) {
      await assert.rejects(client.market(bad), RangeError);
    }
  });
});

Deno.test("connecting to a closed port reports connection refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  await assert.rejects(
    PriceClient.connect({ host: "127.0.0.1", port }),
    (err: Error) => {
      assert.ok(err instanceof ConnectionError);
      assert.equal(err.name, "ConnectionError");
      assert.equal(err.message, `Cannot connect to 127.0.0.1:${port}: connection refused`);
      return true;
    },
  );
});

Deno.test("the server closing mid-reply is a ConnectionError, and the client stays failed", async () => {
  await withServer(async (conn) => {
    await lineReader(conn)();
    await writeAll(conn, '{"status":"OK","data":{"symbol":"BT');
  }, async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port });
    const expected = new ConnectionError(`Connection to 127.0.0.1:${port} closed by the server`, {
      code: "CLOSED",
    });
    await assert.rejects(client.market("BTC"), expected);
    await assert.rejects(client.marketAll(), expected);
  });
});

Deno.test("a reply that does not come in time is a ConnectionError", async () => {
  await withServer(async (conn) => {
    // Read the request, then stay silent until the client gives up and closes.
    const next = lineReader(conn);
    await next();
    assert.equal(await next(), null);
  }, async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port, timeoutMs: 50 });
    await assert.rejects(
      client.marketAll(),
      new ConnectionError(`No reply from 127.0.0.1:${port} within 50 ms`, { code: "TIMED_OUT" }),
    );
  });
});

Deno.test("replies over the size cap and non-protocol replies are rejected", async (t) => {
  await t.step("oversized", async () => {
    await withServer(async (conn) => {
      await lineReader(conn)();
      // The client hangs up part-way, so the write may fail; that is expected here.
      await writeAll(conn, "x".repeat(300_000)).catch(() => {});
    }, async (port) => {
      await using client = await PriceClient.connect({
        host: "127.0.0.1",
        port,
        maxReplyBytes: 100_000,
      });
      await assert.rejects(client.marketAll(), /is larger than 100000 bytes/);
    });
  });
  await t.step("no status", async () => {
    await withServer(answering(() => "ignored"), async (port) => {
      await using client = await PriceClient.connect({ host: "127.0.0.1", port });
      await assert.rejects(
        client.marketAll(),
        new ConnectionError(`Unexpected reply from 127.0.0.1:${port}: no OK or ERROR status`, {
          code: "PROTOCOL",
        }),
      );
    });
  });
  await t.step("an error code the protocol does not define", async () => {
    await withServer(
      answering(() => ({ status: "ERROR", code: "MADE_UP", data: "no such code" })),
      async (port) => {
        await using client = await PriceClient.connect({ host: "127.0.0.1", port });
        await assert.rejects(
          client.marketAll(),
          new ConnectionError(
            `Unexpected reply from 127.0.0.1:${port}: unknown error code "MADE_UP"`,
            { code: "PROTOCOL" },
          ),
        );
      },
    );
  });
  await t.step("wrong data shape", async () => {
    await withServer(
      answering(() => ({ status: "OK", data: { Bitcoin: 20220.0 } })),
      async (port) => {
        await using client = await PriceClient.connect({ host: "127.0.0.1", port });
        await assert.rejects(
          client.marketAll(),
          new ConnectionError(`Unexpected reply from 127.0.0.1:${port}: expected a list of coins`, {
            code: "PROTOCOL",
          }),
        );
      },
    );
  });
  await t.step("garbage", async () => {
    await withServer(async (conn) => {
      await lineReader(conn)();
      await writeAll(conn, "HTTP/1.1 400 Bad Request\r\n\r\n");
    }, async (port) => {
      await using client = await PriceClient.connect({ host: "127.0.0.1", port });
      await assert.rejects(client.marketAll(), {
        name: "ConnectionError",
        message: `Unexpected reply from 127.0.0.1:${port}: not JSON`,
      });
    });
  });
});

Deno.test("PriceClient over TLS", async (t) => {
  const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 1 });
  const tlsListener = () => Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });

  await t.step("verifies the certificate and host name, then speaks the protocol", async () => {
    await withServer(answering(market), async (port) => {
      await using client = await PriceClient.connect({ host: "localhost", port, caCerts: [cert] });
      assert.deepEqual(await client.market("BTC"), BTC);
    }, tlsListener());
  });

  await t.step("an untrusted certificate fails the handshake at connect", async () => {
    await withServer(async (conn) => {
      await conn.read(new Uint8Array(1)).catch(() => {});
    }, async (port) => {
      await assert.rejects(
        PriceClient.connect({ host: "localhost", port, tls: true }),
        new ConnectionError(
          `TLS handshake with localhost:${port} failed: certificate is not trusted (unknown issuer)`,
          { code: "TLS_UNTRUSTED" },
        ),
      );
    }, tlsListener());
  });

  await t.step("plain TCP to a TLS server says so", async () => {
    await withServer(async (conn) => {
      await conn.read(new Uint8Array(1)).catch(() => {});
    }, async (port) => {
      await using client = await PriceClient.connect({ host: "127.0.0.1", port });
      await assert.rejects(
        client.marketAll(),
        new ConnectionError(
          `Connection to 127.0.0.1:${port} closed by the server (it expects TLS)`,
          { code: "TLS_EXPECTED" },
        ),
      );
    }, tlsListener());
  });

  await t.step("a silent server times out the handshake", async () => {
    const { promise: gaveUp, resolve } = Promise.withResolvers<void>();
    await withServer(async (conn) => {
      // Swallow the ClientHello and stay silent until the client has given up. (Deno keeps the
      // socket of an aborted handshake open, so its end of stream would never come.)
      await conn.read(new Uint8Array(1024));
      await gaveUp;
    }, async (port) => {
      await assert.rejects(
        PriceClient.connect({ host: "localhost", port, caCerts: [cert], timeoutMs: 50 }),
        new ConnectionError(
          `TLS handshake with localhost:${port} failed: no reply within 50 ms (does the server use TLS?)`,
          { code: "TLS_NOT_SPOKEN" },
        ),
      );
      resolve();
    });
  });

  await t.step("TLS to a plain server says so", async () => {
    await withServer(async (conn) => {
      await conn.read(new Uint8Array(1024));
      await writeAll(conn, '{"status":"ERROR","code":"BAD_JSON","data":"bad JSON"}\n');
    }, async (port) => {
      await assert.rejects(
        PriceClient.connect({ host: "localhost", port, caCerts: [cert] }),
        new ConnectionError(
          `TLS handshake with localhost:${port} failed: the server does not speak TLS`,
          { code: "TLS_NOT_SPOKEN" },
        ),
      );
    });
  });
});

Deno.test("PriceClient.watch gets pushed updates and never takes them for replies", async () => {
  const updated = { ...BTC, price: 20300.5 };
  await withServer(async (conn) => {
    const next = lineReader(conn);
    assert.equal(await next(), '{"status":"OK","data":"WATCH BTC eth","v":2}');
    await writeAll(conn, JSON.stringify({ status: "OK", data: [BTC, ETH] }) + "\n");
    // An update right behind the reply, then one between two replies.
    await writeAll(conn, JSON.stringify({ status: "OK", event: "update", data: updated }) + "\n");
    assert.equal(await next(), '{"status":"OK","data":"MARKET ETH","v":2}');
    assert.equal(await next(), '{"status":"OK","data":"MARKET BTC","v":2}');
    await writeAll(
      conn,
      `${JSON.stringify({ status: "OK", data: ETH })}\n` +
        `${JSON.stringify({ status: "OK", event: "update", data: ETH })}\n` +
        `${JSON.stringify({ status: "OK", event: "someday", data: 1 })}\n` +
        `${JSON.stringify({ status: "OK", data: updated })}\n`,
    );
    assert.equal(await next(), '{"status":"OK","data":"UNWATCH","v":2}');
    await writeAll(conn, '{"status":"OK","data":[]}\n');
    assert.equal(await next(), null);
  }, async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port });
    const updates: CoinView[] = [];
    const twoUpdates = Promise.withResolvers<void>();
    const initial = await client.watch(["BTC", "eth"], (coin) => {
      updates.push(coin);
      if (updates.length === 2) twoUpdates.resolve();
    });
    assert.deepEqual(initial, [BTC, ETH]);
    const [eth, btc] = await Promise.all([client.market("ETH"), client.market("BTC")]);
    assert.deepEqual([eth, btc], [ETH, updated]);
    await twoUpdates.promise;
    assert.deepEqual(updates, [updated, ETH]);
    assert.deepEqual(await client.unwatch(), []);
    client.close();
    assert.equal((await client.closed).message, `Connection to 127.0.0.1:${port} is closed`);
  });
});

Deno.test("PriceClient.watch checks its symbols and reports the server closing", async () => {
  await withServer(async (conn) => {
    const next = lineReader(conn);
    await next();
    await writeAll(conn, JSON.stringify({ status: "OK", data: [BTC] }) + "\n");
  }, async (port) => {
    await using client = await PriceClient.connect({ host: "127.0.0.1", port });
    await assert.rejects(client.watch([], () => {}), RangeError);
    await assert.rejects(client.watch(["BTC ETH"], () => {}), RangeError);
    await assert.rejects(
      client.watch(Array.from({ length: 51 }, (_, i) => `C${i}`), () => {}),
      RangeError,
    );
    await client.watch(["BTC"], () => {});
    // The server hangs up while nothing is asked: the watch learns of it.
    assert.equal(
      (await client.closed).message,
      `Connection to 127.0.0.1:${port} closed by the server`,
    );
  });
});
