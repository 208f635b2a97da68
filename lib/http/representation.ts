/**
 * One response body with everything derived from it computed once: its `ETag`, its gzip form and
 * the complete response bytes of each variant (HEAD or GET, gzip or not, 304, keep-alive or
 * close), kept for the current second, as `Date` and `Cache-Control: max-age` change with it.
 * A body built for a snapshot is answered from here for as long as the snapshot is served.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import type { Answer } from "../server/market.ts";
import type { ErrorCode } from "../wire/protocol.ts";

const encoder = new TextEncoder();

/** The reason phrases of the statuses this server sends. */
export const REASONS: Readonly<Record<number, string>> = {
  101: "Switching Protocols",
  200: "OK",
  304: "Not Modified",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  414: "URI Too Long",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Bodies shorter than this are sent as they are: gzip would not make them smaller. */
const GZIP_MIN_BYTES = 256;

/** How a request wants a representation. */
export interface Variant {
  readonly head: boolean;
  readonly gzip: boolean;
  readonly close: boolean;
  /** The request's `If-None-Match`, or undefined. */
  readonly ifNoneMatch: string | undefined;
}

/** Where the current second's `Date` value is kept: one `toUTCString` per second. */
let dateSecond = -1;
let dateText = "";

/** The `Date` header value for `now`. */
export function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** A status, content type, header lines and body, whose responses are built once per second. */
export class Representation {
  readonly status: number;
  readonly body: Uint8Array;
  /** A strong validator of the body, or null for bodies that are not cached. */
  readonly etag: string | null;
  readonly #headers: string;
  readonly #compressible: boolean;
  #gzipped: Uint8Array | null = null;
  #second = -1;
  #variants: (Answer | undefined)[] = [];

  /**
   * @param headers header lines after the status line, each ending in CRLF, other than `Date`,
   * `Content-Length`, `Content-Encoding`, `ETag`, `Connection` and `Cache-Control`
   * @param cacheable whether the body gets an `ETag` and a `max-age` (else `no-cache`)
   */
  constructor(status: number, headers: string, body: Uint8Array | string, cacheable: boolean) {
    this.status = status;
    this.body = typeof body === "string" ? encoder.encode(body) : body;
    this.#headers = headers;
    this.#compressible = this.body.length >= GZIP_MIN_BYTES;
    this.etag = cacheable ? `"${etagOf(this.body)}"` : null;
  }

  /** The response bytes for `variant` at `now`, as {@linkcode answer}. */
  response(variant: Variant, now: number, maxAge: number): Uint8Array {
    return this.answer(variant, now, maxAge, null, null).bytes;
  }

  /**
   * The answer for `variant` at `now`; `maxAge` is how many seconds the body stays current, used
   * when it is cacheable. The same object for the same variant within a second: a busy
   * keep-alive client costs no allocation per request here. `command` and `error` are what the
   * answer counts as; a representation always answers for the same ones.
   */
  answer(
    variant: Variant,
    now: number,
    maxAge: number,
    command: string | null,
    error: ErrorCode | null,
  ): Answer {
    const second = Math.floor(now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#variants = [];
    }
    const notModified = this.etag !== null && variant.ifNoneMatch !== undefined &&
      matches(variant.ifNoneMatch, this.etag);
    const gzip = variant.gzip && this.#compressible;
    const key = (variant.head ? 1 : 0) | (gzip ? 2 : 0) | (variant.close ? 4 : 0) |
      (notModified ? 8 : 0);
    return this.#variants[key] ??= {
      bytes: this.#build(variant, gzip, notModified, now, maxAge),
      close: variant.close,
      command,
      error,
    };
  }

  #build(
    variant: Variant,
    gzip: boolean,
    notModified: boolean,
    now: number,
    maxAge: number,
  ): Uint8Array {
    const body = gzip ? (this.#gzipped ??= new Uint8Array(gzipSync(this.body))) : this.body;
    const status = notModified ? 304 : this.status;
    let head = `HTTP/1.1 ${status} ${REASONS[status]}\r\nDate: ${httpDate(now)}\r\n` +
      this.#headers;
    if (this.etag !== null) {
      head += `ETag: ${this.etag}\r\nCache-Control: public, max-age=${Math.max(0, maxAge)}\r\n`;
    } else head += "Cache-Control: no-cache\r\n";
    if (this.#compressible) head += "Vary: Accept-Encoding\r\n";
    if (gzip && !notModified) head += "Content-Encoding: gzip\r\n";
    if (!notModified) head += `Content-Length: ${body.length}\r\n`;
    if (variant.close) head += "Connection: close\r\n";
    head += "\r\n";
    const headBytes = encoder.encode(head);
    if (variant.head || notModified) return headBytes;
    const bytes = new Uint8Array(headBytes.length + body.length);
    bytes.set(headBytes);
    bytes.set(body, headBytes.length);
    return bytes;
  }
}

/** Whether an `If-None-Match` value names `etag` (weak comparison, RFC 9110 §13.1.2). */
function matches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

/** FNV-1a of the body, 32 bits, with its length: distinct for every body a snapshot yields. */
function etagOf(body: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < body.length; i++) hash = Math.imul(hash ^ body[i], 0x01000193);
  return `${(hash >>> 0).toString(16)}-${body.length.toString(16)}`;
}
