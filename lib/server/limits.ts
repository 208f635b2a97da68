/**
 * What one client can make the server hold, and the defaults.
 *
 * @module
 */

import { MAX_REQUEST_BYTES } from "../wire/protocol.ts";

/** Limits on what one client can make the server hold; each has a server flag. */
export interface Limits {
  /** Longest request in bytes. */
  maxRequestBytes: number;
  /** A request whose first byte arrived must be complete within this many ms. */
  requestTimeoutMs: number;
  /** A connection with no request for this many ms is closed; 0 = never. */
  idleTimeoutMs: number;
  /** Connections open at once, over every listener. */
  maxConnections: number;
  /** Connections open at once from one address, over every listener; 0 = no cap. */
  maxConnectionsPerAddress: number;
  /** Replies a client has not read, in bytes, before it is closed. */
  maxUnsentBytes: number;
  /** A TLS handshake must finish within this many ms. */
  tlsHandshakeTimeoutMs: number;
}

/** The defaults, as documented in the README's limits table. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRequestBytes: MAX_REQUEST_BYTES,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 300_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 0,
  maxUnsentBytes: 1024 * 1024,
  tlsHandshakeTimeoutMs: 10_000,
});
