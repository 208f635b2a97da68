/**
 * The connection handler: accepts TCP or TLS connections, frames requests, answers them from a
 * {@linkcode Market} and bounds everything a client can make the server hold.
 *
 * @module
 */

import type { Answer, Market, UpdateEvents } from "./market.ts";
import { encodeError, encodeWatchList } from "../wire/reply.ts";
import type { ErrorCode } from "../wire/error_code.ts";
import { MAX_REQUEST_BYTES, MAX_WATCHED } from "../wire/limits.ts";
import { NEWLINE, RequestFramer } from "../wire/request_framer.ts";
import { clearArray } from "../util/clear_array.ts";
import { sampleBytes } from "../util/sample.ts";
import { Outbox } from "./outbox.ts";
import type { Log } from "../util/log.ts";
import { WatchRegistry } from "./watch_registry.ts";

/**
 * The part of `Deno.Conn` the server uses, so a TLS connection of another implementation
 * (`tls_listener.ts`) can be served the same way.
 */
export type Conn = Pick<Deno.Conn, "read" | "write" | "close" | "closeWrite" | "remoteAddr"> & {
  /** TLS only: resolves once the handshake is done. */
  handshake?(): Promise<unknown>;
  /**
   * TLS only: whether the server has answered the peer's ClientHello. Peers that have not (silent
   * or half a ClientHello) are the first dropped to make room for a newcomer.
   */
  helloAnswered?(): boolean;
  /** TCP only. */
  setNoDelay?(noDelay?: boolean): void;
};

/** The part of `Deno.Listener` the server uses. */
export interface Listener {
  accept(): Promise<Conn>;
  close(): void;
  readonly addr: Deno.Addr;
}

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
  log?: Log;
}

/** A read buffer this small costs an idle connection little; busy ones move to a larger one. */
const SMALL_READ = 2048;
const LARGE_READ = 32 * 1024;
/** After a timeout reply, how long the client gets to take it before the socket is closed anyway. */
const FAREWELL_MS = 1000;
/**
 * Requests are framed in slices of at most this many bytes, so that the replies to one read
 * are written before they pile up: 16 pipelined look-ups of up to 64 bytes fit in one slice.
 */
const FRAME_SLICE = 1024;
/** A connection whose socket takes no bytes for this long is taken to have stopped reading. */
const STALL_MS = 1000;
/** At shutdown, a connection quiet for this long with nothing to write is closed. */
const QUIET_MS = 50;
/** At shutdown, connections still busy after this long are closed anyway. */
const SHUTDOWN_GRACE_MS = 4000;
/** Errors that are the client's business (a typo, asking before data), not the server's. */
const CLIENTS_OWN_ERRORS: ReadonlySet<string> = new Set([
  "UNKNOWN_COIN",
  "UNKNOWN_CURRENCY",
  "NO_DATA",
]);

/** Log at most this many bad requests per connection, so a flood does not flood the log. */
const LOGGED_ERRORS_PER_CONNECTION = 5;

interface Connection {
  readonly conn: Conn;
  readonly address: string;
  readonly ip: string;
  readonly outbox: Outbox;
  /** ms when the last bytes arrived or were written. */
  lastActivity: number;
  /**
   * ms when the last request (not a blank line: the framer skips those) arrived, or the
   * connection was accepted: what the idle timeout counts from.
   */
  lastRequest: number;
  /** ms when the unfinished request began, or 0. */
  requestStart: number;
  handshaking: boolean;
  /** Set once the server has decided to close this connection. */
  closing: boolean;
  /** Set once its bookkeeping is undone and its socket closed. */
  released: boolean;
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

/** An accept error that concerns one connection, already reset by its peer, not the listener. */
function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.ConnectionAborted;
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
  readonly #listener: Listener;
  readonly #tls: boolean;
  readonly #market: Market;
  readonly #log: Log;
  readonly #connections = new Set<Connection>();
  readonly #perAddress = new Map<string, number>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #watches = new WatchRegistry<Connection>(MAX_WATCHED);
  readonly #unsubscribe: () => void;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  /** Connections that reset before they were accepted, for the log. */
  #peerGone = 0;
  /** TLS handshakes that failed, timed out or were dropped for room, for the log. */
  #handshakesDropped = 0;
  #serving: Promise<void> | null = null;

  /**
   * @param listener a listener from `Deno.listen`, `Deno.listenTls` or `listenTlsSockets`; the
   *   server owns it
   */
  constructor(listener: Listener, options: ServerOptions) {
    this.#listener = listener;
    this.#tls = options.tls ?? false;
    this.#market = options.market;
    this.#unsubscribe = this.#market.onUpdate((events) => this.#publish(events));
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
      let conn: Conn;
      try {
        conn = await this.#listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (this.#stopping || isListenerClosed(error)) break;
        if (isPeerGone(error)) {
          // A client connected and reset before we took it: only its own connection is gone,
          // so take the next one at once. Backing off here let a storm of resets stall every
          // new client for seconds; logging the 1st, 2nd, 4th, 8th… keeps the log short.
          if ((++this.#peerGone & (this.#peerGone - 1)) === 0) {
            this.#log(`accept failed: ${(error as Error).message} (${this.#peerGone} so far)`);
          }
          await new Promise((resolve) => setTimeout(resolve, 0));
          continue;
        }
        // A full descriptor table must not end the accept loop either: log, wait a little
        // longer each time, and go on.
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

  #admit(conn: Conn): void {
    let described;
    try {
      described = describeAddress(conn.remoteAddr);
    } catch {
      described = { address: "unknown", ip: "unknown" };
    }
    const { address, ip } = described;
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    if (this.#tls && this.#connections.size >= maxConnections) {
      // A flood of TLS clients that never finish their handshake must not lock anyone out: the
      // oldest unfinished handshake makes room (a real one takes milliseconds), the oldest whose
      // ClientHello is not even answered first, so a silent flood never drops a proper client.
      let oldest: Connection | undefined;
      for (const state of this.#connections) {
        if (!state.handshaking || state.closing) continue;
        oldest ??= state;
        if (state.conn.helloAnswered?.() === false) {
          oldest = state;
          break;
        }
      }
      if (oldest !== undefined) {
        this.#dropHandshake(oldest, "closed to make room: TLS handshake not done");
      }
    }
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
      outbox: new Outbox(conn, (error) => {
        if (!state.closing) this.#logPeerError(state, "write", error);
        this.#release(state);
      }),
      lastActivity: now,
      lastRequest: now,
      requestStart: 0,
      handshaking: this.#tls,
      closing: false,
      released: false,
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

  /** Undoes a connection's bookkeeping and closes it, after a last reply when one is given. */
  #release(state: Connection, farewell?: Uint8Array): void {
    state.closing = true;
    if (state.released) return;
    state.released = true;
    this.#watches.remove(state);
    this.#connections.delete(state);
    this.stats.connectionsOpen--;
    const left = (this.#perAddress.get(state.ip) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(state.ip);
    else this.#perAddress.set(state.ip, left);
    if (farewell !== undefined) {
      this.#farewell(state.conn, farewell);
      return;
    }
    try {
      state.conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  /** Writes a last reply if the client takes it soon, then closes: never waits on a stuck peer. */
  #farewell(conn: Conn, bytes: Uint8Array): void {
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
    const { conn, outbox } = state;
    try {
      if (this.#tls) {
        await conn.handshake!();
        state.handshaking = false;
        state.lastActivity = state.lastRequest = Date.now();
      } else {
        conn.setNoDelay?.(true);
      }
    } catch (error) {
      if (!state.closing) {
        this.#dropHandshake(state, `TLS handshake failed: ${(error as Error).message}`);
      }
      return;
    }
    const framer = new RequestFramer(this.limits.maxRequestBytes);
    let buffer = new Uint8Array(SMALL_READ);
    const replies: Uint8Array[] = [];
    let replyBytes = 0;
    let closeAfter = false;
    let requested = false;
    // Replies still being read from storage, by their place in `replies`.
    const later: [number, Promise<Answer>, Uint8Array][] = [];
    /** The market's clock, read once per slice of a read rather than once per request (see below). */
    let marketNow = 0;
    const respond = this.#market.responder();
    const onRequest = (data: Uint8Array, start: number, end: number, repeat: boolean) => {
      requested = true;
      if (closeAfter) return;
      const reply = respond(data, start, end, marketNow, repeat);
      if (reply.later !== undefined) {
        later.push([replies.length, reply.later, data.slice(start, end)]);
        replies.push(reply.bytes);
        return;
      }
      this.#record(state, reply, data, start, end);
      const bytes = reply.watch === undefined ? reply.bytes : this.#applyWatch(state, reply);
      replies.push(bytes);
      replyBytes += bytes.length;
      if (reply.close) closeAfter = true;
    };
    // Fills in the replies read from storage, in their places: only this connection waits for
    // them, and only a batch that has one pays an `await`.
    const settle = async () => {
      for (const [index, promise, line] of later) {
        const reply = await promise;
        this.#record(state, reply, line);
        replies[index] = reply.bytes;
        replyBytes += reply.bytes.length;
      }
      later.length = 0;
    };
    // Hands the gathered replies to the outbox as one batch, to go out in the background: for a
    // read whose replies pile up, written slice by slice while the client is waited for.
    const flush = () => {
      outbox.sendAll(replies, replyBytes);
      clearArray(replies);
      replyBytes = 0;
    };
    while (!state.closing) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (!state.closing) this.#logPeerError(state, "read", error);
        return;
      }
      if (state.closing) return;
      if (n === null) {
        // The peer half-closed: what it asked for is still delivered.
        await outbox.drained();
        return;
      }
      const now = Date.now();
      state.lastActivity = now;
      requested = false;
      // The read is framed a slice at a time, so a burst of requests whose replies are large
      // never queues much more than half the unsent cap before the client has had a chance to
      // read: a slow reader is waited for, and only a client that stopped reading is cut off.
      let fits = true;
      let stalled = false;
      for (let offset = 0, end = 0; offset < n && fits && !closeAfter; offset = end) {
        end = n;
        if (n - offset > FRAME_SLICE) {
          // The slice ends after a newline where there is one, so that no request straddles
          // two slices and has to be copied aside by the framer.
          const newline = buffer.lastIndexOf(NEWLINE, offset + FRAME_SLICE - 1);
          end = newline >= offset ? newline + 1 : offset + FRAME_SLICE;
        }
        // One clock reading per read where the market's clock is the wall clock: a second
        // `Date.now()` was ~45 ns of the ~410 ns the handler spends per read, measured
        // in-process with connections whose reads and writes settle at once. Later slices of a
        // read may come after waiting for a slow reader, so they read the clock again.
        marketNow = offset === 0 && this.#market.wallClock ? now : this.#market.now();
        fits = framer.push(buffer.subarray(offset, end), onRequest);
        if (end === n || replyBytes + outbox.unsent <= this.limits.maxUnsentBytes / 2) continue;
        if (later.length > 0) await settle();
        flush();
        if (state.closing) return;
        if (outbox.unsent > this.limits.maxUnsentBytes && !await this.#keepsUp(state)) return;
        while (!stalled && outbox.unsent > this.limits.maxUnsentBytes / 2) {
          stalled = !await outbox.progressed(STALL_MS);
        }
        if (state.closing) return;
      }
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
      if (later.length > 0) await settle();
      // The replies to the read go out as one batch, and the reader waits for the socket to take
      // it when nothing else was being written (an async helper here would cost a promise more
      // per read): the only `await` of a look-up.
      const write = outbox.write(replies, replyBytes, now);
      clearArray(replies);
      replyBytes = 0;
      if (write !== null) {
        try {
          outbox.wrote(await write);
        } catch (error) {
          outbox.writeFailed(error);
        }
      }
      if (state.closing) return;
      if (outbox.unsent > this.limits.maxUnsentBytes && !await this.#keepsUp(state)) return;
      state.requestStart = framer.inRequest ? (state.requestStart || now) : 0;
      if (requested) state.lastRequest = now;
      // At shutdown the handler goes on reading: requests already in the socket are still
      // answered, and #drain closes the connection once it has been quiet for a moment.
      if (closeAfter) {
        await outbox.drained();
        if (!fits) await lingeringClose(conn);
        return;
      }
      if (n === buffer.length && buffer.length < LARGE_READ) buffer = new Uint8Array(LARGE_READ);
    }
  }

  /**
   * Waits while more than the cap is unsent and the client keeps taking bytes; closes the
   * connection once it has taken none for {@linkcode STALL_MS}. So a client that reads is never
   * cut off, however large one reply is (a `MARKET ALL` can be larger than a small cap), and one
   * that does not read holds at most the cap plus the replies to one read. False when closed.
   */
  async #keepsUp(state: Connection): Promise<boolean> {
    while (state.outbox.unsent > this.limits.maxUnsentBytes && !state.closing) {
      if (!await state.outbox.progressed(STALL_MS)) return !this.#overflowing(state);
    }
    return !state.closing;
  }

  /**
   * Closes a connection with more than the cap unsent whose socket has taken no bytes for
   * {@linkcode STALL_MS}; true when it did.
   */
  #overflowing(state: Connection): boolean {
    const { outbox } = state;
    if (outbox.unsent <= this.limits.maxUnsentBytes) return false;
    if (outbox.writeStart !== 0 && Date.now() - outbox.writeStart < STALL_MS) return false;
    this.#count(this.stats.errors, "UNSENT_LIMIT");
    this.#log(
      `${state.address} closed: more than ${this.limits.maxUnsentBytes} bytes of replies not read`,
    );
    this.#release(state);
    return true;
  }

  /** Applies WATCH or UNWATCH to the connection and returns the reply to send. */
  #applyWatch(state: Connection, answer: Answer): Uint8Array {
    const change = answer.watch!;
    if (!("add" in change)) return encodeWatchList(this.#watches.unwatch(state, change.remove));
    const result = this.#watches.watch(state, change.add);
    if (result.ok) return answer.bytes;
    this.#count(this.stats.errors, "BAD_REQUEST");
    return encodeError(
      "BAD_REQUEST",
      `At most ${MAX_WATCHED} symbols can be watched per connection; ${result.watching} already are`,
    );
  }

  /** Pushes each changed coin's event line to the connections watching it. */
  #publish(events: UpdateEvents): void {
    const touched = new Set<Connection>();
    for (const [symbol, line] of events) {
      const set = this.#watches.watchersOf(symbol);
      if (set === undefined) continue;
      for (const state of set) {
        if (state.closing) continue;
        state.outbox.send(line);
        touched.add(state);
      }
    }
    for (const state of touched) this.#overflowing(state);
  }

  /** Counts a reply; logs it when it is an error. The request is `bytes[start, end)`. */
  #record(
    state: Connection,
    reply: Answer,
    bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ): void {
    if (reply.command !== null) this.#count(this.stats.requests, reply.command);
    if (reply.error === null) return;
    this.#count(this.stats.errors, reply.error);
    if (state.loggedErrors < LOGGED_ERRORS_PER_CONNECTION) {
      state.loggedErrors++;
      const more = state.loggedErrors === LOGGED_ERRORS_PER_CONNECTION
        ? " (further errors on this connection are not logged)"
        : "";
      this.#log(
        `${state.address} ${reply.error}: ${sampleBytes(bytes.subarray(start, end))}${more}`,
        CLIENTS_OWN_ERRORS.has(reply.error) ? "debug" : "info",
      );
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
          this.#dropHandshake(
            state,
            `closed: TLS handshake not done within ${tlsHandshakeTimeoutMs} ms`,
          );
        }
      } else if (state.outbox.writeStart !== 0) {
        // A client that stopped reading while we write: the same deadline as a slow request.
        if (now - state.outbox.writeStart > requestTimeoutMs) {
          this.#expire(state, null, `replies not read within ${requestTimeoutMs} ms`);
        }
      } else if (state.requestStart !== 0) {
        if (now - state.requestStart > requestTimeoutMs) {
          this.#expire(state, "TIMEOUT", `request not complete within ${requestTimeoutMs} ms`);
        }
      } else if (idleTimeoutMs > 0 && now - state.lastRequest > idleTimeoutMs) {
        this.#expire(state, "TIMEOUT", `no request for ${idleTimeoutMs} ms`);
      }
    }
  }

  /**
   * Closes a connection whose TLS handshake failed or took too long. Logs the 1st, 2nd, 4th,
   * 8th… only, so a flood of silent TLS clients does not flood the log.
   */
  #dropHandshake(state: Connection, why: string): void {
    this.#count(this.stats.errors, "TLS_HANDSHAKE");
    const n = ++this.#handshakesDropped;
    if ((n & (n - 1)) === 0) this.#log(`${state.address} ${why} (${n} so far)`);
    this.#release(state);
  }

  #expire(state: Connection, code: ErrorCode | null, why: string): void {
    this.#count(this.stats.errors, "TIMEOUT");
    this.#log(`${state.address} closed: ${why}`);
    this.#release(state, code === null ? undefined : encodeError(code, `Closing: ${why}`));
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
    this.#unsubscribe();
    // A connection is closed once its replies are written and it has been quiet for a moment,
    // so requests already on their way are still answered; none waits past the deadline.
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while (this.#connections.size > 0 && Date.now() < deadline) {
      const now = Date.now();
      for (const state of this.#connections) {
        if (state.outbox.unsent === 0 && now - state.lastActivity >= QUIET_MS) this.#release(state);
      }
      if (this.#connections.size > 0) {
        await new Promise((resolve) => setTimeout(resolve, QUIET_MS / 2));
      }
    }
    for (const state of this.#connections) this.#release(state);
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
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
async function lingeringClose(conn: Conn): Promise<void> {
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
async function writeAll(conn: Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
