/**
 * A raw WebSocket client over TCP for tests that need what browsers never send (unmasked or
 * oversize frames) or never do (not reading): frames in and out, with deadlines.
 *
 * @module
 */

import { READ_DEADLINE_MS, withDeadline } from "../helpers.ts";
import {
  clientFrame,
  closePayload,
  parseServerFrames,
  type ServerFrame,
} from "./_client_frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One raw WebSocket connection. */
export class RawWebSocket implements AsyncDisposable {
  readonly conn: Deno.Conn;
  #pending: Uint8Array = new Uint8Array(0);
  readonly #frames: ServerFrame[] = [];
  readonly #chunk = new Uint8Array(64 * 1024);
  #ended = false;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /**
   * Connects to `port`; with `path`, does the HTTP upgrade handshake first (the listener speaks
   * HTTP), otherwise the listener speaks WebSocket from the first byte.
   */
  static async connect(port: number, path?: string): Promise<RawWebSocket> {
    const socket = new RawWebSocket(await Deno.connect({ hostname: "127.0.0.1", port }));
    if (path !== undefined) await socket.#handshake(path, port);
    return socket;
  }

  async #handshake(path: string, port: number): Promise<void> {
    await this.send(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    );
    let bytes = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const n = await this.#read("the handshake's answer");
      if (n === null) throw new Error(`Connection closed during the handshake`);
      const joined = new Uint8Array(bytes.length + n);
      joined.set(bytes);
      joined.set(this.#chunk.subarray(0, n), bytes.length);
      bytes = joined;
      end = decoder.decode(bytes).indexOf("\r\n\r\n");
    }
    // The answer's head is ASCII, so its characters are its bytes.
    const head = decoder.decode(bytes.subarray(0, end));
    this.#pending = bytes.slice(end + 4);
    if (!head.startsWith("HTTP/1.1 101")) throw new Error(`Upgrade refused: ${head}`);
  }

  /** Sends bytes as they are. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Sends one masked text message. */
  sendText(text: string): Promise<void> {
    return this.send(clientFrame(0x1, text));
  }

  async #read(what: string): Promise<number | null> {
    return await withDeadline(this.conn.read(this.#chunk), what, READ_DEADLINE_MS);
  }

  /** The next server frame, or null once the server closed the connection. */
  async frame(): Promise<ServerFrame | null> {
    while (this.#frames.length === 0) {
      const { frames, rest } = parseServerFrames(this.#pending);
      this.#frames.push(...frames);
      this.#pending = rest;
      if (this.#frames.length > 0 || this.#ended) break;
      let n: number | null;
      try {
        n = await this.#read("a frame");
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionReset) n = null;
        else throw error;
      }
      if (n === null) {
        this.#ended = true;
        break;
      }
      const joined = new Uint8Array(this.#pending.length + n);
      joined.set(this.#pending);
      joined.set(this.#chunk.subarray(0, n), this.#pending.length);
      this.#pending = joined;
    }
    return this.#frames.shift() ?? null;
  }

  /** The next text message, parsed; fails on any other frame. */
  async json(): Promise<Record<string, unknown>> {
    const frame = await this.frame();
    if (frame === null) throw new Error("Connection closed before a message arrived");
    if (frame.opcode !== 0x1) throw new Error(`Expected a text frame, got opcode ${frame.opcode}`);
    return JSON.parse(decoder.decode(frame.payload));
  }

  /** Reads up to the close frame; its code and reason, then whether the socket ended after. */
  async closeFrame(): Promise<{ code: number | null; reason: string; ended: boolean }> {
    for (let frame = await this.frame(); frame !== null; frame = await this.frame()) {
      if (frame.opcode !== 0x8) continue;
      const close = closePayload(frame.payload);
      return { ...close, ended: (await this.frame()) === null };
    }
    throw new Error("Connection closed without a close frame");
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    return Promise.resolve();
  }
}
