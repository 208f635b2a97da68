/**
 * The head of one HTTP/1.x request (request line and header fields), parsed from its text. Only
 * what a read-only server needs: GET and HEAD, no request body, no trailers.
 *
 * @module
 */

/** A request head the server accepted. */
export interface RequestHead {
  readonly kind: "head";
  /** `GET` or `HEAD`. */
  readonly method: "GET" | "HEAD";
  /** The request target as sent, absolute form reduced to its path and query. */
  readonly target: string;
  /** Whether the request is HTTP/1.1 (else HTTP/1.0). */
  readonly http11: boolean;
  /** Header fields by lower-case name; repeated fields joined with `, `. */
  readonly headers: ReadonlyMap<string, string>;
  /** Whether the connection stays open after the reply. */
  readonly keepAlive: boolean;
}

/** A request the server refuses; the connection is closed after the reply. */
export interface HeadError {
  readonly kind: "error";
  readonly status: number;
  /** A sentence for the client: what was wrong and what is expected. */
  readonly message: string;
  /** Extra header lines, e.g. `Allow: GET, HEAD` for 405. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The methods served; every other one is answered 405 with this list in `Allow`. */
export const ALLOWED_METHODS = "GET, HEAD";

/** A token (RFC 9110 §5.6.2): header names and methods. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible ASCII, obs-text, space and tab, no other control byte. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A request target: visible ASCII only. */
const TARGET = /^[\x21-\x7e]+$/;

function fail(status: number, message: string, headers?: Record<string, string>): HeadError {
  return { kind: "error", status, message, headers };
}

/**
 * Parses a request head: `text` is its bytes as Latin-1, without the blank line that ends it.
 * Lines end with CRLF or a bare LF. Never throws.
 */
export function parseRequestHead(text: string): RequestHead | HeadError {
  const lines = text.split("\n");
  const requestLine = trimCr(lines[0]);
  const parts = requestLine.split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0])) {
    return fail(400, "Cannot parse the request line: expected METHOD /path HTTP/1.1");
  }
  const [method, rawTarget, version] = parts;
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return /^HTTP\/\d\.\d$/.test(version)
      ? fail(505, `HTTP version ${version.slice(5)} is not supported: expected HTTP/1.1 or 1.0`)
      : fail(400, "Cannot parse the request line: expected METHOD /path HTTP/1.1");
  }
  const headers = new Map<string, string>();
  let contentLengths = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = trimCr(lines[i]);
    if (line.length === 0) continue;
    if (line[0] === " " || line[0] === "\t") {
      return fail(400, "Header lines folded over several lines are not accepted (RFC 9112 §5.2)");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      return fail(400, "Cannot parse a header line: expected Name: value");
    }
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) {
      return fail(400, "A header value holds a control character");
    }
    const key = name.toLowerCase();
    if (key === "content-length") contentLengths++;
    const previous = headers.get(key);
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  const body = refuseBody(headers, contentLengths);
  if (body !== null) return body;
  if (method !== "GET" && method !== "HEAD") {
    return fail(405, `Method ${method} is not allowed: this server answers ${ALLOWED_METHODS}`, {
      Allow: ALLOWED_METHODS,
    });
  }
  const http11 = version === "HTTP/1.1";
  if (http11 && !headers.has("host")) {
    return fail(400, "An HTTP/1.1 request needs a Host header");
  }
  const target = originForm(rawTarget);
  if (target === null) {
    return fail(400, "Cannot parse the request target: expected a path such as /api/v1/coins");
  }
  const connection = (headers.get("connection") ?? "").toLowerCase();
  const keepAlive = http11 ? !hasToken(connection, "close") : hasToken(connection, "keep-alive");
  return { kind: "head", method, target, http11, headers, keepAlive };
}

/** The 400 for a request that announces a body, or null when it announces none. */
function refuseBody(headers: Map<string, string>, contentLengths: number): HeadError | null {
  if (headers.has("transfer-encoding")) {
    return fail(400, "Requests with Transfer-Encoding are not accepted: this server reads no body");
  }
  const length = headers.get("content-length");
  if (length === undefined) return null;
  if (contentLengths > 1 || !/^\d+$/.test(length)) {
    return fail(400, "Content-Length must be given once, as digits");
  }
  if (Number(length) > 0) {
    return fail(400, "Requests with a body are not accepted: send GET or HEAD without one");
  }
  return null;
}

/** The path and query of a target in origin or absolute form, or null when it is neither. */
function originForm(target: string): string | null {
  if (!TARGET.test(target)) return null;
  if (target[0] === "/") return target;
  const absolute = /^https?:\/\/[^/?#]+/i.exec(target);
  if (absolute === null) return null;
  const rest = target.slice(absolute[0].length);
  return rest === "" ? "/" : rest[0] === "/" ? rest : rest[0] === "?" ? `/${rest}` : null;
}

/** Whether a comma-separated header value (lower case) lists `token`. */
export function hasToken(value: string, token: string): boolean {
  if (value.length === 0) return false;
  return value.split(",").some((part) => part.trim() === token);
}

function trimCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
