/**
 * What waits to be written to one connection, and the pooled buffers that let a burst of
 * replies go out as one write. Knows a `Deno.Conn` only as something to `write` to.
 *
 * @module
 */

/**
 * Buffers that gather the replies to one read into one write. A busy pipelining connection
 * would otherwise allocate (and zero) a fresh buffer per read; the pool is shared, so an idle
 * connection holds none.
 */
const GATHER_BYTES = 64 * 1024;
/**
 * Smaller batches get a fresh buffer of their own size. Measured with `deno task bench` at
 * 50 connections × 16 in flight: pooling batches of a few KiB in 64 KiB buffers cost more CPU
 * per reply than allocating them; pooling batches of ~55 KiB (`MARKET ALL`) took the server
 * from ~2.7 to ~1.6 µs of CPU per reply and removed its 100+ ms p99.9 outliers.
 */
const GATHER_MIN_BYTES = 32 * 1024;
const GATHER_POOL_MAX = 32;
const gatherPool: ArrayBuffer[] = [];
const gatherBuffers = new WeakSet<ArrayBuffer>();

/** Joins replies; a large batch lands in a pooled buffer, given back with `recycle`. */
export function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  let out: Uint8Array;
  if (total >= GATHER_MIN_BYTES && total <= GATHER_BYTES) {
    let buffer = gatherPool.pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(GATHER_BYTES);
      gatherBuffers.add(buffer);
    }
    out = new Uint8Array(buffer, 0, total);
  } else {
    out = new Uint8Array(total);
  }
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Gives a buffer from `concat` back to the pool; anything else (a pre-encoded reply) is left. */
function recycle(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer;
  if (gatherBuffers.has(buffer) && gatherPool.length < GATHER_POOL_MAX) gatherPool.push(buffer);
}

/** Where an outbox writes: a `Deno.Conn`, or anything else with its `write`. */
export interface Writer {
  /** Writes some of `bytes` and resolves with how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * The replies and events waiting to be written to one connection. Writes go out one at a time,
 * each carrying everything queued so far, so lines never interleave and a burst costs one write.
 */
export class Outbox {
  readonly #conn: Writer;
  readonly #onError: (error: unknown) => void;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #inFlight = 0;
  #writing = false;
  #failed = false;
  #idle: PromiseWithResolvers<void> | null = null;
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
    this.#progress?.resolve(true);
    this.#progress = null;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0 && !this.#failed) {
      const queue = this.#queue;
      const out = concat(queue, this.#queued);
      if (queue.length > 1) {
        for (const part of queue) recycle(part);
      }
      this.#queue = [];
      this.#inFlight = this.#queued;
      this.#queued = 0;
      this.writeStart = Date.now();
      try {
        for (let offset = 0; offset < out.length;) {
          const n = await this.#conn.write(out.subarray(offset));
          offset += n;
          this.#inFlight -= n;
          this.#wrote();
        }
      } catch (error) {
        this.#failed = true;
        this.#queue = [];
        this.#queued = 0;
        this.#onError(error);
      }
      // The write has settled, so the socket no longer reads from `out`.
      recycle(out);
      this.#inFlight = 0;
      this.writeStart = 0;
    }
    this.#writing = false;
    this.#idle?.resolve();
    this.#idle = null;
    this.#progress?.resolve(true);
    this.#progress = null;
  }
}
