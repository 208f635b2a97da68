/**
 * The service's listeners: the socket protocol's port (TCP, or TLS with a certificate) and, unless
 * `--no-http`, the HTTP port beside it (HTTP/1.1, the WebSocket upgrade, `/metrics`, health),
 * both served by one {@linkcode PriceServer} so that they share its connection caps.
 *
 * @module
 */

import type { ServerConfig } from "./config.ts";
import type { Log } from "../util/log.ts";
import type { Market } from "../server/market.ts";
import { PriceServer, type ServedListener } from "../server/price_server.ts";
import type { Listener } from "../net/conn.ts";
import { listenTlsSockets, TLS_SOCKET_MARGIN } from "../net/tls_listener.ts";
import { HttpResponder } from "../http/http_responder.ts";
import type { CoinCatalog } from "../http/coingecko_api.ts";
import { httpSessions } from "../http/http_session.ts";
import { webSocketSessions } from "../http/websocket_session.ts";
import { ListenError } from "./listen_error.ts";

/** Whether the server speaks TLS (and HTTPS): both a certificate and its key are given. */
export function usesTls(config: ServerConfig): boolean {
  return config.tlsCert !== undefined && config.tlsKey !== undefined;
}

/**
 * Opens the ports and the server on them. `metrics` is read at each `GET /metrics`: it is bound
 * late, as it reads parts of the service built after the listeners. `coinCatalog` is the coin
 * directory `/api/v3` names coins by, read at each request (null until one is loaded).
 */
export async function openListeners(
  config: ServerConfig,
  market: Market,
  log: Log,
  metrics: () => string,
  coinCatalog?: () => CoinCatalog | null,
): Promise<PriceServer> {
  const tls = usesTls(config);
  const open = opener(config, log);
  const at = { hostname: config.host, port: config.port, ...reusePort(config.reusePort) };
  const listener = await listenOn(open, at);
  const listeners: ServedListener[] = [{ listener, tls }];
  if (config.http !== null) {
    const responder = new HttpResponder({
      market,
      staleAfterMs: config.staleAfterSeconds * 1000,
      refreshMs: config.refreshSeconds * 1000,
      corsOrigin: config.http.corsOrigin,
      metrics,
      coinCatalog,
    });
    const httpAt = { hostname: config.http.host, port: config.http.port };
    const http = await listenOn(open, { ...httpAt, ...reusePort(config.reusePort) })
      .catch((error) => {
        listener.close();
        throw error;
      });
    const webSocket = webSocketSessions(market);
    const sessions = httpSessions(responder, (_head, context) => webSocket(context));
    listeners.push({ listener: http, tls, sessions });
  }
  return new PriceServer(listeners, { market, tls, limits: config.limits, log });
}

/** The address of the HTTP listener, or null without one. */
export function httpAddress(config: ServerConfig, server: PriceServer): Deno.NetAddr | null {
  return config.http === null ? null : server.addrs[1];
}

type Address = { hostname: string; port: number; reusePort?: true };

/** Opens `at`, naming the address when it fails: the service opens more than one. */
async function listenOn(open: (at: Address) => Promise<Listener>, at: Address): Promise<Listener> {
  try {
    return await open(at);
  } catch (error) {
    throw new ListenError(at.hostname, at.port, { cause: error });
  }
}

/** Listens in plain TCP, or TLS through node:tls, whose unfinished handshakes can be dropped. */
function opener(config: ServerConfig, log: Log): (at: Address) => Promise<Listener> {
  if (!usesTls(config)) return (at) => Promise.resolve(Deno.listen(at));
  return async (at) =>
    listenTlsSockets({
      ...at,
      cert: await Deno.readTextFile(config.tlsCert!),
      key: await Deno.readTextFile(config.tlsKey!),
      maxSockets: config.limits.maxConnections + TLS_SOCKET_MARGIN,
      log,
    });
}

/**
 * `SO_REUSEPORT` for `Deno.listen`. Deno exits the process (code 70) when it is asked for without
 * `--unstable-net`, so that is checked first (the flag also brings `Deno.listenDatagram`).
 */
function reusePort(wanted: boolean): { reusePort?: true } {
  if (!wanted) return {};
  if (typeof (Deno as { listenDatagram?: unknown }).listenDatagram !== "function") {
    throw new Error("--reuse-port needs Deno's --unstable-net flag (deno task server has it)");
  }
  return { reusePort: true };
}
