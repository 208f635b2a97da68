/**
 * Client-side WebSocket frames for tests: masked as RFC 6455 requires of clients, or deliberately
 * not, to see the server refuse them.
 *
 * @module
 */

/** One client frame; `mask: false` sends it unmasked, which servers must refuse. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  options: { fin?: boolean; mask?: boolean; rsv?: number } = {},
): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const { fin = true, mask = true, rsv = 0 } = options;
  const length = bytes.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = 2 + lengthBytes + (mask ? 4 : 0);
  const frame = new Uint8Array(header + length);
  frame[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const view = new DataView(frame.buffer);
  if (lengthBytes === 0) frame[1] = length;
  else if (lengthBytes === 2) {
    frame[1] = 126;
    view.setUint16(2, length);
  } else {
    frame[1] = 127;
    view.setBigUint64(2, BigInt(length));
  }
  if (!mask) {
    frame.set(bytes, header);
    return frame;
  }
  frame[1] |= 0x80;
  const key = crypto.getRandomValues(new Uint8Array(4));
  frame.set(key, header - 4);
  for (let i = 0; i < length; i++) frame[header + i] = bytes[i] ^ key[i & 3];
  return frame;
}

/** A server frame read back: opcode, FIN, payload. */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** Splits unmasked server frames out of `bytes`; returns the frames and the bytes left over. */
export function parseServerFrames(bytes: Uint8Array): { frames: ServerFrame[]; rest: Uint8Array } {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (bytes.length - at >= 2) {
    let length = bytes[at + 1] & 0x7f;
    let header = 2;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    if (length === 126) {
      if (bytes.length - at < 4) break;
      length = view.getUint16(at + 2);
      header = 4;
    } else if (length === 127) {
      if (bytes.length - at < 10) break;
      length = Number(view.getBigUint64(at + 2));
      header = 10;
    }
    if (bytes[at + 1] & 0x80) throw new Error("Cannot parse a server frame: it is masked");
    if (bytes.length - at - header < length) break;
    frames.push({
      fin: (bytes[at] & 0x80) !== 0,
      opcode: bytes[at] & 0x0f,
      payload: bytes.slice(at + header, at + header + length),
    });
    at += header + length;
  }
  return { frames, rest: bytes.slice(at) };
}

/** The code and reason of a close frame's payload. */
export function closePayload(payload: Uint8Array): { code: number | null; reason: string } {
  if (payload.length < 2) return { code: null, reason: "" };
  return {
    code: (payload[0] << 8) | payload[1],
    reason: new TextDecoder().decode(payload.subarray(2)),
  };
}
