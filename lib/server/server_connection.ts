/**
 * One accepted connection, from its TLS handshake to its close: the read loop, framing each read
 * a slice at a time through its {@linkcode Session}, settling storage replies in order, writing
 * the replies to a read as one batch, back-pressure, and its own error log.
 *
 * @module
 */

import type { Answer, Market } from "./market.ts";
import type { Session } from "./session.ts";
import type { Limits } from "./limits.ts";
import { count, type TransportStats } from "./server_stats.ts";
import { Outbox } from "./outbox.ts";
import type { WatchRegistry } from "./watch_registry.ts";
import type { Conn } from "../net/conn.ts";
import { closeQuietly, lingeringClose, writeThenClose } from "../net/lingering_close.ts";
import {
  encodeError,
  encodeWatchList,
  type ErrorCode,
  MAX_WATCHED,
  NEWLINE,
} from "../wire/protocol.ts";
import { clearArray } from "../util/clear_array.ts";
import { sampleBytes } from "../util/sample.ts";

/** What a connection needs of the server that serves it. */
export interface ConnectionHost {
  readonly limits: Readonly<Limits>;
  readonly market: Market;
  readonly watches: WatchRegistry<ServerConnection>;
  log(line: string): void;
  /** The counters of a transport, for a connection whose session switched protocols. */
  statsOf(transport: string): TransportStats;
  /** Undoes the server's bookkeeping of a connection that is being closed. */
  released(conn: ServerConnection): void;
  /** Closes a connection whose TLS handshake failed, counted and logged sparingly. */
  dropHandshake(conn: ServerConnection, why: string): void;
}

/** A read buffer this small costs an idle connection little; busy ones move to a larger one. */
const SMALL_READ = 2048;
const LARGE_READ = 32 * 1024;
/**
 * Requests are framed in slices of at most this many bytes, so that the replies to one read
 * are written before they pile up: 16 pipelined look-ups of up to 64 bytes fit in one slice.
 */
const FRAME_SLICE = 1024;
/** A connection whose socket takes no bytes for this long is taken to have stopped reading. */
const STALL_MS = 1000;
/** Log at most this many bad requests per connection, so a flood does not flood the log. */
const LOGGED_ERRORS_PER_CONNECTION = 5;

/** The peer's address for logs (`host:port`) and the part the per-address cap counts. */
function describeAddress(addr: Deno.Addr): { address: string; ip: string } {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return { address: `${host}:${addr.port}`, ip: addr.hostname };
  }
  return { address: addr.transport, ip: addr.transport };
}

/** Where the slice of `buffer[offset, n)` that is framed next ends. */
function sliceEnd(buffer: Uint8Array, offset: number, n: number): number {
  if (n - offset <= FRAME_SLICE) return n;
  // After a newline where there is one, so that no request straddles two slices and has to be
  // copied aside by the framer.
  const newline = buffer.lastIndexOf(NEWLINE, offset + FRAME_SLICE - 1);
  return newline >= offset ? newline + 1 : offset + FRAME_SLICE;
}

/** One connection the server has admitted. `serve()` runs it until it is closed. */
export class ServerConnection {
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
  requestStart = 0;
  handshaking: boolean;
  /** Set once the server has decided to close this connection. */
  closing = false;
  /** Set once its bookkeeping is undone and its socket closed. */
  released = false;
  readonly #host: ConnectionHost;
  #session: Session;
  #stats: TransportStats;
  #loggedErrors = 0;
  #buffer = new Uint8Array(SMALL_READ);
  // The replies to the read being answered, and their bytes.
  readonly #replies: Uint8Array[] = [];
  #replyBytes = 0;
  /** Replies still being read from storage: their place in `#replies`, and the request. */
  readonly #later: [number, Promise<Answer>, Uint8Array][] = [];
  #closeAfter = false;
  /** Whether the read being answered held a request. */
  #requested = false;
  /** Whether the request cap was passed: the session is spent. */
  #tooLong = false;
  /** Whether the socket took no bytes for STALL_MS while this read's replies piled up. */
  #stalled = false;
  /** ms when the session's keep-alive was last sent, or 0. */
  #pingedAt = 0;

  constructor(
    conn: Conn,
    tls: boolean,
    session: Session,
    stats: TransportStats,
    host: ConnectionHost,
    now: number,
  ) {
    this.conn = conn;
    ({ address: this.address, ip: this.ip } = describePeer(conn));
    this.handshaking = tls;
    this.#session = session;
    this.#stats = stats;
    this.#host = host;
    this.lastActivity = this.lastRequest = now;
    this.outbox = new Outbox(conn, (error) => {
      if (!this.closing) this.#logPeerError("write", error);
      this.release();
    });
  }

  /** The transport its session speaks, for counters and logs. */
  get transport(): string {
    return this.#session.transport;
  }

  /** TLS only: whether the server has answered its ClientHello (true without TLS). */
  helloAnswered(): boolean {
    return this.conn.helloAnswered?.() !== false;
  }

  /** Runs the handshake and the read loop; resolves once the connection is done with. */
  async serve(): Promise<void> {
    try {
      if (await this.#handshake()) await this.#readLoop();
    } finally {
      this.release();
    }
  }

  async #handshake(): Promise<boolean> {
    if (!this.handshaking) {
      this.conn.setNoDelay?.(true);
      return true;
    }
    try {
      await this.conn.handshake!();
    } catch (error) {
      if (!this.closing) {
        this.#host.dropHandshake(this, `TLS handshake failed: ${(error as Error).message}`);
      }
      return false;
    }
    this.handshaking = false;
    this.lastActivity = this.lastRequest = Date.now();
    return true;
  }

  async #readLoop(): Promise<void> {
    const { conn, outbox } = this;
    const { maxUnsentBytes } = this.#host.limits;
    while (!this.closing) {
      let n: number | null;
      try {
        n = await conn.read(this.#buffer);
      } catch (error) {
        if (!this.closing) this.#logPeerError("read", error);
        return;
      }
      if (this.closing) return;
      if (n === null) {
        // The peer half-closed: what it asked for is still delivered.
        await outbox.drained();
        return;
      }
      const now = Date.now();
      this.lastActivity = now;
      this.#requested = false;
      this.#stalled = false;
      for (let offset = this.#frame(n, 0, now); offset < n; offset = this.#frame(n, offset, now)) {
        if (!await this.#relieve()) return;
      }
      if (this.#tooLong) this.#refuseTooLong();
      if (this.#later.length > 0) await this.#settle();
      // The replies to the read go out as one batch, and the reader waits for the socket to take
      // it when nothing else was being written (an async helper here would cost a promise more
      // per read): the only `await` of a look-up.
      this.#stats.bytesOut += this.#replyBytes;
      const write = outbox.write(this.#replies, this.#replyBytes, now);
      clearArray(this.#replies);
      this.#replyBytes = 0;
      if (write !== null) {
        try {
          outbox.wrote(await write);
        } catch (error) {
          outbox.writeFailed(error);
        }
      }
      if (this.closing) return;
      if (outbox.unsent > maxUnsentBytes && !await this.#keepsUp()) return;
      this.requestStart = this.#session.midRequest ? (this.requestStart || now) : 0;
      if (this.#requested) this.lastRequest = now;
      // At shutdown the loop goes on reading: requests already in the socket are still answered,
      // and the server closes the connection once it has been quiet for a moment.
      if (this.#closeAfter) {
        await outbox.drained();
        if (this.#tooLong) await lingeringClose(conn);
        return;
      }
      if (this.#session.next !== undefined) this.#switchSession(this.#session.next);
      if (n === this.#buffer.length && n < LARGE_READ) this.#buffer = new Uint8Array(LARGE_READ);
    }
  }

  /**
   * Frames `#buffer[from, n)` a slice at a time, so that a burst of requests whose replies are
   * large never queues much more than half the unsent cap before the client has had a chance to
   * read: a slow reader is waited for, and only a client that stopped reading is cut off.
   * Returns where it stopped: `n` when the read is framed, or the end of a slice after which
   * the replies must be relieved first.
   */
  #frame(n: number, from: number, now: number): number {
    const market = this.#host.market;
    const halfCap = this.#host.limits.maxUnsentBytes / 2;
    for (let offset = from, end = 0; offset < n; offset = end) {
      end = sliceEnd(this.#buffer, offset, n);
      // One clock reading per read where the market's clock is the wall clock; later slices of
      // a read may come after waiting for a slow reader, so they read the clock again.
      const marketNow = offset === 0 && market.wallClock ? now : market.now();
      if (!this.#session.receive(this.#buffer, offset, end, marketNow, this.#onAnswer)) {
        this.#tooLong = true;
        return n;
      }
      if (this.#closeAfter) return n;
      if (end < n && this.#replyBytes + this.outbox.unsent > halfCap) return end;
    }
    return n;
  }

  /** Takes one answer of the session, in request order. */
  readonly #onAnswer = (answer: Answer, request: Uint8Array, start: number, end: number) => {
    this.#requested = true;
    if (this.#closeAfter) return;
    if (answer.later !== undefined) {
      this.#later.push([this.#replies.length, answer.later, request.slice(start, end)]);
      this.#replies.push(answer.bytes);
      return;
    }
    this.#record(answer, request, start, end);
    const bytes = answer.watch === undefined ? answer.bytes : this.#applyWatch(answer);
    this.#replies.push(bytes);
    this.#replyBytes += bytes.length;
    if (answer.close) this.#closeAfter = true;
  };

  /**
   * Sends the replies gathered so far and waits while the client is behind: for a read whose
   * replies pile up, written slice by slice while the client is waited for. False when closed.
   */
  async #relieve(): Promise<boolean> {
    const { outbox } = this;
    const { maxUnsentBytes } = this.#host.limits;
    if (this.#later.length > 0) await this.#settle();
    this.#stats.bytesOut += this.#replyBytes;
    outbox.sendAll(this.#replies, this.#replyBytes);
    clearArray(this.#replies);
    this.#replyBytes = 0;
    if (this.closing) return false;
    if (outbox.unsent > maxUnsentBytes && !await this.#keepsUp()) return false;
    while (!this.#stalled && outbox.unsent > maxUnsentBytes / 2) {
      this.#stalled = !await outbox.progressed(STALL_MS);
    }
    return !this.closing;
  }

  /**
   * Fills in the replies read from storage, in their places: only this connection waits for
   * them, and only a read that has one pays an `await`.
   */
  async #settle(): Promise<void> {
    for (const [index, promise, request] of this.#later) {
      const answer = await promise;
      this.#record(answer, request, 0, request.length);
      this.#replies[index] = answer.bytes;
      this.#replyBytes += answer.bytes.length;
    }
    this.#later.length = 0;
  }

  /** Ends the replies to this read with the session's farewell for a request over the cap. */
  #refuseTooLong(): void {
    const { maxRequestBytes } = this.#host.limits;
    count(this.#stats.errors, "LINE_TOO_LONG");
    this.#host.log(`${this.address} LINE_TOO_LONG: request over ${maxRequestBytes} bytes`);
    const message = `Request longer than ${maxRequestBytes} bytes: closing`;
    const bytes = this.#session.farewell?.("LINE_TOO_LONG", message) ?? new Uint8Array(0);
    this.#replies.push(bytes);
    this.#replyBytes += bytes.length;
    this.#closeAfter = true;
  }

  /** Gives every later read to the session an answer switched to, and moves its counts there. */
  #switchSession(next: Session): void {
    const same = next.transport === this.#session.transport;
    this.#session = next;
    if (same) return;
    // The connection is counted once, under the transport it speaks now, so totals stay true.
    this.#stats.connectionsOpen--;
    this.#stats.connectionsServed--;
    this.#stats = this.#host.statsOf(next.transport);
    this.#stats.connectionsOpen++;
    this.#stats.connectionsServed++;
  }

  /**
   * Waits while more than the cap is unsent and the client keeps taking bytes; closes the
   * connection once it has taken none for {@linkcode STALL_MS}. So a client that reads is never
   * cut off, however large one reply is (a `MARKET ALL` can be larger than a small cap), and one
   * that does not read holds at most the cap plus the replies to one read. False when closed.
   */
  async #keepsUp(): Promise<boolean> {
    while (this.outbox.unsent > this.#host.limits.maxUnsentBytes && !this.closing) {
      if (!await this.outbox.progressed(STALL_MS)) return !this.overflowing();
    }
    return !this.closing;
  }

  /**
   * Closes the connection when more than the cap is unsent and its socket has taken no bytes
   * for {@linkcode STALL_MS}; true when it did.
   */
  overflowing(): boolean {
    const { outbox } = this;
    const { maxUnsentBytes } = this.#host.limits;
    if (outbox.unsent <= maxUnsentBytes) return false;
    if (outbox.writeStart !== 0 && Date.now() - outbox.writeStart < STALL_MS) return false;
    count(this.#stats.errors, "UNSENT_LIMIT");
    const why = `more than ${maxUnsentBytes} bytes of replies not read`;
    this.#host.log(`${this.address} closed: ${why}`);
    this.release(this.#session.overflow?.(why));
    return true;
  }

  /** Asks an idle peer, once per idle spell, to show it is there, when its session can. */
  keepAlive(now: number): void {
    if (this.#session.keepAlive === undefined || this.#pingedAt > this.lastRequest) return;
    this.#pingedAt = now;
    const ping = this.#session.keepAlive();
    this.#stats.bytesOut += ping.length;
    this.outbox.send(ping);
  }

  /** Queues one WATCH update event line, framed for the session's transport. */
  sendEvent(line: Uint8Array): void {
    const bytes = this.#session.event(line);
    this.#stats.eventsSent++;
    this.#stats.bytesOut += bytes.length;
    this.outbox.send(bytes);
  }

  /** Applies WATCH or UNWATCH to the connection and returns the reply to send. */
  #applyWatch(answer: Answer): Uint8Array {
    const change = answer.watch!;
    const { watches } = this.#host;
    if (!("add" in change)) {
      return this.#session.event(encodeWatchList(watches.unwatch(this, change.remove)));
    }
    const result = watches.watch(this, change.add);
    if (result.ok) return answer.bytes;
    count(this.#stats.errors, "BAD_REQUEST");
    const message =
      `At most ${MAX_WATCHED} symbols can be watched per connection; ${result.watching} already are`;
    return this.#session.event(encodeError("BAD_REQUEST", message));
  }

  /** Counts an answer; logs it when it is an error. The request is `request[start, end)`. */
  #record(answer: Answer, request: Uint8Array, start: number, end: number): void {
    if (answer.command !== null) count(this.#stats.requests, answer.command);
    if (answer.error === null) return;
    count(this.#stats.errors, answer.error);
    if (this.#loggedErrors < LOGGED_ERRORS_PER_CONNECTION) {
      this.#loggedErrors++;
      const more = this.#loggedErrors === LOGGED_ERRORS_PER_CONNECTION
        ? " (further errors on this connection are not logged)"
        : "";
      const sample = sampleBytes(request.subarray(start, end));
      this.#host.log(`${this.address} ${answer.error}: ${sample}${more}`);
    }
  }

  #logPeerError(what: string, error: unknown): void {
    const name = error instanceof Error ? error.name : "Error";
    // Resets and broken pipes are what clients do; they are not the server's errors.
    const quiet = name === "ConnectionReset" || name === "BrokenPipe" || name === "UnexpectedEof";
    if (!quiet) this.#host.log(`${this.address} ${what} failed: ${(error as Error).message}`);
  }

  /** Counts an error code against this connection's transport. */
  countError(code: string): void {
    count(this.#stats.errors, code);
  }

  /**
   * Closes the connection past a deadline: counted as `TIMEOUT`, logged, and with the session's
   * farewell for `code` when one is given.
   */
  expire(code: ErrorCode | null, why: string): void {
    count(this.#stats.errors, "TIMEOUT");
    this.#host.log(`${this.address} closed: ${why}`);
    const farewell = code === null ? undefined : this.#session.farewell?.(code, `Closing: ${why}`);
    this.release(farewell);
  }

  /** Undoes the connection's bookkeeping and closes it, after a last reply when one is given. */
  release(farewell?: Uint8Array): void {
    this.closing = true;
    if (this.released) return;
    this.released = true;
    this.#stats.connectionsOpen--;
    this.#host.released(this);
    if (farewell !== undefined) writeThenClose(this.conn, farewell);
    else closeQuietly(this.conn);
  }
}

/** The peer's address of `conn`, or "unknown" when the socket is already gone. */
export function describePeer(conn: Conn): { address: string; ip: string } {
  try {
    return describeAddress(conn.remoteAddr);
  } catch {
    return { address: "unknown", ip: "unknown" };
  }
}
