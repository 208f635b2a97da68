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

import {
  type ErrorCode,
  HISTORY_RANGES,
  type HistoryRange,
  isCurrencyCode,
  isErrorCode,
  isHistoryRange,
  isSymbol,
  MAX_WATCHED,
  type Reply,
  UPDATE_EVENT,
} from "../wire/protocol.ts";
import { sample } from "../util/sample.ts";

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

/** A coin's stored prices over a window, as `HISTORY` sends them. */
export interface History {
  /** Ticker in upper case. */
  symbol: string;
  range: HistoryRange;
  /** Currency of the prices, e.g. `USD`. */
  currency: string;
  /** How many points were stored in the window (more than `points` holds when thinned). */
  count: number;
  /** `[ISO-8601 time, price]` pairs, oldest first. */
  points: [string, number][];
  /** These five are null when the window holds no points. */
  first: number | null;
  last: number | null;
  min: number | null;
  max: number | null;
  /** Change from the first to the last point in percent. */
  change_pct: number | null;
}

/** One currency prices can be shown in, as `CURRENCIES` lists it. */
export interface CurrencyInfo {
  /** Upper-case code, e.g. `VND`. */
  code: string;
  /** Name for a person, e.g. `Vietnamese đồng`. */
  name: string;
  /** How amounts are marked, e.g. `₫` or `sats`. */
  unit: string;
  /** `fiat`, `crypto` or `commodity`. */
  type: string;
}

/** The server answered with `"status":"ERROR"`; `message` is the server's text for a person. */
export class ServerError extends Error {
  override name = "ServerError";
  /** The protocol error code, e.g. `UNKNOWN_COIN`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
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

/** A request waiting for its reply line. */
interface Pending {
  resolve(value: unknown): void;
  reject(err: ConnectionError): void;
}

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
  /** Tail of the write chain; it never rejects. */
  #writes: Promise<void> = Promise.resolve();
  /** Requests written or being written, oldest first; replies are matched to them by order. */
  #pending: Pending[] = [];
  /** The read loop while it runs: it runs while a reply is due or updates are watched. */
  #reading: Promise<void> | undefined;
  /** Receivers of `update` events; while there are any, the read loop keeps reading. */
  #watchers = new Set<(coin: CoinView) => void>();
  /** Set once the connection is unusable; later requests fail with it. */
  #broken: ConnectionError | undefined;
  #closed = Promise.withResolvers<ConnectionError>();

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
   * Resolves, never rejects, once the connection is unusable: closed by {@linkcode close}, by
   * the server or by an error. The value says why.
   */
  get closed(): Promise<ConnectionError> {
    return this.#closed.promise;
  }

  /**
   * Sends one request object as a JSON line and returns the server's reply, which may be an
   * `ERROR` reply (use {@linkcode market}/{@linkcode marketAll} to get those thrown).
   * Concurrent requests are pipelined; replies are matched to requests by order, and `update`
   * events of {@linkcode watch} in between are told apart and never taken for a reply.
   *
   * @throws {ConnectionError} when the connection fails, times out or the reply is not protocol
   */
  request(body: Record<string, unknown>): Promise<Reply> {
    if (this.#broken) return Promise.reject(this.#broken);
    const line = encoder.encode(JSON.stringify(body) + "\n");
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.push({ resolve, reject });
    const written = this.#writes.then(() => this.#writeAll(line));
    this.#writes = written.catch((err) => {
      this.#fail(err instanceof ConnectionError ? err : this.#ioError(err));
    });
    this.#read();
    return this.#settle(promise);
  }

  /**
   * All coins in rank order, priced in `currency` (default USD).
   *
   * @throws {ServerError} when the server answers with an error, e.g. `NO_DATA`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async marketAll(currency?: string): Promise<CoinView[]> {
    const data = await this.#command(`MARKET ALL${currencySuffix(currency)}`);
    if (!Array.isArray(data) || !data.every(isCoinView)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a list of coins`);
    }
    return data;
  }

  /**
   * One coin by symbol (case-insensitive), priced in `currency` (default USD).
   *
   * @throws {RangeError} when `symbol` is empty, contains spaces or is `ALL`, or `currency` is
   * not a single word
   * @throws {ServerError} when the server answers with an error, e.g. `UNKNOWN_COIN`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async market(symbol: string, currency?: string): Promise<CoinView> {
    checkSymbol(symbol);
    const data = await this.#command(`MARKET ${symbol}${currencySuffix(currency)}`);
    if (!isCoinView(data)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a coin`);
    }
    return data;
  }

  /**
   * A coin's stored prices over `range` (default 24h), at most 200 points, oldest first.
   *
   * @throws {RangeError} for a bad symbol or range
   * @throws {ServerError} e.g. `UNKNOWN_COIN`, `NO_DATA`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async history(symbol: string, range: HistoryRange = "24h"): Promise<History> {
    checkSymbol(symbol);
    if (!isHistoryRange(range)) {
      throw new RangeError(
        `History range must be one of ${HISTORY_RANGES.join(", ")}, got "${range}"`,
      );
    }
    const data = await this.#command(`HISTORY ${symbol} ${range}`);
    if (!isHistory(data)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a price history`);
    }
    return data;
  }

  /**
   * The currencies prices can be shown in, USD first.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async currencies(): Promise<CurrencyInfo[]> {
    const data = await this.#command("CURRENCIES");
    if (!Array.isArray(data) || !data.every(isCurrencyInfo)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a list of currencies`);
    }
    return data;
  }

  /**
   * The server's report on itself (version, uptime, counters, ingestion, database, data), as
   * sent: fields may be added by newer servers.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async info(): Promise<Record<string, unknown>> {
    const data = await this.#command("INFO");
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a server report`);
    }
    return data as Record<string, unknown>;
  }

  /**
   * Asks the server for updates of `symbols` (at most {@linkcode MAX_WATCHED} per connection)
   * and returns their current coins. Until {@linkcode unwatch} stops all of them or the
   * connection closes, `onUpdate` is called with each coin the server pushes, in USD.
   *
   * @throws {RangeError} when `symbols` is empty, too long or holds a bad symbol
   * @throws {ServerError} e.g. `UNKNOWN_COIN`
   * @throws {ConnectionError} see {@linkcode request}
   */
  async watch(symbols: readonly string[], onUpdate: (coin: CoinView) => void): Promise<CoinView[]> {
    if (symbols.length === 0 || symbols.length > MAX_WATCHED) {
      throw new RangeError(`Watch takes 1 to ${MAX_WATCHED} coin symbols, got ${symbols.length}`);
    }
    symbols.forEach(checkSymbol);
    // Registered before the request, so an update right behind the reply is not missed.
    this.#watchers.add(onUpdate);
    let data: unknown;
    try {
      data = await this.#command(`WATCH ${symbols.join(" ")}`);
    } catch (err) {
      this.#watchers.delete(onUpdate);
      throw err;
    }
    if (!Array.isArray(data) || !data.every(isCoinView)) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a list of coins`);
    }
    return data;
  }

  /**
   * Stops updates of `symbols`, or of all when none are given, and returns the symbols still
   * watched. Once none are, no update callback is called any more.
   *
   * @throws {ServerError} when the server answers with an error
   * @throws {ConnectionError} see {@linkcode request}
   */
  async unwatch(symbols: readonly string[] = []): Promise<string[]> {
    symbols.forEach(checkSymbol);
    const data = await this.#command(["UNWATCH", ...symbols].join(" "));
    if (!Array.isArray(data) || !data.every((s) => typeof s === "string")) {
      throw this.#fail(`unexpected reply from ${this.address}: expected a list of symbols`);
    }
    if (data.length === 0) this.#watchers.clear();
    return data;
  }

  /** Closes the connection; pending and later requests fail with a {@linkcode ConnectionError}. */
  close(): void {
    this.#fail(new ConnectionError(`connection to ${this.address} is closed`));
  }

  /** Closes the connection and waits until no read of it is left running. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#reading;
  }

  async #command(command: string): Promise<unknown> {
    const reply = await this.request({ status: "OK", data: command, v: 2 });
    if (reply.status === "ERROR") throw new ServerError(reply.code, reply.data);
    return reply.data;
  }

  /** Starts the read loop unless it runs. */
  #read(): void {
    if (this.#reading !== undefined) return;
    this.#reading = this.#readLoop().finally(() => {
      this.#reading = undefined;
      // A request may have come in while the loop was finishing.
      if (this.#pending.length > 0 && !this.#broken) this.#read();
    });
  }

  /** Reads lines while replies are due or updates watched; hands replies and events out. */
  async #readLoop(): Promise<void> {
    try {
      while (!this.#broken && (this.#pending.length > 0 || this.#watchers.size > 0)) {
        const line = await this.#readLine();
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          throw new ConnectionError(`unexpected reply from ${this.address}: not JSON`);
        }
        if (isEvent(message)) {
          if (message.event === UPDATE_EVENT && isCoinView(message.data)) {
            for (const watcher of this.#watchers) watcher(message.data);
          }
          // Events of kinds this client does not know are skipped, as newer servers may add some.
          continue;
        }
        const pending = this.#pending.shift();
        if (pending === undefined) {
          throw new ConnectionError(`unexpected reply from ${this.address}: nothing was asked`);
        }
        pending.resolve(message);
      }
    } catch (err) {
      this.#fail(err instanceof ConnectionError ? err : this.#ioError(err));
    }
  }

  async #settle(reply: Promise<unknown>): Promise<Reply> {
    try {
      return parseReply(await withTimeout(reply, this.#timeoutMs), this.address);
    } catch (err) {
      if (err === TIMED_OUT) {
        // Closing the connection ends the pending read at once; wait for it so that no
        // operation outlives this call.
        this.#fail(`no reply from ${this.address} within ${this.#timeoutMs} ms`);
        await this.#reading;
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
      for (const pending of this.#pending.splice(0)) pending.reject(err);
      this.#watchers.clear();
      this.#closed.resolve(err);
    }
    return this.#broken;
  }
}

/** Throws a RangeError unless `symbol` can name one coin in a request. */
function checkSymbol(symbol: string): void {
  if (!isSymbol(symbol)) {
    throw new RangeError(`Coin symbol must be one word other than ALL, got "${symbol}"`);
  }
}

function currencySuffix(currency: string | undefined): string {
  if (currency === undefined) return "";
  if (!isCurrencyCode(currency.toUpperCase())) {
    throw new RangeError(`Currency must be a code of 2 to 10 letters, got "${currency}"`);
  }
  return ` ${currency.toUpperCase()}`;
}

/** A line the server pushed on its own, e.g. `{"status":"OK","event":"update","data":{...}}`. */
function isEvent(message: unknown): message is { event: unknown; data: unknown } {
  return typeof message === "object" && message !== null && !Array.isArray(message) &&
    "event" in message;
}

function parseReply(reply: unknown, address: string): Reply {
  if (typeof reply === "object" && reply !== null && "status" in reply) {
    const r = reply as Record<string, unknown>;
    if (r.status === "OK") return { status: "OK", data: r.data };
    if (r.status === "ERROR") {
      if (!isErrorCode(r.code)) {
        throw new ConnectionError(
          `unexpected reply from ${address}: unknown error code ${sample(String(r.code), 32)}`,
        );
      }
      return {
        status: "ERROR",
        code: r.code,
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

function isHistory(v: unknown): v is History {
  if (typeof v !== "object" || v === null) return false;
  const h = v as Record<string, unknown>;
  return typeof h.symbol === "string" && typeof h.range === "string" &&
    typeof h.currency === "string" && Array.isArray(h.points) &&
    h.points.every((p) => Array.isArray(p) && typeof p[0] === "string" && typeof p[1] === "number");
}

function isCurrencyInfo(v: unknown): v is CurrencyInfo {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.code === "string" && typeof c.name === "string" && typeof c.unit === "string" &&
    typeof c.type === "string";
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
