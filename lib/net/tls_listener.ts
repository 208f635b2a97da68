/**
 * A TLS listener whose unfinished handshakes can be dropped and whose descriptors stay bounded:
 * `Deno.listen` accepts the TCP connections, paced, and `node:tls` server sockets run TLS over
 * them; offered to {@linkcode PriceServer} as connections with the `Deno.Conn` methods it uses.
 *
 * Why not `Deno.listenTls`: closing one of its connections waits for the handshake, so a peer
 * that never sends a ClientHello keeps its descriptor however the server times it out.
 * `node:tls` createServer's `handshakeTimeout` keeps them too.
 *
 * Why not a `node:net` server under the `node:tls` sockets: it takes every connection waiting in
 * the kernel as soon as it can (Deno's libuv port drains the accept queue into a list of its
 * own), so a flood is accepted and then dropped, and descriptors overshoot the cap while the
 * dropped ones are let go. Here `accept()` is called only while fewer than `maxSockets` are
 * open: the rest wait in the kernel's listen backlog, which holds none of our descriptors, so a
 * flood peaks at cap + TLS_SOCKET_MARGIN. (The measurements behind both are in BENCHMARKS.md,
 * "The connection split (issue 19)".)
 *
 * The plain TCP path keeps `Deno.listen` without TLS, which is faster.
 *
 * @module
 */

import { Duplex } from "node:stream";
import type net from "node:net";
import tls from "node:tls";
import type { Conn, Listener } from "./conn.ts";
import { handshakeToDrop } from "./handshake_eviction.ts";
import { writeAll } from "./write_all.ts";

/** Options of {@linkcode listenTlsSockets}. */
export interface TlsListenOptions {
  hostname: string;
  port: number;
  /** Share the port with other processes (SO_REUSEPORT); needs Deno's `--unstable-net`. */
  reusePort?: true;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /**
   * Sockets open at once, each counted from its accept until its descriptor is really gone (a
   * socket closed while a read or write is pending lets go of it once that is cancelled). At
   * this many, no connection is accepted until one is gone: the bound on descriptors however
   * fast clients arrive.
   */
  maxSockets: number;
  /** Where the listener says that the process's descriptor limit is below `maxSockets`. */
  log?: (line: string) => void;
}

/**
 * Sockets beyond the connection cap the TLS listener accepts: room for connections the server
 * is closing (a `BUSY` reply takes up to a second to go out; a dropped handshake's descriptor is
 * gone within a turn of the event loop). At `--max-connections` + this many the listener stops
 * accepting until one is gone, so this is also the most descriptors a flood adds beyond the cap.
 */
export const TLS_SOCKET_MARGIN = 16;

/**
 * Descriptors left to the rest of the server (database, workers, upstream requests) when the
 * process's descriptor limit (`ulimit -n`) turns out to be lower than `maxSockets`.
 */
const FD_RESERVE = 32;

/** First read buffer of a connection; one that a read fills is replaced by a larger one. */
const SMALL_READ = 2 * 1024;
/** Largest read buffer: one TLS record and its overhead. */
const LARGE_READ = 17 * 1024;
/** Received bytes held per connection before the socket is paused until `read()` takes them. */
const READ_HIGH_WATER = 64 * 1024;

/**
 * Starts listening for TLS connections. The server owns the listener: `accept()` hands out
 * connections whose handshake has not begun to be awaited; `handshake()` waits for it, and
 * `close()` (e.g. at the handshake deadline) releases the socket at once.
 *
 * @throws {Error} when the address cannot be bound or the certificate and key do not fit
 */
export function listenTlsSockets(options: TlsListenOptions): Listener {
  const secureContext = tls.createSecureContext({ cert: options.cert, key: options.key });
  const { hostname, port, reusePort } = options;
  const tcp = Deno.listen({ hostname, port, ...(reusePort ? { reusePort } : {}) });
  const log = options.log ?? (() => {});
  return new TlsSocketListener(tcp, secureContext, options.maxSockets, log);
}

/** Whether an accept failed for want of descriptors (EMFILE, ENFILE). */
function isOutOfDescriptors(error: unknown): boolean {
  return error instanceof Error && /\(os error 2[34]\)/.test(error.message);
}

class TlsSocketListener implements Listener {
  readonly #tcp: Deno.TcpListener;
  readonly #context: tls.SecureContext;
  readonly #log: (line: string) => void;
  /** Sockets open at once: `maxSockets`, or less once the descriptor limit proved lower. */
  #limit: number;
  /** Whether the limit was lowered below `maxSockets`. */
  #lowered = false;
  /** Sockets accepted whose descriptor is not gone yet. */
  #sockets = 0;
  /** Connections whose handshake is neither done nor dropped, oldest first. */
  readonly #handshaking = new Set<TlsSocketConn>();
  #room: PromiseWithResolvers<void> | null = null;
  #closed = false;

  constructor(
    tcp: Deno.TcpListener,
    context: tls.SecureContext,
    maxSockets: number,
    log: (line: string) => void,
  ) {
    this.#tcp = tcp;
    this.#context = context;
    this.#limit = maxSockets;
    this.#log = log;
  }

  get addr(): Deno.NetAddr {
    return this.#tcp.addr;
  }

  async accept(): Promise<Conn> {
    while (true) {
      while (this.#sockets >= this.#limit && !this.#closed) {
        // Not accepting is the bound: newcomers wait in the kernel's backlog meanwhile.
        this.#room = Promise.withResolvers();
        await this.#room.promise;
      }
      if (this.#closed) throw new Deno.errors.BadResource("The TLS listener is closed");
      let tcp;
      try {
        tcp = await this.#tcp.accept();
      } catch (error) {
        // The newcomer stays in the kernel's backlog. With the descriptor limit below the
        // connection cap, the server's own rule (drop a handshake at the cap) never comes into
        // play, so the listener keeps a reserve for the rest of the server and drops one here.
        if (!isOutOfDescriptors(error) || !this.#lower(error as Error)) throw error;
        continue;
      }
      this.#sockets++;
      const conn = new TlsSocketConn(tcp, this.#context, () => {
        this.#sockets--;
        this.#wake();
      });
      this.#handshaking.add(conn);
      conn.handshake().finally(() => this.#handshaking.delete(conn)).catch(() => {});
      // At a limit lowered below the cap, each newcomer makes room as the server does at the cap.
      if (this.#lowered && this.#sockets >= this.#limit) this.#dropHandshake();
      return conn;
    }
  }

  /**
   * Lowers the limit below the descriptors open now, after an accept ran out of them, and drops
   * unfinished handshakes down to it to make room. False when there was none to drop.
   */
  #lower(error: Error): boolean {
    const limit = Math.max(1, this.#sockets - FD_RESERVE);
    if (limit < this.#limit) {
      this.#limit = limit;
      this.#lowered = true;
      // The server holds a few dozen descriptors of its own (runtime, database, workers); with
      // the margin and the reserve, the cap fits in cap + 100.
      this.#log(
        `accept failed: ${error.message}; serving at most ${limit} TLS sockets at once ` +
          "(raise the descriptor limit, ulimit -n, to --max-connections + 100 or more)",
      );
    }
    // Down to the limit at once, so the next newcomer is not kept waiting for the deadline.
    let dropped = 0;
    while (this.#sockets - dropped >= this.#limit && this.#dropHandshake()) dropped++;
    return dropped > 0;
  }

  /** Closes the unfinished handshake that {@linkcode handshakeToDrop} picks. */
  #dropHandshake(): boolean {
    const oldest = handshakeToDrop(
      this.#handshaking,
      (conn) => !conn.closed,
      (conn) => conn.helloAnswered(),
    );
    if (oldest === undefined) return false;
    this.#handshaking.delete(oldest);
    oldest.close();
    return true;
  }

  #wake(): void {
    const room = this.#room;
    this.#room = null;
    room?.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#tcp.close();
    this.#wake();
  }
}

/**
 * A `node:stream` Duplex over a `Deno.TcpConn`, for a `node:tls` server socket to run on. It
 * knows when the connection's descriptor is gone: once it is closed and no read, write or
 * shutdown of it is pending (Deno releases a resource when its cancelled operations end).
 */
class TcpDuplex extends Duplex {
  readonly #tcp: Deno.TcpConn;
  readonly #onGone: () => void;
  #buffer = new Uint8Array(SMALL_READ);
  #pending = 0;
  /** Whether anything was written: for a TLS server, the answer to the ClientHello. */
  wrote = false;
  #closed = false;
  #gone = false;

  constructor(tcp: Deno.TcpConn, onGone: () => void) {
    super();
    this.#tcp = tcp;
    this.#onGone = onGone;
  }

  /** Counts `op` as pending until it settles. */
  #track<T>(op: Promise<T>): Promise<T> {
    this.#pending++;
    return op.finally(() => {
      this.#pending--;
      this.#checkGone();
    });
  }

  #checkGone(): void {
    if (this.#closed && this.#pending === 0 && !this.#gone) {
      this.#gone = true;
      this.#onGone();
    }
  }

  override _read(): void {
    if (this.#closed) return;
    const buffer = this.#buffer;
    this.#track(this.#tcp.read(buffer)).then((n) => {
      if (n === null) {
        this.push(null);
        return;
      }
      if (n === buffer.length && buffer.length < LARGE_READ) {
        this.#buffer = new Uint8Array(LARGE_READ);
      }
      this.push(buffer.slice(0, n));
    }, (error) => {
      if (!this.#closed) this.destroy(error);
    });
  }

  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    this.wrote = true;
    this.#track(writeAll(this.#tcp, chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#track(this.#tcp.closeWrite()).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.closeNow();
    callback(error);
  }

  /** Closes the TCP connection: pending operations are cancelled and the descriptor goes. */
  closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#tcp.close();
    } catch {
      // Already closed.
    }
    this.#checkGone();
  }
}

/** Node socket errors under the Deno error names the server tells apart. */
function denoError(error: Error & { code?: string }): Error {
  switch (error.code) {
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(error.message);
    case "EPIPE":
      return new Deno.errors.BrokenPipe(error.message);
    default:
      return error;
  }
}

/** One TLS connection with the part of the `Deno.Conn` interface the server uses. */
class TlsSocketConn implements Conn {
  readonly remoteAddr: Deno.NetAddr;
  readonly #tcp: TcpDuplex;
  readonly #socket: tls.TLSSocket;
  readonly #handshake: Promise<void>;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #closed = false;
  #error: Error | null = null;
  #waiter: PromiseWithResolvers<void> | null = null;

  constructor(tcp: Deno.TcpConn, secureContext: tls.SecureContext, onGone: () => void) {
    this.remoteAddr = tcp.remoteAddr;
    try {
      tcp.setNoDelay(true);
    } catch {
      // The peer has already gone; reading will say so.
    }
    this.#tcp = new TcpDuplex(tcp, onGone);
    this.#tcp.on("error", () => {});
    // A peer that ends its side before the handshake is done can never finish it: let go at
    // once rather than at the deadline, which would hold its descriptor for nothing.
    let secure = false;
    this.#tcp.once("end", () => {
      if (!secure) this.close();
    });
    // Deno's node:tls runs over any Duplex (it wraps it in its JSStreamSocket); the cast is for
    // @types/node, which asks for a net.Socket.
    const socket = new tls.TLSSocket(this.#tcp as unknown as net.Socket, {
      isServer: true,
      secureContext,
    });
    this.#socket = socket;
    this.#handshake = new Promise<void>((resolve, reject) => {
      socket.once("secure", () => {
        secure = true;
        resolve();
      });
      socket.once("error", (error) => reject(error));
      socket.once("close", () => reject(new Deno.errors.ConnectionReset("closed in handshake")));
    });
    // Nobody may wait for the handshake (a connection refused at once); that is no error.
    this.#handshake.catch(() => {});
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= READ_HIGH_WATER) socket.pause();
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (error) => {
      this.#error ??= denoError(error);
      this.#wake();
    });
  }

  /** Resolves once the TLS handshake is done; rejects when it fails or the peer leaves. */
  handshake(): Promise<void> {
    return this.#handshake;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the server has answered the peer's ClientHello. */
  helloAnswered(): boolean {
    return this.#tcp.wrote;
  }

  setNoDelay(): void {
    // Set on the TCP connection at accept.
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#chunks.length > 0) {
        let n = 0;
        while (n < buffer.length && this.#chunks.length > 0) {
          const chunk = this.#chunks[0];
          const take = Math.min(chunk.length, buffer.length - n);
          buffer.set(chunk.subarray(0, take), n);
          n += take;
          if (take === chunk.length) this.#chunks.shift();
          else this.#chunks[0] = chunk.subarray(take);
        }
        this.#buffered -= n;
        if (this.#buffered < READ_HIGH_WATER && this.#socket.isPaused()) this.#socket.resume();
        return n;
      }
      if (this.#error !== null) throw this.#error;
      if (this.#ended || this.#closed) return null;
      this.#waiter = Promise.withResolvers();
      await this.#waiter.promise;
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("The connection is closed"));
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    // The callback runs once the bytes are encrypted and handed on, so the caller may then reuse
    // its buffer; until then a peer that does not read keeps the write pending.
    this.#socket.write(bytes, (error) => error ? reject(denoError(error)) : resolve(bytes.length));
    return promise;
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Closing the TCP connection cancels its pending read and releases the descriptor, even
    // mid-handshake.
    this.#socket.destroy();
    this.#tcp.closeNow();
    this.#wake();
  }
}
