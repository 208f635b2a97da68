/**
 * The JSON-lines protocol over WebSocket, as a {@linkcode Session}: each text message is one
 * request, answered by the market's responder as a line connection's would be, and each reply
 * and WATCH update event is one text message (without the line's newline). The connection the
 * session belongs to keeps every limit: request size (here: message size), deadlines, unsent
 * bytes, symbols per connection.
 *
 * @module
 */

import type { Answer, Market, Responder } from "../server/market.ts";
import type { Answered, Session, SessionContext } from "../server/session.ts";
import type { ErrorCode } from "../wire/protocol.ts";
import {
  CloseCode,
  encodeClose,
  encodeFrame,
  encodeLine,
  FrameDecoder,
  type FrameHandler,
  Opcode,
} from "./websocket_frames.ts";

const EMPTY = new Uint8Array(0);
const CR = 0x0d;
const NEWLINE = 0x0a;

/** The server's ping, sent to a connection idle for half the idle timeout. */
const PING = encodeFrame(Opcode.ping, EMPTY);

/** A control frame's answer: no command, so not counted as a request. */
function control(bytes: Uint8Array, close = false): Answer {
  return { bytes, close, command: null, error: null };
}

/** A pong from the peer: nothing to send, but it shows the peer is there. */
const PONG_SEEN = control(EMPTY);

/** The close code for each reason the connection closes a session. */
const FAREWELL_CODES: Partial<Record<ErrorCode, number>> = {
  LINE_TOO_LONG: CloseCode.messageTooBig,
  BUSY: CloseCode.tryAgainLater,
  TIMEOUT: CloseCode.policyViolation,
};

/**
 * Replies framed as messages, by the market's answer: the market answers a repeated request
 * with the same object, so a reply is framed once per snapshot, not once per request.
 */
const framed = new WeakMap<Answer, Answer>();

/** The answer with its reply line as one text message (and a close frame when it closes). */
function frameAnswer(answer: Answer): Answer {
  if (answer.bytes.length === 0 && answer.later === undefined) return answer;
  let done = framed.get(answer);
  if (done !== undefined) return done;
  let bytes = answer.bytes.length === 0 ? EMPTY : encodeLine(answer.bytes);
  if (answer.close) bytes = concat(bytes, encodeClose(CloseCode.normal, "closing as asked"));
  done = { ...answer, bytes, later: answer.later?.then(frameAnswer) };
  framed.set(answer, done);
  return done;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}

/** The last event line framed, and its frame: a fan-out frames each event once. */
let lastEvent: Uint8Array = EMPTY;
let lastEventFrame: Uint8Array = EMPTY;

/**
 * One WebSocket connection's session, from the first byte after the handshake's `101`. Made by
 * the HTTP session when it accepts an upgrade of `GET /ws`.
 */
export class WebSocketSession implements Session {
  /** "ws", or "wss" over TLS. */
  readonly transport: string;
  readonly #decoder: FrameDecoder;
  readonly #respond: Responder;
  #answer: Answered = () => {};
  #now = 0;
  /** The bytes being decoded, for the error log. */
  #bytes: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  /** Set once a close was sent or echoed: nothing more is answered. */
  #closed = false;
  readonly #handler: FrameHandler = {
    message: (bytes, start, end) => {
      if (this.#closed) return;
      // A message may end in the newline a line client would send; the request does not.
      if (end > start && bytes[end - 1] === NEWLINE) end--;
      if (end > start && bytes[end - 1] === CR) end--;
      const answer = frameAnswer(this.#respond(bytes, start, end, this.#now, false));
      if (answer.close) this.#closed = true;
      this.#answer(answer, bytes, start, end);
    },
    ping: (payload) => this.#control(control(encodeFrame(Opcode.pong, payload))),
    pong: () => this.#control(PONG_SEEN),
    close: (code) => {
      // Echo the peer's code (RFC 6455 section 5.5.1), or an empty close for an empty one.
      this.#control(control(encodeClose(code, ""), true));
      this.#closed = true;
    },
  };

  /**
   * @param market answers the requests, through a responder of its own
   * @param context the connection's: `tls` names the transport `wss`, `maxRequestBytes` bounds
   *   a message (its payload, over all its fragments)
   */
  constructor(market: Market, context: SessionContext) {
    this.transport = context.tls ? "wss" : "ws";
    this.#respond = market.responder();
    this.#decoder = new FrameDecoder(context.maxRequestBytes);
  }

  get midRequest(): boolean {
    return this.#decoder.midMessage;
  }

  receive(bytes: Uint8Array, start: number, end: number, now: number, answer: Answered): boolean {
    if (this.#closed) return true;
    this.#now = now;
    this.#answer = answer;
    this.#bytes = bytes;
    this.#start = start;
    this.#end = end;
    const failure = this.#decoder.push(bytes, start, end, this.#handler);
    this.#bytes = EMPTY;
    if (failure === null || this.#closed) return true;
    // Too large a message takes the connection's path for a request over the cap: counted as
    // LINE_TOO_LONG, answered with farewell's 1009, and closed without resetting the peer.
    if (failure.code === CloseCode.messageTooBig) return false;
    this.#closed = true;
    const refusal: Answer = {
      bytes: encodeClose(failure.code, failure.reason),
      close: true,
      command: null,
      error: "BAD_REQUEST",
    };
    answer(refusal, bytes, start, end);
    return true;
  }

  #control(answer: Answer): void {
    if (!this.#closed) this.#answer(answer, this.#bytes, this.#start, this.#end);
  }

  event(line: Uint8Array): Uint8Array {
    if (line !== lastEvent) {
      lastEventFrame = encodeLine(line);
      lastEvent = line;
    }
    return lastEventFrame;
  }

  farewell(code: ErrorCode, message: string): Uint8Array {
    return encodeClose(FAREWELL_CODES[code] ?? CloseCode.internalError, `${code}: ${message}`);
  }

  keepAlive(): Uint8Array {
    return PING;
  }

  overflow(message: string): Uint8Array {
    return encodeClose(CloseCode.policyViolation, message);
  }
}

/** Makes the WebSocket sessions of upgraded connections, answered from `market`. */
export function webSocketSessions(market: Market): (context: SessionContext) => WebSocketSession {
  return (context) => new WebSocketSession(market, context);
}
