/**
 * The seam between the connection machinery and the protocols: what a connection *speaks* is a
 * {@linkcode Session}, so that the JSON-lines protocol, HTTP/1.1 and WebSocket are each a thin
 * transport over the same `Market` and share every limit of the `PriceServer`.
 *
 * @module
 */

import type { Answer } from "./market.ts";
import type { ErrorCode } from "../wire/protocol.ts";

/**
 * Takes the answer to one request; `request[start, end)` is the request as received, for the
 * error log, valid only during the call.
 */
export type Answered = (answer: Answer, request: Uint8Array, start: number, end: number) => void;

/**
 * What one connection speaks: frames received bytes into requests and answers them in order.
 * The connection (`ServerConnection`) owns the socket, the deadlines, back-pressure and the
 * writes; the session only turns bytes into {@linkcode Answer}s whose `bytes` are what goes on
 * the wire (framed for the transport).
 */
export interface Session {
  /** Transport name for counters and logs: "tcp" | "tls" | "http" | "https" | "ws" | "wss". */
  readonly transport: string;
  /**
   * Frames and answers `bytes[start, end)`; `bytes` may end in a partial request, which the
   * session keeps what it needs of (the range is valid only during the call). Calls `answer`
   * once per request, in request order, and none after an answer that closes. `now` is the
   * market's clock for this slice of the read.
   *
   * @returns false when a request grew past the request cap: the session is then spent, and the
   *   connection closes after sending {@linkcode Session.farewell}'s `LINE_TOO_LONG`
   */
  receive(
    bytes: Uint8Array,
    start: number,
    end: number,
    now: number,
    answer: Answered,
  ): boolean;
  /** Whether a request has begun and is not complete (what `--request-timeout` measures). */
  readonly midRequest: boolean;
  /**
   * The bytes that carry one line the connection sends on its own on this transport: a WATCH
   * update event, or the reply to WATCH or UNWATCH, which depends on the connection (the line as
   * is, or framed).
   */
  event(line: Uint8Array): Uint8Array;
  /**
   * The last bytes to send when the server closes the connection for a limit (`BUSY`,
   * `TIMEOUT`, `LINE_TOO_LONG`), in this transport's framing: an error line, a close frame, a
   * 503 response. Without it, or when it returns no bytes, the connection is just closed.
   */
  farewell?(code: ErrorCode, message: string): Uint8Array;
  /**
   * The bytes that ask an idle peer to show it is there (a WebSocket ping), sent once a
   * connection has had no request for half the idle timeout; the peer's answer, passed to
   * `answer` like a request's, keeps the connection open. Without it an idle connection is closed.
   */
  keepAlive?(): Uint8Array;
  /**
   * The last bytes for a connection closed for not reading its replies (a WebSocket close
   * frame). Without it the connection is just closed: a line client would find an error line
   * only behind the replies it does not read.
   */
  overflow?(message: string): Uint8Array;
  /**
   * Set once an answer switched protocols (HTTP -> WebSocket): the connection gives every later
   * read to it, and the connection's counters move to its transport. Bytes of the switching
   * read after the switching request are the old session's to pass on.
   */
  readonly next?: Session;
}

/** What a {@linkcode SessionFactory} knows of the connection it makes a session for. */
export interface SessionContext {
  /** The peer's address, `host:port`, for logs. */
  readonly address: string;
  /** Whether the connection is TLS (after its handshake). */
  readonly tls: boolean;
  /** The longest request in bytes (`--max-request-bytes`). */
  readonly maxRequestBytes: number;
}

/** Makes the session of one newly accepted connection. */
export type SessionFactory = (context: SessionContext) => Session;
