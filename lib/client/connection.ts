/**
 * The client's byte pipe: a TCP or TLS connection to the price server that writes lines and
 * reads lines into one reused buffer. It knows nothing of JSON or of the protocol.
 *
 * @module
 */

import { writeAll } from "../net/write_all.ts";

/**
 * The server could not be reached, the connection broke, timed out or carried something that is
 * not the protocol. The message is one line meant for a person.
 */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** Options for {@linkcode LineConnection.open}. */
export interface ConnectOptions {
  /** Host name or IP address. */
  host: string;
  port: number;
  /** Use TLS (implied by `caCerts`). The certificate and host name are always verified. */
  tls?: boolean;
  /** PEM certificates to trust in addition to the default root store. */
  caCerts?: string[];
  /** Limit for connecting and for each request, in milliseconds; default 10 000. */
  timeoutMs?: number;
  /** Largest reply accepted, in bytes; default 16 MiB. */
  maxReplyBytes?: number;
}

/** The default of {@linkcode ConnectOptions.timeoutMs}. */
export const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
const decoder = new TextDecoder();

/** A connection that reads and writes lines. */
export class LineConnection {
  /** `host:port` as used in error messages. */
  readonly address: string;
  /** The limit given at open, for the layers above. */
  readonly timeoutMs: number;
  readonly #conn: Deno.Conn;
  readonly #maxReplyBytes: number;
  /** Received bytes not yet returned live in `#buf[#start, #end)`. */
  #buf = new Uint8Array(READ_CHUNK);
  #start = 0;
  #end = 0;
  #closed = false;

  private constructor(conn: Deno.Conn, address: string, timeoutMs: number, maxReplyBytes: number) {
    this.#conn = conn;
    this.address = address;
    this.timeoutMs = timeoutMs;
    this.#maxReplyBytes = maxReplyBytes;
  }

  /**
   * Connects (and for TLS completes the handshake, so certificate problems surface here).
   *
   * @throws {ConnectionError} when the server cannot be reached or the TLS handshake fails
   */
  static async open(options: ConnectOptions): Promise<LineConnection> {
    const { host, port, caCerts } = options;
    const tls = options.tls === true || caCerts !== undefined;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`Port must be an integer from 1 to 65535, got ${port}`);
    }
    if (!(timeoutMs > 0)) throw new RangeError(`Timeout must be positive, got ${timeoutMs}`);
    const address = formatAddress(host, port);

    /** The TLS connection while its handshake runs, so a timeout can abort it. */
    let handshaking: Deno.TlsConn | undefined;
    const opened = (async () => {
      let tcp: Deno.TcpConn;
      try {
        tcp = await Deno.connect({ hostname: host, port });
      } catch (err) {
        throw new ConnectionError(`cannot connect to ${address}: ${describe(err)}`, {
          cause: err,
        });
      }
      // Requests are small and latency-bound; do not let Nagle hold them back.
      tcp.setNoDelay(true);
      if (!tls) return tcp as Deno.Conn;
      let conn: Deno.TlsConn | undefined;
      try {
        conn = handshaking = await Deno.startTls(tcp, { hostname: unbracket(host), caCerts });
        await conn.handshake();
        handshaking = undefined;
        return conn;
      } catch (err) {
        closeQuietly(conn ?? tcp);
        throw new ConnectionError(`TLS handshake with ${address} failed: ${describeTls(err)}`, {
          cause: err,
        });
      }
    })();
    let conn: Deno.Conn;
    try {
      conn = await withTimeout(opened, timeoutMs);
    } catch (err) {
      if (err !== TIMED_OUT) throw err;
      if (handshaking) {
        closeQuietly(handshaking);
        await opened.catch(() => {});
        throw new ConnectionError(
          `TLS handshake with ${address} failed: no reply within ${timeoutMs} ms (does the server use TLS?)`,
        );
      }
      // A TCP connect cannot be cancelled; close the connection should it still come.
      opened.then((c) => c.close(), () => {});
      throw new ConnectionError(`cannot connect to ${address}: timed out after ${timeoutMs} ms`);
    }
    return new LineConnection(conn, address, timeoutMs, maxReplyBytes);
  }

  /**
   * Writes all of `bytes`.
   *
   * @throws {ConnectionError} when the connection is closed or fails
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) throw this.#closedError();
    try {
      await writeAll(this.#conn, bytes);
    } catch (err) {
      throw this.#ioError(err);
    }
  }

  /**
   * The next line, without its newline.
   *
   * @throws {ConnectionError} when the server closes the connection, a line is longer than the
   * reply limit or the connection fails
   */
  async readLine(): Promise<string> {
    if (this.#closed) throw this.#closedError();
    let scanned = this.#start;
    for (;;) {
      // Bytes past #end are stale, so search only the live, not yet scanned part.
      const nl = this.#buf.subarray(scanned, this.#end).indexOf(NEWLINE);
      if (nl !== -1) {
        const end = scanned + nl;
        const text = decoder.decode(this.#buf.subarray(this.#start, end));
        this.#start = end + 1;
        if (this.#start === this.#end) this.#start = this.#end = 0;
        return text;
      }
      const pending = this.#end - this.#start;
      if (pending > this.#maxReplyBytes) {
        throw new ConnectionError(
          `reply from ${this.address} is larger than ${this.#maxReplyBytes} bytes`,
        );
      }
      this.#makeRoom();
      let n: number | null;
      try {
        n = await this.#conn.read(this.#buf.subarray(this.#end));
      } catch (err) {
        throw this.#ioError(err);
      }
      if (n === null) {
        const head = this.#buf[this.#start];
        // A TLS record (alert 0x15, handshake 0x16) where a JSON line was expected.
        const hint = pending > 0 && (head === 0x15 || head === 0x16) ? " (it expects TLS)" : "";
        throw new ConnectionError(`connection to ${this.address} closed by the server${hint}`);
      }
      scanned = this.#start + pending;
      this.#end += n;
    }
  }

  /** Closes the connection; a pending read ends with a {@linkcode ConnectionError}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn);
  }

  /** Ensures at least one chunk of free space after `#end`, compacting or growing the buffer. */
  #makeRoom(): void {
    if (this.#buf.length - this.#end >= READ_CHUNK) return;
    const used = this.#end - this.#start;
    if (this.#start > 0 && this.#buf.length - used >= READ_CHUNK) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, used + READ_CHUNK));
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = grown;
    }
    this.#start = 0;
    this.#end = used;
  }

  #closedError(): ConnectionError {
    return new ConnectionError(`connection to ${this.address} is closed`);
  }

  #ioError(err: unknown): ConnectionError {
    if (this.#closed) return this.#closedError();
    if (
      err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
      err instanceof Deno.errors.UnexpectedEof || err instanceof Deno.errors.ConnectionAborted
    ) {
      return new ConnectionError(`connection to ${this.address} closed by the server`, {
        cause: err,
      });
    }
    return new ConnectionError(`connection to ${this.address} failed: ${describe(err)}`, {
      cause: err,
    });
  }
}

/** Rejection value of {@linkcode withTimeout}. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/** Settles like `p`, or rejects with {@linkcode TIMED_OUT} after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(TIMED_OUT), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** A short lower-case reason for a connect or I/O error. */
export function describe(err: unknown): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.TimedOut) return "timed out";
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return "network access is not permitted (run with --allow-net)";
  }
  if (err instanceof Deno.errors.NetworkUnreachable) return "network unreachable";
  if (err instanceof Deno.errors.AddrNotAvailable) return "address not available";
  const message = err instanceof Error ? err.message : String(err);
  if (/lookup address|name or service not known|nodename nor servname/i.test(message)) {
    return "host not found";
  }
  return oneLine(message);
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // Already closed.
  }
}

function formatAddress(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** A short reason for a failed TLS handshake, naming the usual certificate problems plainly. */
function describeTls(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/UnknownIssuer/.test(message)) return "certificate is not trusted (unknown issuer)";
  // rustls refuses a CA certificate (basicConstraints CA:TRUE, what a bare `openssl req -x509`
  // makes) as a server's own certificate: "invalid peer certificate: ... CaUsedAsEndEntity".
  if (/CaUsedAsEndEntity/i.test(message)) {
    return "the server's certificate is a CA certificate (CA:TRUE), which is refused as a " +
      "server's own; make a fitting one with `deno task cert`, or with openssl add " +
      '-addext "basicConstraints=critical,CA:FALSE" -addext "subjectAltName=DNS:<host>"';
  }
  if (/NotValidForName/.test(message)) return "certificate is not valid for this host name";
  if (/Expired/.test(message)) return "certificate has expired";
  if (/NotValidYet/.test(message)) return "certificate is not valid yet";
  if (/InvalidContentType|corrupt message/.test(message)) return "the server does not speak TLS";
  if (
    err instanceof Deno.errors.UnexpectedEof || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe
  ) {
    return "connection closed by the server";
  }
  return oneLine(message);
}

function oneLine(message: string): string {
  return message.replace(/\s*\(os error \d+\)/, "").replace(/\s+/g, " ").trim().toLowerCase();
}
