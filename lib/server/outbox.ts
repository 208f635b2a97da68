/**
 * What waits to be written to one connection, and the pooled buffers that let a burst of
 * replies go out as one write. Knows a `Deno.Conn` only as something to `write` to.
 *
 * @module
 */

import { clearArray } from "../util/clear_array.ts";
import type { ByteWriter } from "../net/write_all.ts";

/**
 * Pooled buffers that gather a burst of replies into one write, in power-of-two size classes
 * from 4 KiB to 256 KiB; the pool is shared, so an idle connection holds none.
 *
 * Why every batch is pooled: a fresh buffer per batch is zeroed and page-faulted in, which is a
 * large share of the server's CPU for large replies, while the floor server allocates nothing
 * per read; size classes keep the pool full for small and large batches alike (see "The
 * connection split (issue 19)" in BENCHMARKS.md for the profile).
 */
const GATHER_MIN_BYTES = 4 * 1024;
const GATHER_MAX_BYTES = 256 * 1024;
/** The pool keeps at most this many bytes; past it, returned buffers are left to the GC. */
const GATHER_POOL_BYTES = 8 * 1024 * 1024;
/** Free buffers by size class: index k holds buffers of GATHER_MIN_BYTES << k bytes. */
const gatherPool: ArrayBuffer[][] = [];
for (let size = GATHER_MIN_BYTES; size <= GATHER_MAX_BYTES; size *= 2) gatherPool.push([]);
let gatherPooledBytes = 0;
const gatherBuffers = new WeakSet<ArrayBuffer>();

/** The size class of a batch of `total` bytes (at most GATHER_MAX_BYTES). */
function gatherClass(total: number): number {
  let k = 0;
  while (GATHER_MIN_BYTES << k < total) k++;
  return k;
}

/**
 * Replies this many times over, by reply: a batch that is one reply repeated (a client
 * pipelining one request) is written from here, as the benchmark's floor server writes its
 * replies, with no copy: joining a batch costs a copy of every reply in it. A batch of different
 * replies is still joined. Kept for the last few replies only, so at most
 * REPEAT_KEPT × REPEAT_COPIES × REPEAT_MAX_BYTES (2 MiB) is held.
 */
const repeats = new Map<Uint8Array, Uint8Array>();
const REPEAT_COPIES = 16;
const REPEAT_MAX_BYTES = 4096;
const REPEAT_KEPT = 32;

/** `reply` repeated `count` times, from a kept repeat, or null when not kept (or too large). */
function repeated(reply: Uint8Array, count: number): Uint8Array | null {
  if (count > REPEAT_COPIES || reply.length > REPEAT_MAX_BYTES) return null;
  let repeat = repeats.get(reply);
  if (repeat === undefined) {
    if (repeats.size >= REPEAT_KEPT) repeats.delete(repeats.keys().next().value!);
    repeat = new Uint8Array(reply.length * REPEAT_COPIES);
    repeat.set(reply);
    for (let filled = reply.length; filled < repeat.length; filled *= 2) {
      repeat.copyWithin(filled, 0, Math.min(filled, repeat.length - filled));
    }
    repeats.set(reply, repeat);
  }
  return repeat.subarray(0, reply.length * count);
}

/** Joins replies; the result may be a pooled buffer, to be given back with `recycle`. */
export function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  if (parts[0] === parts[parts.length - 1] && parts[0].length * parts.length === total) {
    // Perhaps one reply repeated: checked in full only then.
    let same = true;
    for (let i = 1; i < parts.length - 1 && same; i++) same = parts[i] === parts[0];
    const whole = same ? repeated(parts[0], parts.length) : null;
    if (whole !== null) return whole;
  }
  let out: Uint8Array;
  if (total <= GATHER_MAX_BYTES) {
    const k = gatherClass(total);
    let buffer = gatherPool[k].pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(GATHER_MIN_BYTES << k);
      gatherBuffers.add(buffer);
    } else {
      gatherPooledBytes -= buffer.byteLength;
    }
    out = new Uint8Array(buffer, 0, total);
  } else {
    out = new Uint8Array(total);
  }
  let offset = 0;
  for (let i = 0; i < parts.length;) {
    const part = parts[i];
    out.set(part, offset);
    // A run of the same reply (a client pipelining one request) is copied by doubling: 16
    // pipelined `MARKET BTC` replies take 5 copies instead of 16 (`set` is a call into the
    // runtime each time).
    let end = i + 1;
    while (end < parts.length && parts[end] === part) end++;
    const runBytes = (end - i) * part.length;
    for (let filled = part.length; filled < runBytes;) {
      const take = Math.min(filled, runBytes - filled);
      out.copyWithin(offset + filled, offset, offset + take);
      filled += take;
    }
    offset += runBytes;
    i = end;
  }
  return out;
}

/** Gives a buffer from `concat` back to the pool; anything else (a pre-encoded reply) is left. */
function recycle(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer;
  if (
    !gatherBuffers.has(buffer) || gatherPooledBytes + buffer.byteLength > GATHER_POOL_BYTES
  ) return;
  gatherPooledBytes += buffer.byteLength;
  gatherPool[gatherClass(buffer.byteLength)].push(buffer);
}

/** Where an outbox writes: a `Deno.Conn`, or anything else with its `write`. */
export type Writer = ByteWriter;

/**
 * The replies and events waiting to be written to one connection. Writes go out one at a time,
 * each carrying everything queued so far, so lines never interleave and a burst costs one write.
 */
export class Outbox {
  readonly #conn: Writer;
  readonly #onError: (error: unknown) => void;
  #queue: Uint8Array[] = [];
  #spare: Uint8Array[] = [];
  #queued = 0;
  #inFlight = 0;
  #writing = false;
  #failed = false;
  #idle: PromiseWithResolvers<void> | null = null;
  /** The batch of {@linkcode write} its caller is awaiting, or null. */
  #current: Uint8Array | null = null;
  #progress: PromiseWithResolvers<boolean> | null = null;
  /** ms when the write in flight began or last made progress, or 0. */
  writeStart = 0;

  /** @param onError called once, with the error of the first write that fails */
  constructor(conn: Writer, onError: (error: unknown) => void) {
    this.#conn = conn;
    this.#onError = onError;
  }

  /** Bytes accepted but not yet written to the socket. */
  get unsent(): number {
    return this.#queued + this.#inFlight;
  }

  /** Queues bytes; they go out with the next write. After a failed write, bytes are dropped. */
  send(bytes: Uint8Array): void {
    if (this.#failed || bytes.length === 0) return;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing) this.#flush();
  }

  /**
   * Queues several replies to go out as one write: the outbox joins them once, when it writes.
   * The caller may reuse `parts` once this returns.
   */
  sendAll(parts: readonly Uint8Array[], total: number): void {
    if (this.#failed || total === 0) return;
    for (const part of parts) this.#queue.push(part);
    this.#queued += total;
    if (!this.#writing) this.#flush();
  }

  /**
   * Starts writing `parts` as one batch when nothing is being written, and returns the write for
   * the caller (the connection's reader) to await before it reads on, as the floor server does;
   * the caller then hands its outcome to {@linkcode wrote} or {@linkcode writeFailed}. Returns
   * null when a write is already in flight (the parts are queued to follow it) or writing
   * failed. Why the reader awaits: a background writer costs an async function and its promise
   * per batch, and the next read issued while the write is pending, for no gain in throughput.
   *
   * @param now the caller's clock reading, kept as the time the write began
   */
  write(parts: readonly Uint8Array[], total: number, now: number): Promise<number> | null {
    if (this.#writing || this.#failed) {
      this.sendAll(parts, total);
      return null;
    }
    if (total === 0) return null;
    this.#writing = true;
    const out = concat(parts, total);
    this.#current = out;
    this.#inFlight = total;
    this.writeStart = now;
    return this.#conn.write(out);
  }

  /**
   * Takes the outcome of the write {@linkcode write} returned: what it did not take, and what
   * was queued meanwhile, go out in the background.
   */
  wrote(n: number): void {
    const out = this.#current!;
    this.#current = null;
    this.#inFlight -= n;
    if (n < out.length) {
      this.#wrote();
      this.#flush(out, n);
      return;
    }
    recycle(out);
    this.#inFlight = 0;
    this.writeStart = 0;
    this.#progressMade();
    if (this.#queue.length > 0) this.#flush();
    else this.#settled();
  }

  /** Takes the failure of the write {@linkcode write} returned. */
  writeFailed(error: unknown): void {
    const out = this.#current!;
    this.#current = null;
    this.#fail(error);
    recycle(out);
    this.#inFlight = 0;
    this.writeStart = 0;
    this.#settled();
  }

  /** Resolves once everything queued has been written, or writing failed. */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /**
   * Resolves true when the socket next takes some bytes, or false after `stallMs` without any:
   * tells a client that reads slowly from one that does not read.
   */
  progressed(stallMs: number): Promise<boolean> {
    if (!this.#writing) return Promise.resolve(true);
    this.#progress ??= Promise.withResolvers<boolean>();
    const { promise } = this.#progress;
    let timer: ReturnType<typeof setTimeout>;
    const stalled = new Promise<boolean>((resolve) =>
      timer = setTimeout(() => resolve(false), stallMs)
    );
    return Promise.race([promise, stalled]).finally(() => clearTimeout(timer));
  }

  #wrote(): void {
    this.writeStart = Date.now();
    this.#progressMade();
  }

  #progressMade(): void {
    this.#progress?.resolve(true);
    this.#progress = null;
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#onError(error);
  }

  #settled(): void {
    this.#writing = false;
    this.#idle?.resolve();
    this.#idle = null;
    this.#progress?.resolve(true);
    this.#progress = null;
  }

  /** Writes everything queued, after the rest of `first` from `offset` when given. */
  async #flush(first?: Uint8Array, offset = 0): Promise<void> {
    this.#writing = true;
    let out = first;
    while (!this.#failed) {
      if (out === undefined) {
        if (this.#queue.length === 0) break;
        const queue = this.#queue;
        // Queued parts are replies and events, never pooled buffers: only `out` goes back.
        out = concat(queue, this.#queued);
        // The two queues take turns, so a busy connection allocates no array per write.
        this.#queue = this.#spare;
        clearArray(queue);
        this.#spare = queue;
        this.#inFlight = this.#queued;
        this.#queued = 0;
        this.writeStart = Date.now();
      }
      try {
        while (offset < out.length) {
          const n = await this.#conn.write(offset === 0 ? out : out.subarray(offset));
          offset += n;
          this.#inFlight -= n;
          // A write that took everything needs no new clock reading: writeStart goes to 0 below.
          if (offset < out.length) this.#wrote();
          else this.#progressMade();
        }
      } catch (error) {
        this.#fail(error);
      }
      // The write has settled, so the socket no longer reads from `out`.
      recycle(out);
      out = undefined;
      offset = 0;
      this.#inFlight = 0;
      this.writeStart = 0;
    }
    this.#settled();
  }
}
