/**
 * Test support for the HTTP transport: parses raw HTTP/1.1 responses (as a client that is not
 * ours would), and feeds request text through the framer and responder in-process.
 *
 * @module
 */

import { HeadFramer } from "../../lib/http/head_framer.ts";
import { HttpResponder } from "../../lib/http/http_responder.ts";
import type { Answer } from "../../lib/server/market.ts";

/** One parsed response. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
  /** The whole response's bytes. */
  raw: Uint8Array;
}

const decoder = new TextDecoder();

/**
 * Splits `bytes` into responses; `bodyless` says, per response in order, whether it answers
 * HEAD (its Content-Length is then not followed by a body).
 */
export function parseResponses(bytes: Uint8Array, bodyless: boolean[] = []): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    let end = -1;
    for (let i = at; i + 3 < bytes.length; i++) {
      if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
        end = i + 4;
        break;
      }
    }
    if (end < 0) throw new TypeError(`Cannot parse a response: no head end after byte ${at}`);
    const lines = decoder.decode(bytes.subarray(at, end - 4)).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = bodyless[out.length] || status === 304 || status === 101
      ? 0
      : Number(headers.get("content-length") ?? 0);
    out.push({
      status,
      headers,
      body: bytes.slice(end, end + length),
      raw: bytes.slice(at, end + length),
    });
    at = end + length;
  }
  return out;
}

/** The text of a body. */
export function text(response: RawResponse): string {
  return decoder.decode(response.body);
}

/**
 * Frames `request` and answers each head with `responder`, as the session does, awaiting later
 * answers; returns the responses and whether the last answer closes the connection.
 */
export async function askInProcess(
  responder: HttpResponder,
  request: string,
  now = Date.now(),
): Promise<{ responses: RawResponse[]; close: boolean }> {
  const framer = new HeadFramer();
  const answers: Answer[] = [];
  const heads: boolean[] = [];
  const bytes = new TextEncoder().encode(request);
  framer.push(bytes, 0, bytes.length, (head) => {
    heads.push(head.kind === "head" && head.method === "HEAD");
    answers.push(head.kind === "head" ? responder.respond(head, now) : responder.refuse(head, now));
  });
  const chunks: Uint8Array[] = [];
  for (const answer of answers) chunks.push((answer.later ? await answer.later : answer).bytes);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return { responses: parseResponses(all, heads), close: answers.at(-1)?.close ?? false };
}

/** A raw TCP connection to an HTTP port, read by hand. */
export class RawHttp implements Disposable {
  readonly conn: Deno.TcpConn;
  #buffered = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawHttp> {
    return new RawHttp(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes `text` whole. */
  async send(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  /**
   * Reads until `count` responses are whole (or the peer closes), within `deadlineMs`;
   * `bodyless` as for {@linkcode parseResponses}.
   */
  async responses(count: number, bodyless: boolean[] = [], deadlineMs = 10_000) {
    const timer = setTimeout(() => this.conn.close(), deadlineMs);
    let closed = false;
    try {
      while (true) {
        try {
          const parsed = parseResponses(this.#buffered, bodyless);
          if (parsed.length >= count) return { responses: parsed, closed };
        } catch {
          // Not whole yet.
        }
        if (closed) throw new Error(`Peer closed after ${this.#buffered.length} bytes`);
        const chunk = new Uint8Array(65536);
        let n: number | null;
        try {
          n = await this.conn.read(chunk);
        } catch (error) {
          if (error instanceof Deno.errors.BadResource) {
            throw new Error(`No ${count} responses within ${deadlineMs} ms`);
          }
          n = null;
        }
        if (n === null) {
          closed = true;
          continue;
        }
        const grown = new Uint8Array(this.#buffered.length + n);
        grown.set(this.#buffered);
        grown.set(chunk.subarray(0, n), this.#buffered.length);
        this.#buffered = grown;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves with the bytes read once the peer closes; fails past `deadlineMs`. */
  async untilClosed(deadlineMs = 10_000): Promise<Uint8Array> {
    const timer = setTimeout(() => this.conn.close(), deadlineMs);
    const chunks: number[] = [...this.#buffered];
    try {
      const chunk = new Uint8Array(65536);
      while (true) {
        let n: number | null;
        try {
          n = await this.conn.read(chunk);
        } catch (error) {
          if (error instanceof Deno.errors.BadResource) {
            throw new Error(`Connection still open after ${deadlineMs} ms`);
          }
          return new Uint8Array(chunks);
        }
        if (n === null) return new Uint8Array(chunks);
        chunks.push(...chunk.subarray(0, n));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}
