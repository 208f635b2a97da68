/**
 * The JSON-lines protocol as a {@linkcode Session}: the wire module's framer splits the bytes
 * into lines, and the market's responder answers each; replies and event lines go out as is.
 *
 * @module
 */

import type { Market, Responder } from "./market.ts";
import type { Answered, Session, SessionFactory } from "./session.ts";
import { encodeError, type ErrorCode, RequestFramer } from "../wire/protocol.ts";

function ignore(): void {}

/** One connection's JSON-lines session. */
class LineSession implements Session {
  readonly transport: string;
  readonly #framer: RequestFramer;
  readonly #respond: Responder;
  #answer: Answered = ignore;
  #now = 0;
  /** Set once a request asked to close: later requests in the same read go unanswered. */
  #closed = false;
  readonly #onRequest = (data: Uint8Array, start: number, end: number, repeat: boolean) => {
    if (this.#closed) return;
    const answer = this.#respond(data, start, end, this.#now, repeat);
    if (answer.close) this.#closed = true;
    this.#answer(answer, data, start, end);
  };

  constructor(respond: Responder, maxRequestBytes: number, transport: string) {
    this.#respond = respond;
    this.#framer = new RequestFramer(maxRequestBytes);
    this.transport = transport;
  }

  get midRequest(): boolean {
    return this.#framer.inRequest;
  }

  receive(data: Uint8Array, from: number, to: number, now: number, answer: Answered): boolean {
    this.#now = now;
    this.#answer = answer;
    return this.#framer.push(data.subarray(from, to), this.#onRequest);
  }

  event(line: Uint8Array): Uint8Array {
    return line;
  }

  farewell(code: ErrorCode, message: string): Uint8Array {
    return encodeError(code, message);
  }
}

/**
 * Sessions of the JSON-lines protocol answered from `market`; their transport is "tls" on a TLS
 * listener and "tcp" otherwise.
 */
export function lineSessions(market: Market): SessionFactory {
  return (context) =>
    new LineSession(market.responder(), context.maxRequestBytes, context.tls ? "tls" : "tcp");
}
