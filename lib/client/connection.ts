/**
 * The client's byte pipe: a TCP or TLS connection to the price server that writes lines and
 * reads lines into one reused buffer. It knows nothing of JSON or of the protocol.
 *
 * @module
 */

import { ConnectionError, type ConnectionErrorCode } from "./errors.ts";
import { writeAll } from "../net/write_all.ts";

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
  /** Whether any byte came from the server yet. */
  #answered = false;

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
        throw new ConnectionError(`Cannot connect to ${address}: ${networkErrorReason(err)}`, {
          cause: err,
          code: "UNREACHABLE",
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
        const { code, reason } = describeTls(err);
        throw new ConnectionError(`TLS handshake with ${address} failed: ${reason}`, {
          cause: err,
          code,
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
          { code: "TLS_NOT_SPOKEN" },
        );
      }
      // A TCP connect cannot be cancelled; close the connection should it still come.
      opened.then((c) => c.close(), () => {});
      throw new ConnectionError(`Cannot connect to ${address}: timed out after ${timeoutMs} ms`, {
        code: "UNREACHABLE",
      });
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
          `Reply from ${this.address} is larger than ${this.#maxReplyBytes} bytes`,
          { code: "PROTOCOL" },
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
        const tls = pending > 0 && (head === 0x15 || head === 0x16);
        if (tls || this.#answered) {
          throw new ConnectionError(
            `Connection to ${this.address} closed by the server${tls ? " (it expects TLS)" : ""}`,
            { code: tls ? "TLS_EXPECTED" : "CLOSED" },
          );
        }
        // A TLS server that gets a JSON line may close without a word.
        throw new ConnectionError(
          `Connection to ${this.address} closed by the server before it answered`,
          { code: "CLOSED_UNANSWERED" },
        );
      }
      scanned = this.#start + pending;
      this.#end += n;
      if (n > 0) this.#answered = true;
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
    return new ConnectionError(`Connection to ${this.address} is closed`, { code: "CLOSED" });
  }

  #ioError(err: unknown): ConnectionError {
    if (this.#closed) return this.#closedError();
    if (
      err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
      err instanceof Deno.errors.UnexpectedEof || err instanceof Deno.errors.ConnectionAborted
    ) {
      return new ConnectionError(`Connection to ${this.address} closed by the server`, {
        cause: err,
        code: "CLOSED",
      });
    }
    return new ConnectionError(`Connection to ${this.address} failed: ${networkErrorReason(err)}`, {
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
export function networkErrorReason(err: unknown): string {
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
function describeTls(err: unknown): { code: ConnectionErrorCode; reason: string } {
  const message = err instanceof Error ? err.message : String(err);
  const reason = tlsReason(err, message);
  const code: ConnectionErrorCode = /UnknownIssuer/.test(message)
    ? "TLS_UNTRUSTED"
    : /InvalidContentType|corrupt message/.test(message)
    ? "TLS_NOT_SPOKEN"
    : /invalid peer certificate/i.test(message)
    ? "TLS_REFUSED"
    : "FAILED";
  return { code, reason };
}

function tlsReason(err: unknown, message: string): string {
  if (/UnknownIssuer/.test(message)) return "certificate is not trusted (unknown issuer)";
  // rustls refuses a CA certificate (basicConstraints CA:TRUE, what a bare `openssl req -x509`
  // makes) as a server's own certificate: "invalid peer certificate: ... CaUsedAsEndEntity".
  if (/CaUsedAsEndEntity/i.test(message)) {
    return "the server's certificate is a CA certificate (CA:TRUE), which is refused as a " +
      "server's own; make a fitting one with `deno task cert`, or with openssl add " +
      '-addext "basicConstraints=critical,CA:FALSE" -addext "subjectAltName=DNS:<host>"';
  }
  if (/NotValidForName/.test(message)) return "certificate is not valid for this host name";
  // The trusted certificate names the server's issuer but another key signed it: most often the
  // server's certificate was made anew (e.g. `deno task cert` again) and the client trusts the
  // old file, or the server still runs with the old one.
  if (/BadSignature/i.test(message)) {
    return "the server's certificate is not signed by the certificate passed with --ca (was " +
      "one of them made anew? pass the server's current certificate with --ca, or restart " +
      "the server so it uses the new one)";
  }
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
