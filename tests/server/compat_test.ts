/**
 * Clients we did not write: the original assignment's Python client (plain and over TLS),
 * OpenSSL's s_client, and hostile peers on the TLS port.
 */
import assert from "node:assert/strict";
import { generateSelfSigned } from "../../lib/server/cert.ts";
import { LineClient, outputWithin, startTestService } from "../helpers.ts";

const PYTHON = "python3";
const ORIGINAL_CLIENT = new URL("../clients/original_client.py", import.meta.url).pathname;

async function which(command: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return success;
  } catch {
    return false;
  }
}

async function run(
  command: string,
  args: string[],
  stdin: string,
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await outputWithin(
    command,
    { args, stdout: "piped", stderr: "piped" },
    command,
    30_000,
    stdin,
  );
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

const hasPython = await which(PYTHON);
const hasOpenssl = await which("openssl").then(async (ok) =>
  ok ||
  (await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output().then(
    (o) => o.success,
    () => false,
  ))
);

async function tlsFiles(dir: string): Promise<{ cert: string; key: string; certPem: string }> {
  const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"] });
  await Deno.writeTextFile(`${dir}/cert.pem`, cert);
  await Deno.writeTextFile(`${dir}/key.pem`, key, { mode: 0o600 });
  return { cert: `${dir}/cert.pem`, key: `${dir}/key.pem`, certPem: cert };
}

Deno.test({
  name: "the original Python client works unchanged (menu 1, then 2 BTC, then an unknown coin)",
  ignore: !hasPython,
  async fn() {
    await using env = await startTestService();
    const { code, out, err } = await run(
      PYTHON,
      [ORIGINAL_CLIENT, "127.0.0.1", String(env.port)],
      "1\n2\nbtc\n2\nXYZ\n0\n",
    );
    assert.equal(code, 0, err);
    assert.match(out, /Bitcoin: 20220\.0\n/);
    assert.match(out, /Ethereum: 1355\.37\n/);
    assert.match(out, /PRICE btc 20220\.0\n/);
    assert.match(out, /MESSAGE No coin with symbol XYZ/);
  },
});

Deno.test("TLS: clients that trust the certificate are served; plaintext and garbage end only their connection", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "crypto-tls-" });
  const files = await tlsFiles(dir);
  await using env = await startTestService([
    "--tls-cert",
    files.cert,
    "--tls-key",
    files.key,
    "--tls-handshake-timeout",
    "0.5",
  ]);
  assert.ok(env.logs.matching(/^listening on 127\.0\.0\.1:\d+ \(tls\)$/).length === 1);

  const tlsClient = async () =>
    new LineClient(
      await Deno.connectTls({ hostname: "localhost", port: env.port, caCerts: [files.certPem] }),
    );

  await t.step("a Deno TLS client verifying the certificate", async () => {
    await using client = await tlsClient();
    assert.deepStrictEqual(await client.request({ status: "OK", data: "MARKET BTC" }), {
      status: "OK",
      data: 20220,
    });
  });

  await t.step("plaintext on the TLS port ends that connection only", async () => {
    await using held = await tlsClient();
    await using plain = await LineClient.connect(env.port);
    await plain.send('{"status":"OK","data":"MARKET BTC"}\n');
    assert.ok(await plain.closedByServer());
    await env.logs.waitFor(/TLS handshake failed/);
    assert.equal((await held.request({ status: "OK", data: "MARKET ETH" })).data, 1355.37);
  });

  await t.step("random bytes on the TLS port end that connection only", async () => {
    await using garbage = await LineClient.connect(env.port);
    await garbage.send(crypto.getRandomValues(new Uint8Array(4096)));
    assert.ok(await garbage.closedByServer());
    await using client = await tlsClient();
    assert.equal((await client.request({ status: "OK", data: "MARKET BTC" })).status, "OK");
  });

  await t.step(
    "a client that never starts the handshake stops counting after the deadline",
    async () => {
      // Deno's TLS close waits for the handshake, so the socket itself lingers until the silent
      // peer leaves (see README, limits); the server stops counting it against its caps at once.
      await using silent = await LineClient.connect(env.port);
      await env.logs.waitFor(/closed: TLS handshake not done within 500 ms/);
      assert.equal(env.service.server.stats.connectionsOpen, 0);
      silent.close();
    },
  );

  await t.step("a client that does not trust the certificate fails its handshake", async () => {
    await assert.rejects(async () => {
      const conn = await Deno.connectTls({ hostname: "localhost", port: env.port });
      try {
        await conn.handshake();
      } finally {
        conn.close();
      }
    });
  });

  await t.step({
    name: "the original Python client over TLS (ssl module, verifying)",
    ignore: !hasPython,
    async fn() {
      const { code, out, err } = await run(
        PYTHON,
        [ORIGINAL_CLIENT, "localhost", String(env.port), "--tls", files.cert],
        "2\nETH\n0\n",
      );
      assert.equal(code, 0, err);
      assert.match(out, /PRICE ETH 1355\.37\n/);
    },
  });

  await t.step({
    name: "openssl s_client, verifying the certificate",
    ignore: !hasOpenssl,
    async fn() {
      const { out, err } = await run(
        "openssl",
        [
          "s_client",
          "-connect",
          `127.0.0.1:${env.port}`,
          "-CAfile",
          files.cert,
          "-servername",
          "localhost",
          "-verify_return_error",
          "-quiet",
        ],
        '{"status":"OK","data":"MARKET BTC"}\n{"status":"CLOSE"}\n',
      );
      assert.match(
        out,
        /^\{"status":"OK","data":20220\.0\}\n\{"status":"OK","data":"BYE"\}\n$/,
        err,
      );
    },
  });
  await Deno.remove(dir, { recursive: true });
});
