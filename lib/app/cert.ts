/**
 * Self-signed TLS certificates for running the price server locally over TLS, and `deno task
 * cert`, which writes `./data/cert.pem` and `./data/key.pem`; clients trust the
 * certificate with `--ca data/cert.pem`.
 *
 * @module
 */

import { generate } from "selfsigned";
import { type Flag, FlagTable, HELP_WIDTH, wrapText } from "../util/flag_table.ts";
import { VERSION } from "../util/version.ts";
import { startup } from "./config.ts";

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

/** The flags of `deno task cert`. */
const CERT_FLAGS = new FlagTable(
  [
    {
      name: "force",
      kind: "boolean",
      help: "Replace an existing certificate and key (a running server keeps the old pair until " +
        "it restarts, and clients trusting the old certificate then fail)",
      group: "Certificate",
    },
  ] as const satisfies readonly Flag[],
);

/** The `--help` text of `deno task cert`. */
export function certHelp(): string {
  return [
    `crypto-cert ${VERSION}: a self-signed certificate for the server's TLS`,
    "",
    "Usage: deno task cert [flags]",
    "",
    ...wrapText(
      `Writes ${CERT_DIR}/cert.pem (for localhost and 127.0.0.1, valid 365 days) and ` +
        `${CERT_DIR}/key.pem (its private key, mode 0600). Clients trust it with ` +
        `--ca ${CERT_DIR}/cert.pem.`,
      HELP_WIDTH,
    ),
    ...CERT_FLAGS.help(),
  ].join("\n");
}

const CERT_DIR = "./data";

/** Runs `deno task cert` with `args`; returns the exit code. */
export async function certMain(args: string[]): Promise<number> {
  const start = startup("crypto-cert", certHelp, () => {
    const read = CERT_FLAGS.parse(args, () => undefined);
    return read.action === "run" ? { config: read.values } : read;
  });
  if ("exitCode" in start) return start.exitCode;
  const existing = await firstExisting([`${CERT_DIR}/cert.pem`, `${CERT_DIR}/key.pem`]);
  if (existing !== null && !start.config.force) {
    console.error(
      `error: ${existing} exists; refusing to overwrite it (a running server keeps the old ` +
        "certificate, and clients trusting it would fail). Use --force to replace it.",
    );
    return 1;
  }
  await Deno.mkdir(CERT_DIR, { recursive: true });
  const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 365 });
  await Deno.writeTextFile(`${CERT_DIR}/cert.pem`, cert);
  // Remove first so an existing, more permissive key file does not keep its old mode.
  await Deno.remove(`${CERT_DIR}/key.pem`).catch(() => {});
  await Deno.writeTextFile(`${CERT_DIR}/key.pem`, key, { mode: 0o600 });
  console.log(
    `Wrote ${CERT_DIR}/cert.pem (certificate for localhost and 127.0.0.1, valid 365 days)\n` +
      `Wrote ${CERT_DIR}/key.pem (private key, mode 0600)\n` +
      `Clients trust it with: --ca ${CERT_DIR}/cert.pem`,
  );
  return 0;
}

/** The first of `paths` that exists, or null. */
async function firstExisting(paths: readonly string[]): Promise<string | null> {
  for (const path of paths) {
    try {
      await Deno.lstat(path);
      return path;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return null;
}

if (import.meta.main) Deno.exit(await certMain(Deno.args));
