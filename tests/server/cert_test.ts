import assert from "node:assert/strict";
import { generateSelfSigned } from "../../lib/app/cert.ts";

const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 2 });

/** Accepts one TLS connection, echoes one chunk back, and closes. */
async function echoOnce(listener: Deno.TlsListener): Promise<void> {
  using conn = await listener.accept();
  try {
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    if (n !== null) await conn.write(buf.subarray(0, n));
  } catch {
    // The client may abort the handshake; that is the point of the negative test.
  }
}

Deno.test("generateSelfSigned returns PEM certificate and PKCS#8 key", () => {
  assert.match(cert, /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+-----END CERTIFICATE-----\s*$/);
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\r?\n[\s\S]+-----END PRIVATE KEY-----\s*$/);
});

Deno.test("generateSelfSigned rejects bad options", async () => {
  await assert.rejects(generateSelfSigned({ hosts: [] }), RangeError);
  await assert.rejects(generateSelfSigned({ days: 0 }), RangeError);
});

for (const hostname of ["localhost", "127.0.0.1"]) {
  Deno.test(`a client trusting the certificate completes a TLS round trip to ${hostname}`, async () => {
    using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    const served = echoOnce(listener);
    {
      using conn = await Deno.connectTls({
        hostname,
        port: listener.addr.port,
        caCerts: [cert],
      });
      await conn.write(new TextEncoder().encode("ping"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "ping");
    }
    await served;
  });
}

Deno.test("a client without the certificate as CA fails the handshake", async () => {
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const served = echoOnce(listener);
  await assert.rejects(async () => {
    using conn = await Deno.connectTls({ hostname: "localhost", port: listener.addr.port });
    await conn.handshake();
  }, (err: Error) => /certificate/i.test(err.message));
  await served;
});

Deno.test("hostname verification rejects a certificate for another host", async () => {
  const other = await generateSelfSigned({ hosts: ["example.test"], days: 1 });
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...other });
  const served = echoOnce(listener);
  await assert.rejects(async () => {
    using conn = await Deno.connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [other.cert],
    });
    await conn.handshake();
  }, (err: Error) => /certificate/i.test(err.message));
  await served;
});
