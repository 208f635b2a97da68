/**
 * The client's errors: each carries a code to act on, so no caller matches message text.
 *
 * @module
 */

import type { ErrorCode } from "../wire/error_code.ts";

/** Why a connection failed. */
export type ConnectionErrorCode =
  /** The server could not be reached (refused, no such host, connect timed out). */
  | "UNREACHABLE"
  /** The server's certificate is signed by no CA this client trusts. */
  | "TLS_UNTRUSTED"
  /** The certificate is refused for another reason (name, dates, signature, kind). */
  | "TLS_REFUSED"
  /** The client asked for TLS and the server does not speak it. */
  | "TLS_NOT_SPOKEN"
  /** The server speaks TLS and the client did not. */
  | "TLS_EXPECTED"
  /** Closed by the server or by this client. */
  | "CLOSED"
  /** Closed by the server before it sent a byte, e.g. a TLS port that got plain text. */
  | "CLOSED_UNANSWERED"
  /** No reply within the time limit. */
  | "TIMED_OUT"
  /** The server sent something that is not the protocol. */
  | "PROTOCOL"
  /** Any other failure of the connection. */
  | "FAILED";

/**
 * The server could not be reached, the connection broke, timed out or carried something that is
 * not the protocol. The message is one line meant for a person; `code` says which.
 */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  /** Which failure this is. */
  readonly code: ConnectionErrorCode;

  constructor(message: string, options: ErrorOptions & { code?: ConnectionErrorCode } = {}) {
    super(message, options);
    this.code = options.code ?? "FAILED";
  }
}

/** The server answered with `"status":"ERROR"`; `message` is the server's text for a person. */
export class ServerError extends Error {
  override name = "ServerError";
  /** The protocol error code, e.g. `UNKNOWN_COIN`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
