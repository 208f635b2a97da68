/**
 * Self-signed TLS certificates for running the price server locally over TLS, and `deno task
 * cert`, which writes `./data/cert.pem` and `./data/key.pem`; clients trust the
 * certificate with `--ca data/cert.pem`.
 *
 * @module
 */

import { generate } from "selfsigned";

/** Options for {@linkcode generateSelfSigned}. */
export interface SelfSignedOptions {
  /** DNS names and IP addresses the certificate is valid for; the first one is the common name. */
  hosts?: readonly string[];
  /** Validity in days from now. */
  days?: number;
}

/** A certificate and its private key, both PEM-encoded. */
export interface CertPair {
  /** The X.509 certificate (`-----BEGIN CERTIFICATE-----`). */
  cert: string;
  /** The PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`). */
  key: string;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Generates a self-signed RSA-2048 / SHA-256 server certificate whose subject alternative names
 * are `hosts` (IP addresses as IP entries, everything else as DNS names).
 */
export async function generateSelfSigned(
  { hosts = ["localhost", "127.0.0.1"], days = 365 }: SelfSignedOptions = {},
): Promise<CertPair> {
  if (hosts.length === 0) throw new RangeError("At least one host is required for a certificate");
  if (!Number.isInteger(days) || days < 1) {
    throw new RangeError(`Validity must be a positive whole number of days, got ${days}`);
  }
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 86_400_000);
  const pems = await generate([{ name: "commonName", value: hosts[0] }], {
    keyType: "rsa",
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      // A CA flag would make rustls/webpki reject the certificate as an end-entity certificate.
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: hosts.map((h) =>
          IPV4.test(h) || h.includes(":")
            ? { type: 7 as const, ip: h }
            : { type: 2 as const, value: h }
        ),
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

if (import.meta.main) {
  const dir = "./data";
  await Deno.mkdir(dir, { recursive: true });
  const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 365 });
  await Deno.writeTextFile(`${dir}/cert.pem`, cert);
  // Remove first so an existing, more permissive key file does not keep its old mode.
  await Deno.remove(`${dir}/key.pem`).catch(() => {});
  await Deno.writeTextFile(`${dir}/key.pem`, key, { mode: 0o600 });
  console.log(
    `Wrote ${dir}/cert.pem (certificate for localhost and 127.0.0.1, valid 365 days)\n` +
      `Wrote ${dir}/key.pem (private key, mode 0600)\n` +
      `Clients trust it with: --ca ${dir}/cert.pem`,
  );
}
