/**
 * A TLS listener whose unfinished handshakes can be dropped: a `node:net` server whose sockets
 * are wrapped in `node:tls` server sockets, offered to {@linkcode PriceServer} as connections
 * with the `Deno.Conn` methods it uses.
 *
 * Why not `Deno.listenTls`: closing one of its connections waits for the handshake, so a peer
 * that never sends a ClientHello keeps its descriptor however the server times it out (measured:
 * 800 silent clients held 800 descriptors 3 s after the deadline, and three waves of 700
 * exhausted a limit of 2,048). `node:tls` createServer's `handshakeTimeout` keeps them too.
 * Destroying the raw socket of a `new tls.TLSSocket(raw, { isServer: true })` does release it
 * at once (checked: 400 stalled handshakes, descriptors back to the baseline).
 *
 * The plain TCP path keeps `Deno.listen`, which is faster.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import type { Conn, Listener } from "./price_server.ts";

/** Options of {@linkcode listenTlsSockets}. */
export interface TlsListenOptions {
  hostname: string;
  port: number;
  /** Share the port with other processes (SO_REUSEPORT), as `Deno.listen`'s option does. */
  reusePort?: boolean;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /**
   * Sockets open at once, counted until they are really closed (a destroyed socket lets go of
   * its descriptor a little later). At this many, each new socket closes the oldest unfinished
   * handshake; at twice as many (so many still being closed), new sockets are closed at once,
   * unwrapped: the bound on descriptors however fast clients arrive.
   */
  maxSockets: number;
}

/**
 * Sockets beyond the connection cap the TLS listener counts before it closes unfinished
 * handshakes itself: room for sockets still being closed. Measured with waves of 300 silent or
 * half-ClientHello clients at a cap of 100: up to about 100 dropped sockets were still being
 * closed, for a fraction of a second.
 */
export const TLS_SOCKET_MARGIN = 32;

/** Sockets accepted but not yet taken by `accept()`; past it new ones are dropped at once. */
const MAX_QUEUED = 512;
/** Received bytes held per connection before the socket is paused until `read()` takes them. */
const READ_HIGH_WATER = 64 * 1024;

/**
 * Starts listening for TLS connections. The server owns the listener: `accept()` hands out
 * connections whose handshake has not begun to be awaited; `handshake()` waits for it, and
 * `close()` (e.g. at the handshake deadline) releases the socket at once.
 *
 * @throws {Error} when the address cannot be bound or the certificate and key do not fit
 */
export async function listenTlsSockets(options: TlsListenOptions): Promise<Listener> {
  const secureContext = tls.createSecureContext({ cert: options.cert, key: options.key });
  const server = net.createServer({ noDelay: true });
  const listener = new TlsSocketListener(server, secureContext, options.maxSockets);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const at = { host: options.hostname, port: options.port, reusePort: options.reusePort };
    // `reusePort` is honoured by Deno's node:net (checked: two listeners on one port), though
    // @types/node of this Deno does not list it yet.
    server.listen(at as net.ListenOptions, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return listener;
}

class TlsSocketListener implements Listener {
  readonly #server: net.Server;
  readonly #context: tls.SecureContext;
  readonly #queue: net.Socket[] = [];
  readonly #maxSockets: number;
  #sockets = 0;
  /** Connections handed out whose handshake is not done, oldest first. */
  readonly #handshaking = new Set<TlsSocketConn>();
  #waiter: PromiseWithResolvers<net.Socket | null> | null = null;
  #closed = false;

  constructor(server: net.Server, context: tls.SecureContext, maxSockets: number) {
    this.#server = server;
    this.#context = context;
    this.#maxSockets = maxSockets;
    server.on("connection", (raw) => this.#arrived(raw));
    // An error after listening (e.g. EMFILE on accept) concerns one socket; node goes on.
    server.on("error", () => {});
  }

  get addr(): Deno.NetAddr {
    const address = this.#server.address() as net.AddressInfo;
    return { transport: "tcp", hostname: address.address, port: address.port };
  }

  #arrived(raw: net.Socket): void {
    raw.on("error", () => {});
    if (this.#sockets >= this.#maxSockets) {
      // A flood of clients that never finish: the oldest of them makes room, so a proper
      // client still gets in.
      const oldest = this.#handshaking.values().next().value;
      if (oldest !== undefined) {
        this.#handshaking.delete(oldest);
        oldest.close();
      }
    }
    if (
      this.#closed || this.#queue.length >= MAX_QUEUED ||
      this.#sockets >= 2 * this.#maxSockets
    ) {
      raw.destroy();
      return;
    }
    this.#sockets++;
    raw.once("close", () => this.#sockets--);
    if (this.#waiter !== null) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter.resolve(raw);
    } else {
      this.#queue.push(raw);
    }
  }

  async accept(): Promise<Conn> {
    let raw = this.#queue.shift();
    while (raw === undefined || raw.destroyed) {
      if (this.#closed) throw new Deno.errors.BadResource("The TLS listener is closed");
      if (raw === undefined) {
        this.#waiter = Promise.withResolvers();
        raw = (await this.#waiter.promise) ?? undefined;
      } else {
        raw = this.#queue.shift();
      }
    }
    const conn = new TlsSocketConn(raw, this.#context);
    this.#handshaking.add(conn);
    conn.handshake().finally(() => this.#handshaking.delete(conn)).catch(() => {});
    return conn;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const raw of this.#queue.splice(0)) raw.destroy();
    this.#waiter?.resolve(null);
    this.#waiter = null;
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
  readonly #raw: net.Socket;
  readonly #socket: tls.TLSSocket;
  readonly #handshake: Promise<void>;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #closed = false;
  #error: Error | null = null;
  #waiter: PromiseWithResolvers<void> | null = null;

  constructor(raw: net.Socket, secureContext: tls.SecureContext) {
    this.#raw = raw;
    this.remoteAddr = {
      transport: "tcp",
      hostname: raw.remoteAddress ?? "unknown",
      port: raw.remotePort ?? 0,
    };
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext });
    this.#socket = socket;
    this.#handshake = new Promise<void>((resolve, reject) => {
      socket.once("secure", () => resolve());
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

  setNoDelay(): void {
    // Set on the raw socket by the listener.
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
    // Destroying the raw socket releases the descriptor even mid-handshake.
    this.#socket.destroy();
    this.#raw.destroy();
    this.#wake();
  }
}
