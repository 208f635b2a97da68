/**
 * The connection handler: accepts TCP or TLS connections, frames requests, answers them from a
 * {@linkcode Market} and bounds everything a client can make the server hold.
 *
 * @module
 */

import type { Market, Reply } from "./market.ts";
import {
  encodeError,
  type ErrorCode,
  MAX_REQUEST_BYTES,
  RequestFramer,
  sampleBytes,
} from "./protocol.ts";

/** Limits on what one client can make the server hold; each has a server flag. */
export interface Limits {
  /** Longest request in bytes. */
  maxRequestBytes: number;
  /** A request whose first byte arrived must be complete within this many ms. */
  requestTimeoutMs: number;
  /** A connection with no request for this many ms is closed; 0 = never. */
  idleTimeoutMs: number;
  /** Connections open at once. */
  maxConnections: number;
  /** Connections open at once from one address; 0 = no cap. */
  maxConnectionsPerAddress: number;
  /** Replies a client has not read, in bytes, before it is closed. */
  maxUnsentBytes: number;
  /** A TLS handshake must finish within this many ms. */
  tlsHandshakeTimeoutMs: number;
}

/** The defaults, as documented in the README's limits table. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRequestBytes: MAX_REQUEST_BYTES,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 300_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 0,
  maxUnsentBytes: 1024 * 1024,
  tlsHandshakeTimeoutMs: 10_000,
});

/** Counters for the server report. */
export interface ServerStats {
  connectionsOpen: number;
  connectionsServed: number;
  requests: Record<string, number>;
  errors: Record<string, number>;
}

/** Options of a {@linkcode PriceServer}. */
export interface ServerOptions {
  market: Market;
  /** Whether the listener is a TLS listener, whose connections need a handshake first. */
  tls?: boolean;
  limits?: Partial<Limits>;
  /** Where log lines go; one call a line. */
  log?: (line: string) => void;
}

/** A read buffer this small costs an idle connection little; busy ones move to a larger one. */
const SMALL_READ = 2048;
const LARGE_READ = 32 * 1024;
/** After a timeout reply, how long the client gets to take it before the socket is closed anyway. */
const FAREWELL_MS = 1000;
/** Log at most this many bad requests per connection, so a flood does not flood the log. */
const LOGGED_ERRORS_PER_CONNECTION = 5;

interface Connection {
  readonly conn: Deno.Conn;
  readonly address: string;
  readonly ip: string;
  /** ms when the last bytes arrived or were written. */
  lastActivity: number;
  /** ms when the unfinished request began, or 0. */
  requestStart: number;
  /** ms when the pending write began, or 0. */
  writeStart: number;
  handshaking: boolean;
  /** Set once the server has decided to close this connection. */
  closing: boolean;
  loggedErrors: number;
}

function describeAddress(addr: Deno.Addr): { address: string; ip: string } {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return { address: `${host}:${addr.port}`, ip: addr.hostname };
  }
  return { address: addr.transport, ip: addr.transport };
}

function isListenerClosed(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Serves one listener. `serve()` runs the accept loop until `shutdown()`; one async handler runs
 * per connection.
 */
export class PriceServer implements AsyncDisposable {
  readonly limits: Readonly<Limits>;
  readonly stats: ServerStats = {
    connectionsOpen: 0,
    connectionsServed: 0,
    requests: {},
    errors: {},
  };
  readonly #listener: Deno.Listener;
  readonly #tls: boolean;
  readonly #market: Market;
  readonly #log: (line: string) => void;
  readonly #connections = new Set<Connection>();
  readonly #perAddress = new Map<string, number>();
  readonly #handlers = new Set<Promise<void>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #serving: Promise<void> | null = null;

  /**
   * @param listener a listener from `Deno.listen` or `Deno.listenTls`; the server owns it
   */
  constructor(listener: Deno.Listener, options: ServerOptions) {
    this.#listener = listener;
    this.#tls = options.tls ?? false;
    this.#market = options.market;
    this.#log = options.log ?? ((line) => console.log(line));
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
  }

  /** The address the listener is bound to. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Starts the accept loop; resolves when the server has shut down. */
  serve(): Promise<void> {
    this.#serving ??= this.#acceptLoop();
    return this.#serving;
  }

  async #acceptLoop(): Promise<void> {
    const sweepEvery = Math.max(
      10,
      Math.min(
        1000,
        ...[
          this.limits.requestTimeoutMs,
          this.limits.idleTimeoutMs,
          this.limits.tlsHandshakeTimeoutMs,
        ]
          .filter((ms) => ms > 0).map((ms) => ms / 4),
      ),
    );
    this.#sweeper = setInterval(() => this.#sweep(), sweepEvery);
    let backoffMs = 0;
    while (!this.#stopping) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (this.#stopping || isListenerClosed(error)) break;
        // A client that connects and resets at once, or a full descriptor table, must not
        // end the accept loop: log, wait a little longer each time, and go on.
        backoffMs = Math.min(1000, backoffMs === 0 ? 5 : backoffMs * 2);
        this.#log(`accept failed: ${(error as Error).message}; retrying in ${backoffMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        continue;
      }
      if (this.#stopping) {
        conn.close();
        break;
      }
      this.#admit(conn);
    }
    await this.#drain();
  }

  #admit(conn: Deno.Conn): void {
    let described;
    try {
      described = describeAddress(conn.remoteAddr);
    } catch {
      described = { address: "unknown", ip: "unknown" };
    }
    const { address, ip } = described;
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    const fromAddress = this.#perAddress.get(ip) ?? 0;
    if (
      this.#connections.size >= maxConnections ||
      (maxConnectionsPerAddress > 0 && fromAddress >= maxConnectionsPerAddress)
    ) {
      const which = this.#connections.size >= maxConnections
        ? `${maxConnections} connections are open`
        : `${maxConnectionsPerAddress} connections are open from ${ip}`;
      this.#log(`refused ${address}: ${which}`);
      this.#count(this.stats.errors, "BUSY");
      this.#farewell(conn, encodeError("BUSY", `Server busy: ${which}, try again later`));
      return;
    }
    const now = Date.now();
    const state: Connection = {
      conn,
      address,
      ip,
      lastActivity: now,
      requestStart: 0,
      writeStart: 0,
      handshaking: this.#tls,
      closing: false,
      loggedErrors: 0,
    };
    this.#connections.add(state);
    this.#perAddress.set(ip, fromAddress + 1);
    this.stats.connectionsOpen++;
    this.stats.connectionsServed++;
    const handler = this.#handle(state).finally(() => {
      this.#handlers.delete(handler);
      this.#release(state);
    });
    this.#handlers.add(handler);
  }

  #release(state: Connection): void {
    if (!this.#connections.delete(state)) return;
    this.stats.connectionsOpen--;
    const left = (this.#perAddress.get(state.ip) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(state.ip);
    else this.#perAddress.set(state.ip, left);
    try {
      state.conn.close();
    } catch {
      // Already closed by a timeout or by the peer.
    }
  }

  /** Writes a last reply if the client takes it soon, then closes: never waits on a stuck peer. */
  #farewell(conn: Deno.Conn, bytes: Uint8Array): void {
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    };
    const timer = setTimeout(close, FAREWELL_MS);
    writeAll(conn, bytes).then(close, close);
  }

  async #handle(state: Connection): Promise<void> {
    const { conn } = state;
    try {
      if (this.#tls) {
        await (conn as Deno.TlsConn).handshake();
        state.handshaking = false;
        state.lastActivity = Date.now();
      } else {
        (conn as Deno.TcpConn).setNoDelay(true);
      }
    } catch (error) {
      if (!state.closing) {
        this.#log(`${state.address} TLS handshake failed: ${(error as Error).message}`);
      }
      return;
    }
    const framer = new RequestFramer(this.limits.maxRequestBytes);
    let buffer = new Uint8Array(SMALL_READ);
    const replies: Uint8Array[] = [];
    let replyBytes = 0;
    let closeAfter = false;
    let overflow: Uint8Array | null = null;
    const onRequest = (line: Uint8Array) => {
      if (closeAfter) return;
      const reply = this.#market.respond(line);
      this.#record(state, reply, line);
      replies.push(reply.bytes);
      replyBytes += reply.bytes.length;
      if (reply.close) closeAfter = true;
      if (replyBytes > this.limits.maxUnsentBytes) overflow ??= reply.bytes;
    };
    try {
      while (!state.closing) {
        let n: number | null;
        try {
          n = await conn.read(buffer);
        } catch (error) {
          if (!state.closing) this.#logPeerError(state, "read", error);
          return;
        }
        if (n === null || state.closing) return;
        const now = Date.now();
        state.lastActivity = now;
        const fits = framer.push(buffer.subarray(0, n), onRequest);
        if (!fits) {
          this.#count(this.stats.errors, "LINE_TOO_LONG");
          this.#log(
            `${state.address} LINE_TOO_LONG: request over ${this.limits.maxRequestBytes} bytes`,
          );
          const message = `Request longer than ${this.limits.maxRequestBytes} bytes: closing`;
          const bytes = encodeError("LINE_TOO_LONG", message);
          replies.push(bytes);
          replyBytes += bytes.length;
          closeAfter = true;
        }
        if (overflow !== null) {
          this.#count(this.stats.errors, "UNSENT_LIMIT");
          this.#log(
            `${state.address} closed: more than ${this.limits.maxUnsentBytes} bytes of replies not read`,
          );
          return;
        }
        state.requestStart = framer.inRequest ? (state.requestStart || now) : 0;
        if (replies.length > 0) {
          const out = concat(replies, replyBytes);
          replies.length = 0;
          replyBytes = 0;
          state.writeStart = now;
          try {
            await writeAll(conn, out);
          } catch (error) {
            if (!state.closing) this.#logPeerError(state, "write", error);
            return;
          }
          state.writeStart = 0;
          state.lastActivity = Date.now();
        }
        if (!fits) {
          await lingeringClose(conn);
          return;
        }
        if (closeAfter || this.#stopping) return;
        if (n === buffer.length && buffer.length < LARGE_READ) buffer = new Uint8Array(LARGE_READ);
      }
    } finally {
      state.closing = true;
    }
  }

  #record(state: Connection, reply: Reply, line: Uint8Array): void {
    if (reply.command !== null) this.#count(this.stats.requests, reply.command);
    if (reply.error === null) return;
    this.#count(this.stats.errors, reply.error);
    if (state.loggedErrors < LOGGED_ERRORS_PER_CONNECTION) {
      state.loggedErrors++;
      const more = state.loggedErrors === LOGGED_ERRORS_PER_CONNECTION
        ? " (further errors on this connection are not logged)"
        : "";
      this.#log(`${state.address} ${reply.error}: ${sampleBytes(line)}${more}`);
    }
  }

  #count(counters: Record<string, number>, key: string): void {
    counters[key] = (counters[key] ?? 0) + 1;
  }

  #logPeerError(state: Connection, what: string, error: unknown): void {
    const name = error instanceof Error ? error.name : "Error";
    // Resets and broken pipes are what clients do; they are not the server's errors.
    const quiet = name === "ConnectionReset" || name === "BrokenPipe" || name === "UnexpectedEof";
    if (!quiet) this.#log(`${state.address} ${what} failed: ${(error as Error).message}`);
  }

  /** Closes connections past a deadline; run on a timer so no read needs a timer of its own. */
  #sweep(): void {
    const now = Date.now();
    const { requestTimeoutMs, idleTimeoutMs, tlsHandshakeTimeoutMs } = this.limits;
    for (const state of this.#connections) {
      if (state.closing) continue;
      if (state.handshaking) {
        if (now - state.lastActivity > tlsHandshakeTimeoutMs) {
          this.#expire(state, null, `TLS handshake not done within ${tlsHandshakeTimeoutMs} ms`);
        }
      } else if (state.writeStart !== 0) {
        // A client that stopped reading while we write: the same deadline as a slow request.
        if (now - state.writeStart > requestTimeoutMs) {
          this.#expire(state, null, `replies not read within ${requestTimeoutMs} ms`);
        }
      } else if (state.requestStart !== 0) {
        if (now - state.requestStart > requestTimeoutMs) {
          this.#expire(state, "TIMEOUT", `request not complete within ${requestTimeoutMs} ms`);
        }
      } else if (idleTimeoutMs > 0 && now - state.lastActivity > idleTimeoutMs) {
        this.#expire(state, "TIMEOUT", `no request for ${idleTimeoutMs} ms`);
      }
    }
  }

  #expire(state: Connection, code: ErrorCode | null, why: string): void {
    state.closing = true;
    this.#count(this.stats.errors, "TIMEOUT");
    this.#log(`${state.address} closed: ${why}`);
    this.#connections.delete(state);
    this.stats.connectionsOpen--;
    const left = (this.#perAddress.get(state.ip) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(state.ip);
    else this.#perAddress.set(state.ip, left);
    if (code === null) {
      try {
        state.conn.close();
      } catch {
        // Already closed.
      }
    } else {
      this.#farewell(state.conn, encodeError(code, `Closing: ${why}`));
    }
  }

  /**
   * Stops accepting, lets every handler finish the replies it has been asked for, then closes
   * what is left. Resolves when every connection is closed.
   */
  async shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    if (this.#serving === null) {
      await this.#drain();
    } else {
      await this.#serving;
    }
  }

  async #drain(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    // Handlers waiting for a request have nothing in flight: close them now. Handlers that are
    // writing finish their write and then see #stopping.
    for (const state of this.#connections) {
      if (state.writeStart === 0) {
        state.closing = true;
        try {
          state.conn.close();
        } catch {
          // Already closed.
        }
      }
    }
    await Promise.allSettled([...this.#handlers]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

/**
 * Closes our side, then reads and drops what the peer is still sending for a moment: closing
 * with unread bytes makes the kernel send a reset, which can destroy the reply just written.
 */
async function lingeringClose(conn: Deno.Conn): Promise<void> {
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }, FAREWELL_MS);
  try {
    await conn.closeWrite();
    const sink = new Uint8Array(LARGE_READ);
    let drained = 0;
    while (drained < 4 * 1024 * 1024) {
      const n = await conn.read(sink);
      if (n === null) break;
      drained += n;
    }
  } catch {
    // The peer reset or the timer closed the connection: either way, done.
  } finally {
    clearTimeout(timer);
  }
}

/** Writes every byte, however many calls that takes. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
