/**
 * Splits an HTTP/1.x byte stream into request heads, holding at most {@linkcode MAX_HEAD_BYTES}
 * of an unfinished one. No request may carry a body, so each request is its head alone and
 * pipelined requests follow one another directly.
 *
 * @module
 */

import { type HeadError, parseRequestHead, type RequestHead } from "./request_head.ts";
import { equalsAt } from "../util/equals_at.ts";

/** The longest request head accepted (request line and headers); longer ones get 431. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** The longest request line accepted; longer ones get 414. */
export const MAX_REQUEST_LINE_BYTES = 4 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const latin1 = new TextDecoder("latin1");

/** Called with each request head in order, or with the error that ends the stream. */
export type OnHead = (head: RequestHead | HeadError) => void;

/** The incremental framer of one connection's request heads. */
export class HeadFramer {
  #pending = new Uint8Array(0);
  #length = 0;
  /** Where the search for the blank line resumes in `#pending`. */
  #scanned = 0;
  #failed = false;
  /**
   * The last head's bytes (blank line included) and what they parsed to. Clients that poll or
   * pipeline send the same head again and again; comparing bytes is cheaper than parsing.
   */
  #repeat = new Uint8Array(0);
  #repeatHead: RequestHead | null = null;

  /** Whether part of a request head has arrived and not all of it (what the request timeout measures). */
  get midRequest(): boolean {
    return this.#length > 0;
  }

  /**
   * Feeds `bytes[start, end)` and calls `onHead` for each complete head, in order. After an
   * error (passed to `onHead` too) the framer is spent and returns false from then on.
   */
  push(bytes: Uint8Array, start: number, end: number, onHead: OnHead): boolean {
    if (this.#failed) return false;
    let data = bytes;
    let from = start;
    let limit = end;
    if (this.#length > 0) {
      this.#append(bytes, start, end);
      data = this.#pending;
      from = 0;
      limit = this.#length;
    }
    let scan = this.#length > 0 ? this.#scanned : from;
    while (from < limit) {
      // Blank lines before a request line are skipped (RFC 9112 §2.2).
      if (data[from] === LF || data[from] === CR) {
        from++;
        scan = Math.max(scan, from);
        continue;
      }
      const repeat = this.#repeat;
      if (repeat.length > 0 && from + repeat.length <= limit && equalsAt(data, from, repeat)) {
        onHead(this.#repeatHead!);
        from += repeat.length;
        scan = from;
        continue;
      }
      const headEnd = findHeadEnd(data, Math.max(scan, from), limit);
      if (headEnd < 0) {
        const error = tooLong(data, from, limit);
        if (error !== null) return this.#fail(error, onHead);
        scan = Math.max(from, limit - 3);
        break;
      }
      const oversized = tooLong(data, from, headEnd);
      if (oversized !== null) return this.#fail(oversized, onHead);
      const head = parseRequestHead(latin1.decode(data.subarray(from, headEnd)));
      if (head.kind === "error") return this.#fail(head, onHead);
      this.#repeat = data.slice(from, headEnd);
      this.#repeatHead = head;
      onHead(head);
      from = headEnd;
      scan = from;
    }
    this.#keep(data, from, limit, scan);
    return true;
  }

  #keep(data: Uint8Array, from: number, limit: number, scan: number): void {
    const rest = limit - from;
    if (rest === 0) {
      this.#length = 0;
      if (this.#pending.length > 4096) this.#pending = new Uint8Array(0);
      return;
    }
    if (data === this.#pending) {
      this.#pending.copyWithin(0, from, limit);
      this.#length = rest;
    } else {
      this.#length = 0;
      this.#append(data, from, limit);
    }
    this.#scanned = scan - from;
  }

  #fail(error: HeadError, onHead: OnHead): false {
    this.#failed = true;
    this.#pending = new Uint8Array(0);
    this.#length = 0;
    onHead(error);
    return false;
  }

  #append(bytes: Uint8Array, start: number, end: number): void {
    const needed = this.#length + end - start;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.#pending.length * 2, 512));
      grown.set(this.#pending.subarray(0, this.#length));
      this.#pending = grown;
    }
    this.#pending.set(bytes.subarray(start, end), this.#length);
    this.#length = needed;
  }
}

/**
 * The index just past the blank line that ends a head in `data[from, limit)` (CRLF CRLF, LF LF
 * or a mix), or -1 when it has not arrived.
 */
function findHeadEnd(data: Uint8Array, from: number, limit: number): number {
  for (let i = data.indexOf(LF, from); i >= 0 && i < limit; i = data.indexOf(LF, i + 1)) {
    const next = i + 1;
    if (next < limit && data[next] === LF) return next + 1;
    if (next + 1 < limit && data[next] === CR && data[next + 1] === LF) return next + 2;
  }
  return -1;
}

/** The 414 or 431 for an unfinished head `data[from, limit)`, or null while it is within limits. */
function tooLong(data: Uint8Array, from: number, limit: number): HeadError | null {
  const lineEnd = data.indexOf(LF, from);
  const lineLength = (lineEnd < 0 || lineEnd >= limit ? limit : lineEnd) - from;
  if (lineLength > MAX_REQUEST_LINE_BYTES) {
    return {
      kind: "error",
      status: 414,
      message: `The request line is longer than ${MAX_REQUEST_LINE_BYTES} bytes`,
    };
  }
  if (limit - from > MAX_HEAD_BYTES) {
    return {
      kind: "error",
      status: 431,
      message: `The request head is longer than ${MAX_HEAD_BYTES} bytes`,
    };
  }
  return null;
}
