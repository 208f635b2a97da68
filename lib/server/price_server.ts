/**
 * The socket server: accepts connections on one or more listeners (JSON lines over TCP or TLS,
 * and whatever other {@linkcode Session}s they are given), admits them under caps shared by every
 * listener, runs a {@linkcode ServerConnection} per connection, sweeps deadlines, fans WATCH
 * events out and shuts down gracefully.
 *
 * @module
 */

import type { Market, UpdateEvents } from "./market.ts";
import type { SessionFactory } from "./session.ts";
import { lineSessions } from "./line_session.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { Admissions } from "./admission.ts";
import { type ConnectionHost, describePeer, ServerConnection } from "./server_connection.ts";
import { count, ServerStats } from "./server_stats.ts";
import { WatchRegistry } from "./watch_registry.ts";
import type { Conn, Listener } from "../net/conn.ts";
import { closeQuietly, writeThenClose } from "../net/lingering_close.ts";
import { MAX_WATCHED } from "../wire/protocol.ts";

export { DEFAULT_LIMITS, type Limits } from "./limits.ts";
export { ServerStats, type TransportStats } from "./server_stats.ts";

/** One listener of a {@linkcode PriceServer} and what its connections speak. */
export interface ServedListener {
  /** A listener from `Deno.listen`, `listenTlsSockets`, ...; the server owns it. */
  readonly listener: Listener;
  /** Whether its connections need a TLS handshake first (`handshake()` on each). */
  readonly tls?: boolean;
  /** Makes each connection's session; the JSON-lines protocol when not given. */
  readonly sessions?: SessionFactory;
}

/** Options of a {@linkcode PriceServer}. */
export interface ServerOptions {
  market: Market;
  /**
   * For a listener given bare (not as a {@linkcode ServedListener}): whether it is a TLS
   * listener, whose connections need a handshake first.
   */
  tls?: boolean;
  /** Limits per connection; the connection caps are shared by every listener. */
  limits?: Partial<Limits>;
  /** Where log lines go; one call a line. */
  log?: (line: string) => void;
}

/** At shutdown, a connection quiet for this long with nothing to write is closed. */
const QUIET_MS = 50;
/** At shutdown, connections still busy after this long are closed anyway. */
const SHUTDOWN_GRACE_MS = 4000;

function isListenerClosed(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}

/** An accept error that concerns one connection, already reset by its peer, not the listener. */
function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.ConnectionAborted;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Served {
  readonly listener: Listener;
  readonly tls: boolean;
  readonly sessions: SessionFactory;
}

/**
 * Serves one or more listeners. `serve()` runs an accept loop per listener until `shutdown()`;
 * one {@linkcode ServerConnection} runs per connection.
 */
export class PriceServer implements AsyncDisposable {
  readonly limits: Readonly<Limits>;
  /** Counters per transport, with totals. */
  readonly stats: ServerStats = new ServerStats();
  readonly #served: readonly Served[];
  readonly #market: Market;
  readonly #log: (line: string) => void;
  readonly #admissions: Admissions<ServerConnection>;
  readonly #handlers = new Set<Promise<void>>();
  readonly #watches = new WatchRegistry<ServerConnection>(MAX_WATCHED);
  readonly #host: ConnectionHost;
  readonly #unsubscribe: () => void;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  /** Connections that reset before they were accepted, for the log. */
  #peerGone = 0;
  /** TLS handshakes that failed, timed out or were dropped for room, for the log. */
  #handshakesDropped = 0;
  #serving: Promise<void> | null = null;

  /**
   * @param listeners a listener (JSON lines, TLS when `options.tls`), or listeners each with
   *   its sessions; the server owns them
   */
  constructor(
    listeners: Listener | ServedListener | readonly ServedListener[],
    options: ServerOptions,
  ) {
    const given = Array.isArray(listeners) ? listeners : [listeners];
    if (given.length === 0) throw new TypeError("Cannot serve no listener: expected at least one");
    this.#market = options.market;
    const lines = lineSessions(this.#market);
    this.#served = given.map((entry: Listener | ServedListener) =>
      "accept" in entry
        ? { listener: entry, tls: options.tls ?? false, sessions: lines }
        : { listener: entry.listener, tls: entry.tls ?? false, sessions: entry.sessions ?? lines }
    );
    this.#log = options.log ?? ((line) => console.log(line));
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.#admissions = new Admissions(this.limits);
    this.#host = {
      limits: this.limits,
      market: this.#market,
      watches: this.#watches,
      log: this.#log,
      statsOf: (transport) => this.stats.of(transport),
      released: (conn) => {
        this.#watches.remove(conn);
        this.#admissions.remove(conn);
      },
      dropHandshake: (conn, why) => this.#dropHandshake(conn, why),
    };
    this.#unsubscribe = this.#market.onUpdate((events) => this.#publish(events));
  }

  /** The address the (first) listener is bound to. */
  get addr(): Deno.NetAddr {
    return this.#served[0].listener.addr as Deno.NetAddr;
  }

  /** Connections watching at least one symbol. */
  get watchers(): number {
    return this.#watches.size;
  }

  /** The addresses of every listener, in the order given. */
  get addrs(): Deno.NetAddr[] {
    return this.#served.map((served) => served.listener.addr as Deno.NetAddr);
  }

  /** Starts the accept loops; resolves when the server has shut down. */
  serve(): Promise<void> {
    this.#serving ??= this.#run();
    return this.#serving;
  }

  async #run(): Promise<void> {
    const { requestTimeoutMs, idleTimeoutMs, tlsHandshakeTimeoutMs } = this.limits;
    const deadlines = [requestTimeoutMs, idleTimeoutMs, tlsHandshakeTimeoutMs].filter((ms) =>
      ms > 0
    );
    const sweepEvery = Math.max(10, Math.min(1000, ...deadlines.map((ms) => ms / 4)));
    this.#sweeper = setInterval(() => this.#sweep(), sweepEvery);
    await Promise.all(this.#served.map((served) => this.#acceptLoop(served)));
    await this.#drain();
  }

  async #acceptLoop(served: Served): Promise<void> {
    let backoffMs = 0;
    while (!this.#stopping) {
      let conn: Conn;
      try {
        conn = await served.listener.accept();
        backoffMs = 0;
      } catch (error) {
        if (this.#stopping || isListenerClosed(error)) break;
        if (isPeerGone(error)) {
          // A client connected and reset before we took it: only its own connection is gone,
          // so take the next one at once; logging the 1st, 2nd, 4th, 8th… keeps the log short.
          if ((++this.#peerGone & (this.#peerGone - 1)) === 0) {
            this.#log(`accept failed: ${(error as Error).message} (${this.#peerGone} so far)`);
          }
          await sleep(0);
          continue;
        }
        // A full descriptor table must not end the accept loop either: log, wait a little
        // longer each time, and go on.
        backoffMs = Math.min(1000, backoffMs === 0 ? 5 : backoffMs * 2);
        this.#log(`accept failed: ${(error as Error).message}; retrying in ${backoffMs} ms`);
        await sleep(backoffMs);
        continue;
      }
      if (this.#stopping) {
        closeQuietly(conn);
        break;
      }
      this.#admit(conn, served);
    }
  }

  #admit(conn: Conn, served: Served): void {
    const { address } = describePeer(conn);
    const { tls } = served;
    const session = served.sessions({ address, tls, maxRequestBytes: this.limits.maxRequestBytes });
    const stats = this.stats.of(session.transport);
    const victim = this.#admissions.toDropFor(tls);
    if (victim !== undefined) {
      this.#dropHandshake(victim, "closed to make room: TLS handshake not done");
    }
    const connection = new ServerConnection(conn, tls, session, stats, this.#host, Date.now());
    const admission = this.#admissions.admit(connection);
    if (!admission.admitted) {
      this.#log(`refused ${address}: ${admission.reason}`);
      count(stats.errors, "BUSY");
      const message = `Server busy: ${admission.reason}, try again later`;
      writeThenClose(conn, session.farewell?.("BUSY", message) ?? new Uint8Array(0));
      return;
    }
    stats.connectionsOpen++;
    stats.connectionsServed++;
    const handler = connection.serve().finally(() => this.#handlers.delete(handler));
    this.#handlers.add(handler);
  }

  /** Pushes each changed coin's event line to the connections watching it. */
  #publish(events: UpdateEvents): void {
    const touched = new Set<ServerConnection>();
    for (const [symbol, line] of events) {
      const watchers = this.#watches.watchersOf(symbol);
      if (watchers === undefined) continue;
      for (const connection of watchers) {
        if (connection.closing) continue;
        connection.sendEvent(line);
        touched.add(connection);
      }
    }
    for (const connection of touched) connection.overflowing();
  }

  /** Closes connections past a deadline; run on a timer so no read needs a timer of its own. */
  #sweep(): void {
    const now = Date.now();
    const { requestTimeoutMs, idleTimeoutMs, tlsHandshakeTimeoutMs } = this.limits;
    for (const connection of this.#admissions) {
      if (connection.closing) continue;
      if (connection.handshaking) {
        if (now - connection.lastActivity > tlsHandshakeTimeoutMs) {
          this.#dropHandshake(
            connection,
            `closed: TLS handshake not done within ${tlsHandshakeTimeoutMs} ms`,
          );
        }
      } else if (connection.outbox.writeStart !== 0) {
        // A client that stopped reading while we write: the same deadline as a slow request.
        if (now - connection.outbox.writeStart > requestTimeoutMs) {
          connection.expire(null, `replies not read within ${requestTimeoutMs} ms`);
        }
      } else if (connection.requestStart !== 0) {
        if (now - connection.requestStart > requestTimeoutMs) {
          connection.expire("TIMEOUT", `request not complete within ${requestTimeoutMs} ms`);
        }
      } else if (idleTimeoutMs > 0 && now - connection.lastRequest > idleTimeoutMs) {
        connection.expire("TIMEOUT", `no request for ${idleTimeoutMs} ms`);
      } else if (idleTimeoutMs > 0 && now - connection.lastRequest > idleTimeoutMs / 2) {
        connection.keepAlive(now);
      }
    }
  }

  /**
   * Closes a connection whose TLS handshake failed, took too long or makes room. Logs the 1st,
   * 2nd, 4th, 8th… only, so a flood of silent TLS clients does not flood the log.
   */
  #dropHandshake(connection: ServerConnection, why: string): void {
    connection.countError("TLS_HANDSHAKE");
    const n = ++this.#handshakesDropped;
    if ((n & (n - 1)) === 0) this.#log(`${connection.address} ${why} (${n} so far)`);
    connection.release();
  }

  /**
   * Stops accepting, lets every connection finish the replies it has been asked for, then
   * closes what is left. Resolves when every connection is closed.
   */
  async shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const served of this.#served) closeQuietly(served.listener);
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
    while (this.#admissions.size > 0 && Date.now() < deadline) {
      const now = Date.now();
      for (const connection of this.#admissions) {
        if (connection.outbox.unsent === 0 && now - connection.lastActivity >= QUIET_MS) {
          connection.release();
        }
      }
      if (this.#admissions.size > 0) await sleep(QUIET_MS / 2);
    }
    for (const connection of this.#admissions) connection.release();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await Promise.allSettled([...this.#handlers]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
