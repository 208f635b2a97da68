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
