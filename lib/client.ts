/**
 * A client for the price server's JSON-lines protocol over TCP or TLS.
 *
 * ```ts
 * await using client = await PriceClient.connect({ host: "127.0.0.1", port: 8000 });
 * const btc = await client.market("BTC");
 * ```
 *
 * @module
 */

/** A coin as the server sends it in v2 replies. */
export interface CoinView {
  /** Ticker in upper case, e.g. `BTC`. */
  symbol: string;
  /** Display name, e.g. `Bitcoin`. */
  name: string;
  /** Price in {@linkcode CoinView.currency}. */
  price: number;
  /** Quote currency, e.g. `USD`. */
  currency: string;
  /** Market-cap rank, 1 = largest. */
  rank: number;
  market_cap: number | null;
  /** Price change over 24 hours in percent. */
  change_24h: number | null;
  /** When the upstream last updated this coin (ISO-8601). */
  updated_at: string | null;
  /** When the server fetched the snapshot this coin belongs to (ISO-8601). */
  fetched_at: string;
  /** Provider of the data, e.g. `coingecko`. */
  source: string;
  /** True when the server could not refresh its data recently. */
  stale: boolean;
}

/** One reply line from the server. */
export type Reply =
  | { status: "OK"; data: unknown }
  | { status: "ERROR"; code: string; data: string };

/** The server answered with `"status":"ERROR"`; `message` is the server's text for a person. */
export class ServerError extends Error {
  override name = "ServerError";
  /** The protocol error code, e.g. `UNKNOWN_COIN`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * The server could not be reached, the connection broke, timed out or carried something that is
 * not the protocol. The message is one line meant for a person.
 */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** Options for {@linkcode PriceClient.connect}. */
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

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A connection to the price server. */
export class PriceClient implements AsyncDisposable {
  /** `host:port` as used in error messages. */
  readonly address: string;
  #conn: Deno.Conn;
  #timeoutMs: number;
  #maxReplyBytes: number;
  /** Received bytes not yet returned live in `#buf[#start, #end)`. */
  #buf = new Uint8Array(READ_CHUNK);
  #start = 0;
  #end = 0;
  /** Tails of the write and read chains; they never reject. */
  #writes: Promise<void> = Promise.resolve();
  #reads: Promise<unknown> = Promise.resolve();
  /** Set once the connection is unusable; later requests fail with it. */
  #broken: ConnectionError | undefined;

  private constructor(conn: Deno.Conn, address: string, timeoutMs: number, maxReplyBytes: number) {
    this.#conn = conn;
    this.address = address;
    this.#timeoutMs = timeoutMs;
    this.#maxReplyBytes = maxReplyBytes;
  }

  /**
   * Connects (and for TLS completes the handshake, so certificate problems surface here).
   *
   * @throws {ConnectionError} when the server cannot be reached or the TLS handshake fails
   */
  static async connect(options: ConnectOptions): Promise<PriceClient> {
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
    return new PriceClient(conn, address, timeoutMs, maxReplyBytes);
  }

  /**
   * Sends one request object as a JSON line and returns the server's reply, which may be an
   * `ERROR` reply (use {@linkcode market}/{@linkcode marketAll} to get those thrown).
   * Concurrent requests are pipelined; replies are matched to requests by order.
   *
   * @throws {ConnectionError} when the connection fails, times out or the reply is not protocol
   */
  request(body: Record<string, unknown>): Promise<Reply> {
    const line = encoder.encode(JSON.stringify(body) + "\n");
    const written = this.#writes.then(() => this.#writeAll(line));
    this.#writes = written.catch(() => {});
    const read = Promise.all([written, this.#reads]).then(() => this.#readLine());
    this.#reads = read.catch(() => {});
    return this.#settle(read);
  }

  /**
   * All coins in rank order.
   *
   * @throws {ServerError} when the server answers with an error, e.g. `NO_DATA`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async marketAll(): Promise<CoinView[]> {
    const data = await this.#market("ALL");
    if (!Array.isArray(data) || !data.every(isCoinView)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a list of coins`);
    }
    return data;
  }

  /**
   * One coin by symbol (case-insensitive).
   *
   * @throws {RangeError} when `symbol` is empty, contains spaces or is `ALL`
   * @throws {ServerError} when the server answers with an error, e.g. `UNKNOWN_COIN`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async market(symbol: string): Promise<CoinView> {
    if (!isSymbol(symbol)) {
      throw new RangeError(`Coin symbol must be one word other than ALL, got "${symbol}"`);
    }
    const data = await this.#market(symbol);
    if (!isCoinView(data)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a coin`);
    }
    return data;
  }

  /** Closes the connection; pending and later requests fail with a {@linkcode ConnectionError}. */
  close(): void {
    if (this.#broken === undefined) {
      this.#broken = new ConnectionError(`connection to ${this.address} is closed`);
    }
    closeQuietly(this.#conn);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  async #market(what: string): Promise<unknown> {
    const reply = await this.request({ status: "OK", data: `MARKET ${what}`, v: 2 });
    if (reply.status === "ERROR") throw new ServerError(reply.code, reply.data);
    return reply.data;
  }

  async #settle(reply: Promise<string>): Promise<Reply> {
    try {
      return parseReply(await withTimeout(reply, this.#timeoutMs), this.address);
    } catch (err) {
      if (err === TIMED_OUT) {
        // Closing the connection ends the pending read at once; wait for it so that no
        // operation outlives this call.
        this.#fail(`no reply from ${this.address} within ${this.#timeoutMs} ms`);
        await reply.catch(() => {});
      }
      if (err instanceof ConnectionError) throw this.#fail(err);
      throw this.#fail(`connection to ${this.address} failed: ${describe(err)}`, err);
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    if (this.#broken) throw this.#broken;
    try {
      for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
    } catch (err) {
      throw this.#ioError(err);
    }
  }

  async #readLine(): Promise<string> {
    if (this.#broken) throw this.#broken;
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

  #ioError(err: unknown): ConnectionError {
    if (this.#broken) return this.#broken;
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

  /** Marks the connection unusable (the stream position is unknown now) and closes it. */
  #fail(reason: string | ConnectionError, cause?: unknown): ConnectionError {
    const err = typeof reason === "string" ? new ConnectionError(reason, { cause }) : reason;
    if (this.#broken === undefined) {
      this.#broken = err;
      closeQuietly(this.#conn);
    }
    return this.#broken;
  }
}

/** Whether `symbol` can be sent as `MARKET <symbol>` to look up one coin. */
export function isSymbol(symbol: string): boolean {
  return /^\S{1,64}$/.test(symbol) && symbol.toUpperCase() !== "ALL";
}

function parseReply(line: string, address: string): Reply {
  let reply: unknown;
  try {
    reply = JSON.parse(line);
  } catch {
    throw new ConnectionError(`unexpected reply from ${address}: not JSON`);
  }
  if (typeof reply === "object" && reply !== null && "status" in reply) {
    const r = reply as Record<string, unknown>;
    if (r.status === "OK") return { status: "OK", data: r.data };
    if (r.status === "ERROR") {
      return {
        status: "ERROR",
        code: typeof r.code === "string" ? r.code : "UNKNOWN",
        data: typeof r.data === "string" ? r.data : "the server reported an error",
      };
    }
  }
  throw new ConnectionError(`unexpected reply from ${address}: no OK or ERROR status`);
}

function isCoinView(v: unknown): v is CoinView {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.symbol === "string" && typeof c.name === "string" &&
    typeof c.price === "number" && typeof c.rank === "number";
}

const TIMED_OUT = Symbol("timed out");

/** Settles like `p`, or rejects with {@linkcode TIMED_OUT} after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(TIMED_OUT), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
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

/** A short lower-case reason for a connect or I/O error. */
function describe(err: unknown): string {
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

/** A short reason for a failed TLS handshake, naming the usual certificate problems plainly. */
function describeTls(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/UnknownIssuer/.test(message)) return "certificate is not trusted (unknown issuer)";
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
