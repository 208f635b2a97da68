/**
 * Replies and events on one connection: requests are pipelined and their replies matched by
 * order; lines the server pushes on its own (`{"event": ...}`) go to the event receivers and are
 * never taken for a reply. It parses JSON but knows no command.
 *
 * @module
 */

import { ConnectionError, type ConnectionErrorCode } from "./errors.ts";
import { type LineConnection, networkErrorReason, TIMED_OUT, withTimeout } from "./connection.ts";

const encoder = new TextEncoder();

/** A line the server pushed on its own, e.g. `{"status":"OK","event":"update","data":{...}}`. */
export interface ServerEvent {
  event: unknown;
  data: unknown;
}

/** A request waiting for its reply line. */
interface Pending {
  resolve(value: unknown): void;
  reject(err: ConnectionError): void;
}

/** Matches the replies of one connection to its requests and hands events out. */
export class ReplyDemux {
  readonly #conn: LineConnection;
  /** Tail of the write chain; it never rejects. */
  #writes: Promise<void> = Promise.resolve();
  /** Requests written or being written, oldest first; replies are matched to them by order. */
  #pending: Pending[] = [];
  /** The read loop while it runs: it runs while a reply is due or events are listened to. */
  #reading: Promise<void> | undefined;
  /** Receivers of events; while there are any, the read loop keeps reading. */
  readonly #listeners = new Set<(event: ServerEvent) => void>();
  /** Set once the connection is unusable; later requests fail with it. */
  #broken: ConnectionError | undefined;
  readonly #closed = Promise.withResolvers<ConnectionError>();

  constructor(conn: LineConnection) {
    this.#conn = conn;
  }

  /** `host:port` of the connection. */
  get address(): string {
    return this.#conn.address;
  }

  /** Resolves, never rejects, once the connection is unusable; the value says why. */
  get closed(): Promise<ConnectionError> {
    return this.#closed.promise;
  }

  /**
   * Sends `body` as one JSON line and resolves with the parsed reply line.
   *
   * @throws {ConnectionError} when the connection fails, times out or a line is not JSON
   */
  async request(body: Record<string, unknown>): Promise<unknown> {
    if (this.#broken) throw this.#broken;
    const line = encoder.encode(JSON.stringify(body) + "\n");
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.push({ resolve, reject });
    const written = this.#writes.then(() => this.#conn.write(line));
    this.#writes = written.catch((err) => void this.fail(asConnectionError(err, this.address)));
    this.#read();
    try {
      return await withTimeout(promise, this.#conn.timeoutMs);
    } catch (err) {
      if (err === TIMED_OUT) {
        // Closing the connection ends the pending read at once; wait for it so that no
        // operation outlives this call.
        this.fail(`No reply from ${this.address} within ${this.#conn.timeoutMs} ms`, "TIMED_OUT");
        await this.#reading;
      }
      throw this.fail(asConnectionError(err, this.address));
    }
  }

  /** Starts passing events to `listener` (and reading while there are listeners). */
  listen(listener: (event: ServerEvent) => void): void {
    if (this.#broken) return;
    this.#listeners.add(listener);
    this.#read();
  }

  /** Stops passing events to `listener`, or to every listener when none is given. */
  unlisten(listener?: (event: ServerEvent) => void): void {
    if (listener === undefined) this.#listeners.clear();
    else this.#listeners.delete(listener);
  }

  /** Marks the connection unusable (the stream position is unknown now) and closes it. */
  fail(reason: string | ConnectionError, code: ConnectionErrorCode = "PROTOCOL"): ConnectionError {
    const err = typeof reason === "string" ? new ConnectionError(reason, { code }) : reason;
    if (this.#broken === undefined) {
      this.#broken = err;
      this.#conn.close();
      for (const pending of this.#pending.splice(0)) pending.reject(err);
      this.#listeners.clear();
      this.#closed.resolve(err);
    }
    return this.#broken;
  }

  /** Waits until no read of the connection is left running. */
  async drained(): Promise<void> {
    await this.#reading;
  }

  /** Starts the read loop unless it runs. */
  #read(): void {
    if (this.#reading !== undefined) return;
    this.#reading = this.#readLoop().finally(() => {
      this.#reading = undefined;
      // A request may have come in while the loop was finishing.
      if ((this.#pending.length > 0 || this.#listeners.size > 0) && !this.#broken) this.#read();
    });
  }

  /** Reads lines while replies are due or events listened to; hands replies and events out. */
  async #readLoop(): Promise<void> {
    try {
      while (!this.#broken && (this.#pending.length > 0 || this.#listeners.size > 0)) {
        const line = await this.#conn.readLine();
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          throw new ConnectionError(`Unexpected reply from ${this.address}: not JSON`, {
            code: "PROTOCOL",
          });
        }
        if (isEvent(message)) {
          for (const listener of this.#listeners) listener(message);
          continue;
        }
        const pending = this.#pending.shift();
        if (pending === undefined) {
          throw new ConnectionError(`Unexpected reply from ${this.address}: nothing was asked`, {
            code: "PROTOCOL",
          });
        }
        pending.resolve(message);
      }
    } catch (err) {
      this.fail(asConnectionError(err, this.address));
    }
  }
}

function asConnectionError(err: unknown, address: string): ConnectionError {
  return err instanceof ConnectionError
    ? err
    : new ConnectionError(`Connection to ${address} failed: ${networkErrorReason(err)}`, {
      cause: err,
    });
}

function isEvent(message: unknown): message is ServerEvent {
  return typeof message === "object" && message !== null && !Array.isArray(message) &&
    "event" in message;
}
