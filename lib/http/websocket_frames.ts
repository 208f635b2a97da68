/**
 * RFC 6455 framing, server side: decodes client frames incrementally, encodes server frames, and
 * computes the handshake's accept key. Pure: no sockets, no clock.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { appendBytes } from "../util/append_bytes.ts";

/** The GUID the handshake appends to the client's key (RFC 6455 section 1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The close codes the server sends (RFC 6455 section 7.4.1). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

/** Frame opcodes (RFC 6455 section 5.2). */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/** Why the decoder gave up: the close code and reason to send before closing. */
export interface FrameFailure {
  readonly code: number;
  readonly reason: string;
}

/** What the decoder found in the bytes pushed; called in order. */
export interface FrameHandler {
  /** A complete text message, valid UTF-8: `bytes[start, end)`, valid only during the call. */
  message(bytes: Uint8Array, start: number, end: number): void;
  /** A ping; its payload (a copy) is to be echoed in a pong. */
  ping(payload: Uint8Array): void;
  /** A pong, solicited or not. */
  pong(): void;
  /** A close frame: its code (null when it has none) and reason. Nothing is decoded after it. */
  close(code: number | null, reason: string): void;
}

const MAX_CONTROL_PAYLOAD = 125;
const EMPTY = new Uint8Array(0);

/**
 * Decodes the frames of one client connection. Frames from a client must be masked; text
 * messages may be fragmented, up to `maxMessageBytes` in all; binary messages are refused.
 * A complete unfragmented frame that arrives in one push is unmasked in place and passed on
 * without a copy; anything else is gathered first.
 */
export class FrameDecoder {
  readonly #maxMessageBytes: number;
  /** Bytes of a frame not complete yet. */
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;
  /** The fragments of a text message not complete yet, unmasked. */
  #message: Uint8Array = EMPTY;
  #messageLength = 0;
  #fragmented = false;
  #done = false;

  /** @param maxMessageBytes the largest text message accepted (its payload, in bytes) */
  constructor(maxMessageBytes: number) {
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new RangeError(
        `Invalid maxMessageBytes ${maxMessageBytes}: expected a positive integer`,
      );
    }
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Whether a frame or a fragmented message has begun and is not complete. */
  get midMessage(): boolean {
    return this.#pendingLength > 0 || this.#fragmented;
  }

  /**
   * Decodes `bytes[start, end)`, calling `handler` for each complete message and control frame.
   * May unmask those bytes in place.
   *
   * @returns null, or the failure after which the connection must be closed with its code
   */
  push(bytes: Uint8Array, start: number, end: number, handler: FrameHandler): FrameFailure | null {
    if (this.#done) return null;
    let data = bytes;
    let from = start;
    let to = end;
    if (this.#pendingLength > 0) {
      this.#append(bytes, start, end);
      data = this.#pending;
      from = 0;
      to = this.#pendingLength;
    }
    while (from < to && !this.#done) {
      const used = this.#frame(data, from, to, handler);
      if (typeof used !== "number") {
        this.#done = true;
        return used;
      }
      if (used === 0) break;
      from += used;
    }
    if (data === this.#pending) {
      this.#pending.copyWithin(0, from, to);
      this.#pendingLength = to - from;
      // A large frame's buffer is not kept for a connection that may stay idle for long.
      if (this.#pendingLength === 0 && this.#pending.length > 4096) this.#pending = EMPTY;
    } else if (from < to && !this.#done) {
      this.#pendingLength = 0;
      this.#append(data, from, to);
    }
    return null;
  }

  #append(bytes: Uint8Array, start: number, end: number): void {
    this.#pending = appendBytes(this.#pending, this.#pendingLength, bytes, start, end);
    this.#pendingLength += end - start;
  }

  /**
   * Decodes one frame at `data[from, to)`: the bytes it used, 0 when it is not complete yet, or
   * the failure. A frame's header is checked before its payload is waited for, so an oversize
   * or refused frame is never gathered.
   */
  #frame(data: Uint8Array, from: number, to: number, handler: FrameHandler): number | FrameFailure {
    if (to - from < 2) return 0;
    const b0 = data[from];
    const b1 = data[from + 1];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return protocolError("reserved bits set without an extension");
    if ((b1 & 0x80) === 0) return protocolError("client frames must be masked");
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (to - from < 4) return 0;
      length = (data[from + 2] << 8) | data[from + 3];
      header = 4;
    } else if (length === 127) {
      if (to - from < 10) return 0;
      if ((data[from + 2] & 0x80) !== 0) return protocolError("payload length over 2^63");
      length = (data[from + 2] * 2 ** 24 + (data[from + 3] << 16) + (data[from + 4] << 8) +
            data[from + 5]) * 2 ** 32 +
        (data[from + 6] * 2 ** 24 + (data[from + 7] << 16) + (data[from + 8] << 8) +
          data[from + 9]);
      header = 10;
    }
    const refused = this.#check(opcode, fin, length);
    if (refused !== null) return refused;
    const payloadStart = from + header + 4;
    if (to - payloadStart < length) return 0;
    unmask(data, from + header, payloadStart, payloadStart + length);
    const outcome = this.#deliver(opcode, fin, data, payloadStart, payloadStart + length, handler);
    return outcome ?? payloadStart + length - from;
  }

  /** Refuses a frame from its header alone. */
  #check(opcode: number, fin: boolean, length: number): FrameFailure | null {
    if (opcode >= Opcode.close) {
      if (opcode > Opcode.pong) return protocolError(`unknown opcode ${opcode}`);
      if (!fin) return protocolError("control frames must not be fragmented");
      if (length > MAX_CONTROL_PAYLOAD) return protocolError("control frame over 125 bytes");
      return null;
    }
    if (opcode === Opcode.binary) {
      return { code: CloseCode.unsupportedData, reason: "binary messages are not accepted" };
    }
    if (opcode !== Opcode.text && opcode !== Opcode.continuation) {
      return protocolError(`unknown opcode ${opcode}`);
    }
    if (opcode === Opcode.continuation && !this.#fragmented) {
      return protocolError("continuation frame without a message to continue");
    }
    if (opcode === Opcode.text && this.#fragmented) {
      return protocolError("new message before the fragmented one ended");
    }
    if (this.#messageLength + length > this.#maxMessageBytes) {
      return {
        code: CloseCode.messageTooBig,
        reason: `message over ${this.#maxMessageBytes} bytes`,
      };
    }
    return null;
  }

  #deliver(
    opcode: number,
    fin: boolean,
    data: Uint8Array,
    start: number,
    end: number,
    handler: FrameHandler,
  ): FrameFailure | null {
    switch (opcode) {
      case Opcode.ping:
        handler.ping(data.slice(start, end));
        return null;
      case Opcode.pong:
        handler.pong();
        return null;
      case Opcode.close:
        return this.#close(data, start, end, handler);
    }
    if (fin && !this.#fragmented) return this.#text(data, start, end, handler);
    this.#gather(data, start, end);
    this.#fragmented = !fin;
    if (!fin) return null;
    const length = this.#messageLength;
    this.#messageLength = 0;
    return this.#text(this.#message, 0, length, handler);
  }

  #gather(data: Uint8Array, start: number, end: number): void {
    this.#message = appendBytes(this.#message, this.#messageLength, data, start, end);
    this.#messageLength += end - start;
  }

  #text(data: Uint8Array, start: number, end: number, handler: FrameHandler): FrameFailure | null {
    if (!isUtf8(data, start, end)) {
      return { code: CloseCode.invalidPayload, reason: "text message is not valid UTF-8" };
    }
    handler.message(data, start, end);
    // A large message's buffer is not kept for a connection that may stay idle for long.
    if (this.#message.length > 4096) this.#message = EMPTY;
    return null;
  }

  #close(data: Uint8Array, start: number, end: number, handler: FrameHandler): FrameFailure | null {
    if (end - start === 1) return protocolError("close frame with a 1-byte payload");
    if (end === start) {
      this.#done = true;
      handler.close(null, "");
      return null;
    }
    const code = (data[start] << 8) | data[start + 1];
    if (!isValidCloseCode(code)) return protocolError(`invalid close code ${code}`);
    if (!isUtf8(data, start + 2, end)) {
      return { code: CloseCode.invalidPayload, reason: "close reason is not valid UTF-8" };
    }
    this.#done = true;
    handler.close(code, decoder.decode(data.subarray(start + 2, end)));
    return null;
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function protocolError(reason: string): FrameFailure {
  return { code: CloseCode.protocolError, reason };
}

/** Whether a peer may send `code` in a close frame (RFC 6455 section 7.4). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** XORs `data[start, end)` with the 4-byte mask at `data[maskAt]`. */
function unmask(data: Uint8Array, maskAt: number, start: number, end: number): void {
  const m0 = data[maskAt], m1 = data[maskAt + 1], m2 = data[maskAt + 2], m3 = data[maskAt + 3];
  let i = start;
  for (; i + 4 <= end; i += 4) {
    data[i] ^= m0;
    data[i + 1] ^= m1;
    data[i + 2] ^= m2;
    data[i + 3] ^= m3;
  }
  const mask = [m0, m1, m2, m3];
  for (let k = 0; i < end; i++, k++) data[i] ^= mask[k];
}

/** Whether `bytes[start, end)` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
export function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let code: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, code] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, code] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, code] = [3, 0x10000, b & 0x07];
    else return false;
    if (i + need >= end) return false;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return false;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

/** One unmasked server frame with `payload[start, end)`, FIN set. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  start = 0,
  end = payload.length,
): Uint8Array {
  const length = end - start;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(header + length);
  frame[0] = 0x80 | opcode;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    const high = Math.floor(length / 2 ** 32);
    new DataView(frame.buffer).setUint32(2, high);
    new DataView(frame.buffer).setUint32(6, length >>> 0);
  }
  frame.set(payload.subarray(start, end), header);
  return frame;
}

/**
 * A text frame carrying one reply or event line of the JSON-lines protocol, without the line's
 * trailing newline: a WebSocket message is already delimited.
 */
export function encodeLine(line: Uint8Array): Uint8Array {
  const end = line.length > 0 && line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
  return encodeFrame(Opcode.text, line, 0, end);
}

/** A close frame with `code` and a reason cut to fit a control frame's 125 bytes. */
export function encodeClose(code: number | null, reason = ""): Uint8Array {
  if (code === null) return encodeFrame(Opcode.close, EMPTY);
  let text = encoder.encode(reason);
  if (text.length > MAX_CONTROL_PAYLOAD - 2) {
    // Cut on a character boundary so the reason stays valid UTF-8.
    let cut = MAX_CONTROL_PAYLOAD - 2;
    while (cut > 0 && (text[cut] & 0xc0) === 0x80) cut--;
    text = text.subarray(0, cut);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(Opcode.close, payload);
}
