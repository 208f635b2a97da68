/**
 * HTTP/1.1 as a {@linkcode Session}: what one connection of the HTTP listener speaks. Heads are
 * framed as they arrive and each is answered in order (pipelining included); the connection
 * machinery around it does admission, caps, deadlines and back-pressure as for every transport.
 *
 * @module
 */

import type { Answer } from "../server/market.ts";
import type { Answered, Session, SessionContext, SessionFactory } from "../server/session.ts";
import type { ErrorCode } from "../wire/error_code.ts";
import { HeadFramer } from "./head_framer.ts";
import type { HttpResponder } from "./http_responder.ts";
import type { HeadError, RequestHead } from "./request_head.ts";
import { acceptUpgrade, wantsWebSocket } from "./upgrade.ts";
import { errorRep } from "./market_api.ts";

/** Makes the session a connection switches to after a WebSocket handshake. */
export type WebSocketFactory = (head: RequestHead, context: SessionContext) => Session;

const EMPTY = new Uint8Array(0);

/** One HTTP connection's protocol state. */
export class HttpSession implements Session {
  readonly transport: "http" | "https";
  readonly #framer = new HeadFramer();
  readonly #responder: HttpResponder;
  readonly #webSocket: WebSocketFactory | undefined;
  readonly #context: SessionContext;
  /** Set once an answer closes the connection: later requests on it are not answered. */
  #done = false;
  #next: Session | undefined;
  #now = 0;
  #answer: Answered = () => {};
  /** The bytes of the read being framed. */
  #bytes: Uint8Array = EMPTY;

  /**
   * @param webSocket makes the session of an accepted `/ws` upgrade; without it `/ws` is 501
   */
  constructor(responder: HttpResponder, context: SessionContext, webSocket?: WebSocketFactory) {
    this.transport = context.tls ? "https" : "http";
    this.#responder = responder;
    this.#context = context;
    this.#webSocket = webSocket;
  }

  /** Whether a request head has begun and is not complete. */
  get midRequest(): boolean {
    return this.#framer.midRequest;
  }

  /** The WebSocket session after an accepted upgrade. */
  get next(): Session | undefined {
    return this.#next;
  }

  /** Frames the bytes and answers each complete head, in order. */
  receive(bytes: Uint8Array, start: number, end: number, now: number, answer: Answered): boolean {
    if (this.#done) return true;
    this.#now = now;
    this.#answer = answer;
    this.#bytes = bytes;
    this.#framer.push(bytes, start, end, this.#onHead);
    this.#bytes = EMPTY;
    return true;
  }

  // One function for every read, not a closure per read. No request range is passed on for the
  // error log: a head split over reads has none, and the response's status says what was wrong.
  readonly #onHead = (head: RequestHead | HeadError) => {
    if (this.#done) return;
    const now = this.#now;
    let reply: Answer;
    if (head.kind === "error") reply = this.#responder.refuse(head, now);
    else if (head.headers.has("upgrade") && wantsWebSocket(head)) reply = this.#upgrade(head, now);
    else reply = this.#responder.respond(head, now, this.#context.address);
    if (reply.close) this.#done = true;
    this.#answer(reply, this.#bytes, 0, 0);
  };

  #upgrade(head: RequestHead, now: number): Answer {
    const target = head.target.split("?")[0];
    if (target !== "/ws") return this.#responder.respond(head, now, this.#context.address);
    if (this.#webSocket === undefined) {
      return refusal(now, 501, "NOT_IMPLEMENTED", "WebSocket is not served by this build");
    }
    const accepted = acceptUpgrade(head);
    if (accepted.kind === "refused") {
      return refusal(now, accepted.status, "BAD_REQUEST", accepted.message, accepted.headers);
    }
    // Bytes that follow the handshake belong to the WebSocket: the framer stops here.
    this.#done = true;
    this.#next = this.#webSocket(head, this.#context);
    return { bytes: accepted.bytes, close: false, command: "UPGRADE", error: null };
  }

  /** HTTP has no server-pushed events: WATCH is served over `/ws`. */
  event(_line: Uint8Array): Uint8Array {
    return EMPTY;
  }

  /**
   * The response sent when the server closes the connection for a limit: 503 with
   * `Retry-After` when busy, 408 for a request not complete in time, 431 for one too long. An
   * idle keep-alive connection is closed without one, as a client may be sending a request
   * at that moment and would read the 408 as its answer.
   */
  farewell(code: ErrorCode, message: string): Uint8Array {
    if (code === "TIMEOUT" && !this.midRequest) return EMPTY;
    const status = code === "BUSY"
      ? 503
      : code === "TIMEOUT"
      ? 408
      : code === "LINE_TOO_LONG"
      ? 431
      : 400;
    return refusal(Date.now(), status, code, message, code === "BUSY" ? "Retry-After: 1\r\n" : "")
      .bytes;
  }
}

/**
 * HTTP sessions answered by `responder` ("https" on a TLS listener); `/ws` upgrades switch to
 * the sessions `webSocket` makes, and are answered 501 without it.
 */
export function httpSessions(
  responder: HttpResponder,
  webSocket?: WebSocketFactory,
): SessionFactory {
  return (context) => new HttpSession(responder, context, webSocket);
}

function refusal(now: number, status: number, code: string, message: string, headers = ""): Answer {
  const rep = errorRep(status, code, message, headers);
  return {
    bytes: rep.response({ head: false, gzip: false, close: true, ifNoneMatch: undefined }, now, 0),
    close: true,
    command: "UPGRADE",
    error: "BAD_REQUEST",
  };
}
