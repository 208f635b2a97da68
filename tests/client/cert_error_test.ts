/**
 * The most common self-signed certificate, from a bare `openssl req -x509`, is a CA certificate
 * (CA:TRUE), which rustls refuses as a server's own with "invalid peer certificate:
 * other(othererror(causedasendentity))". The client names the cause in words and the fix.
 */
import assert from "node:assert/strict";
import { ConnectionError, PriceClient } from "../../lib/client/price_client.ts";
import { commandWorks } from "../helpers.ts";
import { generateSelfSigned } from "../../lib/app/cert.ts";

/**
 * The error of a client trusting `trusted` that connects to a TLS server with `server`'s
 * certificate and key; fails the test when there is none.
 */
async function handshakeError(
  server: { cert: string; key: string },
  trusted: string,
): Promise<ConnectionError> {
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...server });
  // The server side only has to take the handshake; the client gives up on it.
  const served = (async () => {
    const conn = await listener.accept();
    await (conn as Deno.TlsConn).handshake().catch(() => {});
    conn.close();
  })();
  const error = await PriceClient.connect({
    host: "localhost",
    port: listener.addr.port,
    caCerts: [trusted],
    timeoutMs: 10_000,
  }).then((client) => {
    client.close();
    return null;
  }, (e) => e);
  await served;
  assert.ok(error instanceof ConnectionError, String(error));
  return error;
}

const hasOpenssl = await commandWorks("openssl", ["version"]);

Deno.test({
  name: "a CA:TRUE server certificate: the error says what is wrong and how to make a fitting one",
  ignore: !hasOpenssl, // the certificate is made by openssl, as a user would
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "crypto-ca-cert-" });
    try {
      const { success, stderr } = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          `${dir}/key.pem`,
          "-out",
          `${dir}/cert.pem`,
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=DNS:localhost",
          "-addext",
          "basicConstraints=critical,CA:TRUE",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(success, new TextDecoder().decode(stderr));
      const cert = await Deno.readTextFile(`${dir}/cert.pem`);
      const key = await Deno.readTextFile(`${dir}/key.pem`);
      const error = await handshakeError({ cert, key }, cert);
      assert.match(error.message, /^TLS handshake with localhost:\d+ failed: /);
      assert.match(error.message, /certificate is a CA certificate \(CA:TRUE\)/);
      assert.match(error.message, /deno task cert/);
      assert.match(error.message, /basicConstraints=critical,CA:FALSE/);
      assert.doesNotMatch(error.message, /othererror/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a certificate replaced while the client trusts the old one: the error explains it", async () => {
  // What `deno task cert` run twice makes: two certificates for the same names, other keys.
  const old = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 1 });
  const current = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 1 });
  const error = await handshakeError(current, old.cert);
  assert.equal(error.code, "TLS_REFUSED");
  assert.match(error.message, /^TLS handshake with localhost:\d+ failed: /);
  assert.match(error.message, /is not signed by the certificate passed with --ca/);
  assert.match(error.message, /--ca/);
  assert.doesNotMatch(error.message, /badsignature/i);
});
