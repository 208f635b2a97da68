/**
 * What waits to be written to one connection, and the pooled buffers that let a burst of
 * replies go out as one write. Knows a `Deno.Conn` only as something to `write` to.
 *
 * @module
 */

/**
 * Pooled buffers that gather a burst of replies into one write, in power-of-two size classes
 * from 4 KiB to 256 KiB; the pool is shared, so an idle connection holds none.
 *
 * Why every batch is pooled: `perf record` of the server at 50 connections × 16 requests in
 * flight (`deno task bench`) showed ~28% of its CPU time zeroing fresh buffers (`memset`) and
 * taking page faults on them (glibc growing and trimming its heap), for `MARKET ALL` (~38 KiB a
 * read); the floor server allocates nothing per read. The previous pool held 32 buffers of
 * 64 KiB for batches of 32 to 64 KiB only: with 50 busy connections it was empty half the time,
 * which is why pooling small batches in it had measured slower than allocating them.
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

/** Joins replies; the result may be a pooled buffer, to be given back with `recycle`. */
export function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
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
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
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
  #spare: Uint8Array[] = [];
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

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0 && !this.#failed) {
      const queue = this.#queue;
      // Queued parts are replies and events, never pooled buffers: only `out` goes back.
      const out = concat(queue, this.#queued);
      // The two queues take turns, so a busy connection allocates no array per write.
      this.#queue = this.#spare;
      queue.length = 0;
      this.#spare = queue;
      this.#inFlight = this.#queued;
      this.#queued = 0;
      this.writeStart = Date.now();
      try {
        for (let offset = 0; offset < out.length;) {
          const n = await this.#conn.write(offset === 0 ? out : out.subarray(offset));
          offset += n;
          this.#inFlight -= n;
          // A write that took everything needs no new clock reading: writeStart goes to 0 below.
          if (offset < out.length) this.#wrote();
          else this.#progressMade();
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
