/**
 * The request framer: splits the bytes a connection receives into requests. Nothing here touches
 * a socket, so all of it is tested directly.
 *
 * A request ends at a newline (JSON lines), or at the brace that closes the top-level object it
 * starts with. The second rule answers the original Python client, which sends
 * `json.dumps(request)` with no terminator and then waits for the reply.
 *
 * @module
 */

import { equalsAt } from "../util/equals_at.ts";
import { MAX_REQUEST_BYTES } from "./limits.ts";

/** The byte that ends a request line. */
export const NEWLINE = 0x0a;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The held buffer a framer keeps between requests; a larger one is let go once empty. */
const KEPT_BUFFER_BYTES = 4096;

/** Where the framer is inside the request it has not finished yet. */
const enum Scan {
  /** Only whitespace so far. */
  Leading,
  /** Inside a top-level object, outside any string. */
  Object,
  /** Inside a string inside the object. */
  String,
  /** Just after a backslash inside a string. */
  Escape,
  /** A request that does not start with `{`: it ends at the newline. */
  Line,
}

/** Bytes that leave the scan state as it is: 1 = skip. Inside a string: all but `"`, `\\`, newline. */
const PLAIN_IN_STRING = new Uint8Array(256).fill(1);
PLAIN_IN_STRING[QUOTE] = PLAIN_IN_STRING[BACKSLASH] = PLAIN_IN_STRING[NEWLINE] = 0;
/** Inside an object, outside strings: all but `"`, `{`, `}`, newline. */
const PLAIN_IN_OBJECT = new Uint8Array(256).fill(1);
PLAIN_IN_OBJECT[QUOTE] =
  PLAIN_IN_OBJECT[OPEN_BRACE] =
  PLAIN_IN_OBJECT[CLOSE_BRACE] =
  PLAIN_IN_OBJECT[NEWLINE] =
    0;

/**
 * Called by {@linkcode RequestFramer.push} with each request, `bytes[start, end)`. `repeat` is
 * true when the request is byte for byte the previous one, known without comparing them again:
 * the caller may give the same answer. False says nothing: the bytes may still be the same.
 */
export type OnRequest = (bytes: Uint8Array, start: number, end: number, repeat: boolean) => void;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === CR;
}

/**
 * Splits a byte stream into requests, holding at most {@linkcode MAX_REQUEST_BYTES} of an
 * unfinished request. Scanning resumes where it stopped, so a request split into many
 * segments costs no more than one that arrives whole.
 */
export class RequestFramer {
  readonly maxBytes: number;
  #pending: Uint8Array = new Uint8Array(0);
  #pendingLength = 0;
  #scan: Scan = Scan.Leading;
  #depth = 0;
  #overflowed = false;
  /** A copy of the last request that was a whole object, or empty. */
  #repeat: Uint8Array = new Uint8Array(0);
  /** Whether the request passed on last was `#repeat`. */
  #lastWasRepeat = false;

  /** @param maxBytes the longest request accepted; longer ones overflow the framer */
  constructor(maxBytes: number = MAX_REQUEST_BYTES) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`Invalid maxBytes ${maxBytes}: expected a positive integer`);
    }
    this.maxBytes = maxBytes;
  }

  /** Whether a request has started (a byte other than whitespace arrived) and not ended yet. */
  get inRequest(): boolean {
    return this.#scan !== Scan.Leading;
  }

  /**
   * Feeds one chunk and calls `onRequest` for each complete request, in order: the request is
   * `bytes[start, end)`, valid only during the call (a range, not a view, so that a request
   * answered from a cache allocates nothing). Blank requests are skipped.
   *
   * @returns false when a request grew past the cap; the framer is then spent and must not be fed
   */
  push(chunk: Uint8Array, onRequest: OnRequest): boolean {
    if (this.#overflowed) throw new TypeError("Cannot push to a framer that overflowed");
    const from = this.#pendingLength;
    const data = from === 0 ? chunk : this.#joined(chunk);
    const start = this.#frame(data, from, onRequest);
    // The common read ends with its last request: nothing to keep, and no call to keep it.
    if (start === data.length && this.#pending.length <= KEPT_BUFFER_BYTES) {
      this.#pendingLength = 0;
      return true;
    }
    return start >= 0 && this.#keep(data, start, chunk);
  }

  /** The held bytes followed by `chunk`, in the held buffer. */
  #joined(chunk: Uint8Array): Uint8Array {
    this.#append(chunk);
    return this.#pending.subarray(0, this.#pendingLength);
  }

  /**
   * Passes on every request complete in `data`, scanning from `from` in the saved state.
   *
   * @returns where the unfinished rest of `data` starts, or -1 when a request overflowed
   */
  #frame(data: Uint8Array, from: number, onRequest: OnRequest): number {
    let start = 0;
    let scan = this.#scan;
    let depth = this.#depth;
    const length = data.length;
    for (let i = from; i < length; i++) {
      // Skip the bytes that cannot change the state in one tight loop: most of a request is
      // inside strings, and a pass through the switch per byte costs more.
      if (scan === Scan.String) {
        while (i < length && PLAIN_IN_STRING[data[i]] === 1) i++;
        if (i === length) break;
      } else if (scan === Scan.Object) {
        while (i < length && PLAIN_IN_OBJECT[data[i]] === 1) i++;
        if (i === length) break;
      } else if (scan === Scan.Line) {
        i = data.indexOf(NEWLINE, i);
        if (i < 0) break;
      }
      const b = data[i];
      if (b === NEWLINE) {
        if (scan !== Scan.Leading && !this.#emit(data, start, i, onRequest)) return -1;
        start = i + 1;
        scan = Scan.Leading;
        depth = 0;
        continue;
      }
      switch (scan) {
        case Scan.Leading:
          if (isSpace(b)) {
            start = i + 1;
          } else if (b === OPEN_BRACE) {
            const end = this.#repeatEnd(data, i);
            if (end > 0) {
              onRequest(data, i, end, this.#lastWasRepeat);
              this.#lastWasRepeat = true;
              start = end;
              i = end - 1;
              continue;
            }
            scan = Scan.Object;
            depth = 1;
          } else {
            scan = Scan.Line;
          }
          break;
        case Scan.Object:
          if (b === QUOTE) {
            scan = Scan.String;
          } else if (b === OPEN_BRACE) {
            depth++;
          } else if (b === CLOSE_BRACE && --depth === 0) {
            if (!this.#emitObject(data, start, i + 1, onRequest)) return -1;
            start = i + 1;
            scan = Scan.Leading;
          }
          break;
        case Scan.String:
          if (b === BACKSLASH) scan = Scan.Escape;
          else if (b === QUOTE) scan = Scan.Object;
          break;
        case Scan.Escape:
          scan = Scan.String;
          break;
      }
    }
    this.#scan = scan;
    this.#depth = depth;
    return start;
  }

  /**
   * Where the request starting with the `{` at `i` ends when it repeats the last object request
   * whole, or -1. Scanning the same bytes from the same state ends at the same `}`, and polling
   * or pipelining clients repeat theirs: comparing is cheaper than scanning.
   */
  #repeatEnd(data: Uint8Array, i: number): number {
    const repeat = this.#repeat;
    return repeat.length > 0 && equalsAt(data, i, repeat) ? i + repeat.length : -1;
  }

  /** Passes on the whole object `data[start, end)` and remembers it for {@linkcode #repeatEnd}. */
  #emitObject(data: Uint8Array, start: number, end: number, onRequest: OnRequest): boolean {
    if (!this.#emit(data, start, end, onRequest)) return false;
    if (this.#repeat.length !== end - start || !equalsAt(data, start, this.#repeat)) {
      this.#repeat = data.slice(start, end);
    }
    this.#lastWasRepeat = true;
    return true;
  }

  #emit(data: Uint8Array, start: number, end: number, onRequest: OnRequest): boolean {
    if (end > start && data[end - 1] === CR) end--;
    if (end - start > this.maxBytes) return this.#overflow();
    this.#lastWasRepeat = false;
    onRequest(data, start, end, false);
    return true;
  }

  /** Holds `data[start, ...)`, the unfinished request, for the next push; false if too long. */
  #keep(data: Uint8Array, start: number, chunk: Uint8Array): boolean {
    const rest = data.length - start;
    // One byte of slack: a request of exactly the cap may be waiting for the \n after its \r.
    if (rest > this.maxBytes + 1) return this.#overflow();
    if (rest === 0) {
      this.#pendingLength = 0;
    } else if (data === chunk) {
      this.#pendingLength = 0;
      this.#append(chunk.subarray(start));
    } else {
      this.#pending.copyWithin(0, start, data.length);
      this.#pendingLength = rest;
    }
    // A connection that once sent a long request should not pin its buffer forever.
    if (this.#pendingLength === 0 && this.#pending.length > KEPT_BUFFER_BYTES) {
      this.#pending = new Uint8Array(0);
    }
    return true;
  }

  #overflow(): false {
    this.#overflowed = true;
    this.#pending = new Uint8Array(0);
    this.#pendingLength = 0;
    return false;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#pendingLength + bytes.length;
    if (needed > this.#pending.length) {
      // Grow geometrically but never far past the cap plus one chunk.
      const size = Math.max(
        needed,
        Math.min(this.#pending.length * 2, this.maxBytes + bytes.length),
      );
      const grown = new Uint8Array(Math.max(size, 256));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = needed;
  }
}
