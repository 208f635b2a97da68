/**
 * Routes one parsed HTTP request to its answer: the JSON API, the health checks, the metrics,
 * and the plain-text views for curl. Every answer is an {@linkcode Answer} whose bytes are the
 * whole HTTP response, so the connection machinery treats HTTP as any other transport.
 *
 * @module
 */

import type { Answer, Market } from "../server/market.ts";
import type { ErrorCode } from "../wire/error_code.ts";
import type { HeadError, RequestHead } from "./request_head.ts";
import { parseTarget, type Target, type TargetError } from "./request_target.ts";
import { Representation, type Variant } from "./representation.ts";
import { type ApiResult, errorRep, MarketApi } from "./market_api.ts";
import { TextViews } from "./text_views.ts";
import { type CoinCatalog, CoinGeckoApi } from "./coingecko_api.ts";
import { webFile } from "./web_files.ts";
import { EXPOSITION_CONTENT_TYPE } from "../metrics/registry.ts";

/** Options of an {@linkcode HttpResponder}. */
export interface HttpOptions {
  readonly market: Market;
  /** Age past which `/readyz` answers 503 (`--stale-after`). */
  readonly staleAfterMs: number;
  /** How often the data is refreshed (`--interval`): `Cache-Control: max-age` ends then. */
  readonly refreshMs: number;
  /** `Access-Control-Allow-Origin` of API responses; empty sends none (`--cors-origin`). */
  readonly corsOrigin: string;
  /** The Prometheus text of `/metrics`; without it `/metrics` is 404. */
  readonly metrics?: () => string;
  /** The coin directory for `/api/v3` (`coins/list`, `search`, ids), when there is one. */
  readonly coinCatalog?: () => CoinCatalog | null;
}

const TEXT_TYPE = "Content-Type: text/plain; charset=utf-8\r\n";
const METRICS_TYPE = `Content-Type: ${EXPOSITION_CONTENT_TYPE}\r\n`;
const GZIP = /(?:^|,)\s*gzip\s*(?:,|$|;(?!\s*q\s*=\s*0(?:\.0*)?\s*(?:,|$)))/i;

/** Answers parsed requests; one per listener, shared by its connections. */
export class HttpResponder {
  readonly #options: HttpOptions;
  readonly #api: MarketApi;
  readonly #text: TextViews;
  readonly #gecko: CoinGeckoApi;
  readonly #cors: string;
  /** The snapshot whose refresh time is in `#refreshAt`, to parse its time once. */
  #refreshFor: unknown = null;
  /** What each head asks for, kept while the head is (a framer keeps its last one). */
  readonly #read = new WeakMap<RequestHead, { variant: Variant; target: Target | TargetError }>();
  #refreshAt = 0;

  /** Creates the responder of one listener. */
  constructor(options: HttpOptions) {
    this.#options = options;
    this.#cors = options.corsOrigin === ""
      ? ""
      : `Access-Control-Allow-Origin: ${options.corsOrigin}\r\n`;
    this.#api = new MarketApi(options.market, this.#cors);
    this.#text = new TextViews(this.#api);
    this.#gecko = new CoinGeckoApi(options.market, this.#cors, options.coinCatalog);
  }

  /**
   * The answer to one request; `now` is the read's clock, `address` the client's (`host:port`),
   * which bounds its on-demand fetches. Never throws.
   */
  respond(head: RequestHead, now: number, address = ""): Answer {
    // The framer passes a repeated head as the same object: what was read from it is kept.
    let read = this.#read.get(head);
    if (read === undefined) {
      read = { variant: variantOf(head), target: parseTarget(head.target) };
      this.#read.set(head, read);
    }
    const { variant, target } = read;
    if (target.kind === "error") {
      return this.#send(
        errorRep(400, "BAD_REQUEST", target.message, this.#cors),
        variant,
        now,
        "BAD_REQUEST",
      );
    }
    const result = this.#route(target, head, now, address);
    if (result === null) {
      const rep = errorRep(
        404,
        "NOT_FOUND",
        `No such path: see /api/v1/info and docs/http.md`,
        this.#cors,
      );
      return this.#send(rep, variant, now, null);
    }
    if ("later" in result) {
      const later = result.later.then((done) =>
        this.#send(done.rep, variant, now, done.error, done.command)
      );
      return { bytes: new Uint8Array(0), close: false, command: "HISTORY", error: null, later };
    }
    return this.#send(result.rep, variant, now, result.error, result.command);
  }

  /** The answer to a request that could not be parsed; the connection closes after it. */
  refuse(error: HeadError, now: number): Answer {
    const extra = Object.entries(error.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const rep = errorRep(error.status, "BAD_REQUEST", error.message, extra);
    const variant = { head: false, gzip: false, close: true, ifNoneMatch: undefined };
    return this.#send(rep, variant, now, "BAD_REQUEST");
  }

  /** The answer of the endpoint `target` names; `target` is the same object for a repeated head. */
  #route(target: Target, head: RequestHead, now: number, address: string): ApiResult | null {
    const { segments, query } = target;
    const [first] = segments;
    if (segments.length === 0 || (segments.length === 1 && !isReserved(first))) {
      const accept = (head.headers.get("accept") ?? "").toLowerCase();
      if (accept.includes("text/html")) {
        return { rep: webFile("/")!, error: null, command: "PAGE" };
      }
      if (accept.includes("application/json")) {
        return this.#api.answer(["coins", ...segments], query, now, target);
      }
      return this.#text.answer(segments[0], query, now);
    }
    if (first === "api" && segments[1] === "v1" && segments.length > 2) {
      return this.#api.answer(segments.slice(2), query, now, target);
    }
    if (first === "api" && segments[1] === "v3" && segments.length > 2) {
      return this.#gecko.answer(segments.slice(2), query, { now, address }, head.target);
    }
    const page = first === "web" && segments.length === 2 ? webFile(`/web/${segments[1]}`) : null;
    if (page) return { rep: page, error: null, command: "PAGE" };
    if (segments.length !== 1) return null;
    if (first === "healthz") return plain(200, "ok\n", "HEALTHZ");
    if (first === "readyz") return this.#ready();
    if (first === "metrics" && this.#options.metrics !== undefined) {
      return {
        rep: new Representation(200, METRICS_TYPE, this.#options.metrics(), false),
        error: null,
        command: "METRICS",
      };
    }
    if (first === "ws") {
      const message = "/ws speaks WebSocket: send Upgrade: websocket";
      const rep = errorRep(426, "BAD_REQUEST", message, "Upgrade: websocket\r\n");
      return { rep, error: "BAD_REQUEST", command: "WS" };
    }
    return null;
  }

  #ready(): ApiResult {
    const age = this.#options.market.ageMs;
    if (age === null) {
      return plain(
        503,
        "not ready: no data yet (the first ingestion has not succeeded)\n",
        "READYZ",
      );
    }
    const seconds = Math.round(age / 1000);
    const limit = Math.round(this.#options.staleAfterMs / 1000);
    if (age > this.#options.staleAfterMs) {
      return plain(
        503,
        `not ready: data is ${seconds} s old, older than --stale-after ${limit} s\n`,
        "READYZ",
      );
    }
    return plain(200, `ready: data is ${seconds} s old\n`, "READYZ");
  }

  #send(
    rep: Representation,
    variant: Variant,
    now: number,
    error: ErrorCode | "BAD_REQUEST" | null,
    command: string | null = null,
  ): Answer {
    return rep.answer(variant, now, this.#maxAge(now), command, error as ErrorCode | null);
  }

  /** Seconds until the next refresh is due, from the snapshot being served. */
  #maxAge(now: number): number {
    const snapshot = this.#options.market.snapshot;
    if (snapshot === null) return 0;
    if (snapshot !== this.#refreshFor) {
      this.#refreshFor = snapshot;
      this.#refreshAt = Date.parse(snapshot.fetchedAt) + this.#options.refreshMs;
    }
    return Math.floor((this.#refreshAt - now) / 1000);
  }
}

function variantOf(head: RequestHead): Variant {
  return {
    head: head.method === "HEAD",
    gzip: GZIP.test(head.headers.get("accept-encoding") ?? ""),
    close: !head.keepAlive,
    ifNoneMatch: head.headers.get("if-none-match"),
  };
}

/** Paths of one segment that are not coin symbols. */
function isReserved(segment: string): boolean {
  return segment === "healthz" || segment === "readyz" || segment === "metrics" ||
    segment === "ws" || segment === "api" || segment === "favicon.ico" || segment === "robots.txt";
}

function plain(status: number, text: string, command: string): ApiResult {
  return { rep: new Representation(status, TEXT_TYPE, text, false), error: null, command };
}
