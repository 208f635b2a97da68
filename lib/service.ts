/**
 * The whole server process, assembled: repository, market, ingestion and listener. `server.ts`
 * only parses flags and calls {@linkcode startService}; tests call it in-process.
 *
 * @module
 */

import { fetchMarkets } from "./coingecko.ts";
import type { ServerConfig } from "./config.ts";
import { Ingestor } from "./ingest.ts";
import { Market } from "./market.ts";
import { Repository } from "./repository.ts";
import { PriceServer } from "./server.ts";

/** A running service. */
export interface Service extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  readonly tls: boolean;
  readonly market: Market;
  readonly server: PriceServer;
  readonly ingestor: Ingestor;
  /** Stops accepting, finishes replies in flight, stops ingestion, closes the database. */
  shutdown(): Promise<void>;
  /** Resolves when the service has shut down. */
  readonly finished: Promise<void>;
}

/** What a service needs from its surroundings, injected so tests need no network. */
export interface ServiceDeps {
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

/** Starts listening at once, serving stored data, and starts ingestion in the background. */
export async function startService(config: ServerConfig, deps: ServiceDeps = {}): Promise<Service> {
  const log = deps.log ?? ((line: string) => console.log(line));
  const repository = Repository.open(config.db);
  try {
    const market = new Market({ staleAfterMs: config.staleAfterSeconds * 1000 });
    const stored = repository.loadSnapshot();
    if (stored !== null) {
      market.update(stored);
      log(`serving ${stored.coins.length} stored coins fetched at ${stored.fetchedAt}`);
    }
    const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
    const listener = tls
      ? Deno.listenTls({
        hostname: config.host,
        port: config.port,
        cert: await Deno.readTextFile(config.tlsCert!),
        key: await Deno.readTextFile(config.tlsKey!),
      })
      : Deno.listen({ hostname: config.host, port: config.port });
    const server = new PriceServer(listener, { market, tls, limits: config.limits, log });
    const addr = server.addr;
    log(`listening on ${addr.hostname}:${addr.port} (${tls ? "tls" : "tcp"})`);
    const finished = server.serve();

    const upstream = new URL(config.apiUrl).host;
    const ingestor = new Ingestor({
      fetchCoins: (signal) =>
        fetchMarkets({
          apiUrl: config.apiUrl,
          apiKey: config.apiKey,
          top: config.top,
          fetch: deps.fetch,
          signal,
        }),
      repository,
      onSnapshot: (snapshot) => market.update(snapshot),
      refreshMs: config.refreshSeconds * 1000,
      source: "coingecko",
      describeSource: upstream,
      log,
    });
    ingestor.start();

    let stopping: Promise<void> | null = null;
    const shutdown = () =>
      stopping ??= (async () => {
        await server.shutdown();
        await ingestor.stop();
        repository.close();
      })();
    return {
      addr,
      tls,
      market,
      server,
      ingestor,
      shutdown,
      finished: finished.then(() => shutdown()),
      [Symbol.asyncDispose]: shutdown,
    };
  } catch (error) {
    repository.close();
    throw error;
  }
}
