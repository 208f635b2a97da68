/**
 * TLS floods against the real server process: clients that connect and say nothing, send half a
 * ClientHello, or a whole one and then nothing. The server's descriptors (counted in
 * /proc/PID/fd) stay below the connection cap plus a small margin however many arrive, and
 * proper TLS clients (Deno, the original Python client, openssl s_client) are served meanwhile,
 * within 1 s (or ten times what a request takes on this machine before the flood, if more). With
 * a descriptor limit below the cap, the server keeps serving too.
 */
import assert from "node:assert/strict";
import { TLS_SOCKET_MARGIN } from "../../lib/net/tls_listener.ts";
import {
  commandWorks,
  LineClient,
  runWithInput as run,
  tlsFiles,
  withDeadline,
} from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { ServerProcess } from "../server_process.ts";

const ORIGINAL_CLIENT = new URL("../clients/original_client.py", import.meta.url).pathname;
const MAX_CONNECTIONS = 100;
/**
 * The bound on the server's descriptors beyond its baseline: the TLS listener counts a socket
 * from its accept until its descriptor is gone and accepts none while cap + TLS_SOCKET_MARGIN
 * are open (the proper clients' sockets among them); a few more for the rest of the server
 * (an ingestion's upstream request).
 */
const BOUND = MAX_CONNECTIONS + TLS_SOCKET_MARGIN + 4;
/** Attackers connecting at once: they arrive faster than one by one. */
const PARALLEL = 10;

const hasProc = await commandWorks("ls", ["/proc/self/fd"]);
const hasPython = await commandWorks("python3", ["--version"]);
const hasOpenssl = await commandWorks("openssl", ["version"]);
const hasSh = await commandWorks("sh", ["-c", "true"]);

/** Descriptors open in process `pid`; `ls` reads /proc, which Deno allows only with -A. */
async function openFds(pid: number): Promise<number> {
  const { stdout, success } = await new Deno.Command("ls", {
    args: ["-1", `/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(success, `cannot list /proc/${pid}/fd`);
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line !== "").length;
}

/** The first bytes a real TLS client sends: a whole ClientHello, captured on a local socket. */
async function captureClientHello(): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connectTls({ hostname: "localhost", port: listener.addr.port });
  const handshake = client.handshake().catch(() => {});
  const conn = await listener.accept();
  const buffer = new Uint8Array(16 * 1024);
  const n = (await conn.read(buffer)) ?? 0;
  conn.close();
  await handshake;
  client.close();
  assert.equal(buffer[0], 0x16, "a TLS handshake record");
  return buffer.slice(0, n);
}

/**
 * Opens `count` connections, PARALLEL at once, each sending `bytes` (if any) and held in `held`;
 * `each(i)` runs after the i-th.
 */
async function attack(
  port: number,
  count: number,
  bytes: Uint8Array | null,
  held: Deno.Conn[],
  each: (i: number) => Promise<void> | undefined = () => undefined,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < count) {
      const i = next++;
      const conn = await withDeadline(
        Deno.connect({ hostname: "127.0.0.1", port }),
        `attacker ${i} connecting`,
      );
      held.push(conn);
      if (bytes !== null) await conn.write(bytes).catch(() => {});
      await each(i);
    }
  }));
}

/**
 * Runs `request` (a proper client's `MARKET BTC`), checks the reply, and fails unless it came
 * within `ms`; returns how long it took.
 */
async function servedWithin(request: () => Promise<unknown>, ms: number): Promise<number> {
  const start = performance.now();
  const reply = await withDeadline(request(), `a proper TLS request within ${ms} ms`, ms);
  assert.deepEqual(reply, { status: "OK", data: 20220 });
  return performance.now() - start;
}

/** `server.ts` speaking TLS with the certificate in `dir`, a 2 s handshake deadline, `args`. */
function tlsServer(
  dir: string,
  upstream: string,
  args: string[],
  options: { fdLimit?: number } = {},
): ServerProcess {
  return new ServerProcess([
    "--port",
    "0",
    "--db",
    `${dir}/db.sqlite`,
    "--api-url",
    upstream,
    "--tls-cert",
    `${dir}/cert.pem`,
    "--tls-key",
    `${dir}/key.pem`,
    "--tls-handshake-timeout",
    "2",
    ...args,
  ], options);
}

/** A proper TLS client's `MARKET BTC`, verifying the certificate. */
async function properRequest(port: number, cert: string): Promise<unknown> {
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [cert] });
  await using client = new LineClient(conn);
  return await client.request({ status: "OK", data: "MARKET BTC" });
}

Deno.test({
  name: "a TLS flood keeps descriptors bounded and locks no proper client out",
  ignore: !hasProc,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "crypto-tls-flood-" });
    const { certPem: cert } = await tlsFiles(dir);
    await using upstream = await startFakeUpstream();
    await using server = tlsServer(dir, upstream.baseUrl, [
      "--max-connections",
      String(MAX_CONNECTIONS),
    ]);
    const port = await server.port();
    await server.output.waitFor(/^ingested \d+ coins/);
    const pid = server.child.pid;
    const hello = await captureClientHello();

    const proper = () => properRequest(port, cert);
    const quiet = await servedWithin(proper, 10_000);
    const allowed = Math.max(1000, 10 * quiet);
    const baseline = await openFds(pid);

    const attackers: Deno.Conn[] = [];
    let most = 0;
    const samples: number[] = [];
    const watch = async () => {
      const open = await openFds(pid);
      samples.push(open);
      most = Math.max(most, open);
    };
    try {
      // Three waves, each far more than the cap: silent, half a ClientHello, a whole one.
      const waves: [string, Uint8Array | null][] = [
        ["silent", null],
        ["half a ClientHello", hello.subarray(0, Math.floor(hello.length / 2))],
        ["a whole ClientHello, then nothing", hello],
      ];
      for (const [what, bytes] of waves) {
        await t.step(`${what}: 300 connections, ${PARALLEL} at once`, async () => {
          await attack(port, 300, bytes, attackers, (i) => i % 25 === 0 ? watch() : undefined);
          await watch();
          // A proper client is served while the attackers hold their connections.
          await servedWithin(proper, allowed);
          await watch();
          assert.ok(
            most <= baseline + BOUND,
            `${most} descriptors open (baseline ${baseline}, cap ${MAX_CONNECTIONS}): ${samples}`,
          );
        });
      }

      await t.step({
        name: "the original Python client over TLS, during the flood",
        ignore: !hasPython,
        async fn() {
          const { code, out, err } = await run(
            "python3",
            [ORIGINAL_CLIENT, "localhost", String(port), "--tls", `${dir}/cert.pem`],
            "2\nBTC\n0\n",
          );
          assert.equal(code, 0, err);
          assert.match(out, /PRICE BTC 20220\.0\n/);
        },
      });

      await t.step({
        name: "openssl s_client, during the flood",
        ignore: !hasOpenssl,
        async fn() {
          const { out, err } = await run("openssl", [
            "s_client",
            "-connect",
            `127.0.0.1:${port}`,
            "-CAfile",
            `${dir}/cert.pem`,
            "-servername",
            "localhost",
            "-verify_return_error",
            "-quiet",
          ], '{"status":"OK","data":"MARKET BTC"}\n{"status":"CLOSE"}\n');
          assert.match(out, /^\{"status":"OK","data":20220\.0\}\n/, err);
        },
      });

      await t.step(
        "after the handshake deadline the descriptors are back near the baseline",
        async () => {
          // The attackers still hold their ends open; the server has let go of all of them. The
          // event is the server's timer, so this polls, with a deadline.
          const until = Date.now() + 15_000;
          let open;
          while ((open = await openFds(pid)) > baseline + 8) {
            assert.ok(Date.now() < until, `${open} descriptors (baseline ${baseline})`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          assert.ok(most <= baseline + BOUND, `at most ${most} descriptors`);
        },
      );
    } finally {
      for (const conn of attackers) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      server.kill("SIGTERM");
      await server.exited();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a TLS flood with the descriptor limit below the connection cap locks no one out",
  ignore: !hasProc || !hasSh,
  async fn() {
    // The default cap (10,000) far above `ulimit -n`: accepts run out of descriptors before the
    // cap's own rule (the oldest handshake makes room) can act, so the listener lowers its limit.
    const fdLimit = 200;
    const dir = await Deno.makeTempDir({ prefix: "crypto-tls-fdlimit-" });
    const { certPem: cert } = await tlsFiles(dir);
    await using upstream = await startFakeUpstream();
    await using server = tlsServer(dir, upstream.baseUrl, [], { fdLimit });
    const port = await server.port();
    await server.output.waitFor(/^ingested \d+ coins/);
    const proper = () => properRequest(port, cert);
    const allowed = Math.max(1000, 10 * await servedWithin(proper, 10_000));
    const attackers: Deno.Conn[] = [];
    try {
      for (let wave = 0; wave < 2; wave++) {
        await attack(port, fdLimit + 100, null, attackers);
        await servedWithin(proper, allowed);
      }
      await server.output.waitFor(/serving at most \d+ TLS sockets at once \(raise/);
      // A reserve stays free for the rest of the server (the database, upstream requests).
      const open = await openFds(server.child.pid);
      assert.ok(open <= fdLimit - 16, `${open} descriptors open, limit ${fdLimit}`);
    } finally {
      for (const conn of attackers) conn.close();
      server.kill("SIGTERM");
      await server.exited();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "peers that end their side mid-handshake are let go at once, not at the deadline",
  ignore: !hasProc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "crypto-tls-eof-" });
    const { certPem: cert } = await tlsFiles(dir);
    await using upstream = await startFakeUpstream();
    // A deadline far beyond the wait below: only the peers' end of stream can release them.
    await using server = tlsServer(dir, upstream.baseUrl, ["--tls-handshake-timeout", "120"]);
    const port = await server.port();
    await server.output.waitFor(/^ingested \d+ coins/);
    await servedWithin(() => properRequest(port, cert), 10_000);
    const pid = server.child.pid;
    const baseline = await openFds(pid);
    const peers: Deno.TcpConn[] = [];
    try {
      const hello = await captureClientHello();
      for (let i = 0; i < 100; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        peers.push(conn);
        await conn.write(hello.subarray(0, 10));
        await conn.closeWrite();
      }
      const until = Date.now() + 10_000;
      let open;
      while ((open = await openFds(pid)) > baseline + 4) {
        assert.ok(Date.now() < until, `${open} descriptors 10 s later (baseline ${baseline})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      for (const conn of peers) conn.close();
      server.kill("SIGTERM");
      await server.exited();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
