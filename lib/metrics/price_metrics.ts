/**
 * The price server's metrics, gathered at scrape time from the counters the server, the market,
 * the provider chain, the ingestor and the cluster member already keep, so nothing is counted
 * twice. `docs/metrics.md` lists every metric.
 *
 * @module
 */

import { MetricRegistry, type Sample } from "./registry.ts";

/** One transport's counters, as the server keeps them (`tcp`, `tls`, `http`, `ws`, ...). */
export interface TransportCounters {
  readonly connectionsOpen: number;
  readonly connectionsServed: number;
  /** Requests answered, by command. */
  readonly requests: Readonly<Record<string, number>>;
  /** Error replies and refusals, by protocol error code. */
  readonly errors: Readonly<Record<string, number>>;
  /** WATCH update events queued to this transport's connections. */
  readonly eventsSent?: number;
  /** Bytes written to this transport's sockets. */
  readonly bytesOut?: number;
}

/** One provider's counts, as the provider chain keeps them. */
export interface ProviderCounters {
  readonly name: string;
  /** Ingestion rounds the provider was asked in. */
  readonly attempts: number;
  /** Rounds it failed in. */
  readonly failures: number;
  /** Requests by outcome: `ok`, an HTTP status, or `error`. */
  readonly calls: ReadonlyMap<string, number>;
}

/** Where the metrics come from; each is read at every scrape. */
export interface MetricSources {
  /** The server's counters by transport. */
  transports(): Iterable<readonly [string, TransportCounters]>;
  /** Connections watching at least one symbol. */
  watchers(): number;
  /** The market: the snapshot's age and size. */
  readonly market: {
    readonly ageMs: number | null;
    readonly snapshot: { readonly coins: readonly unknown[] } | null;
  };
  /** When the last ingestion succeeded (ISO-8601), or null. */
  lastSuccessAt(): string | null;
  /** The provider chain's counts; empty on a replica that never ingested. */
  providers(): readonly ProviderCounters[];
  /** The replica's role and leadership changes; null when not in a cluster. */
  cluster(): { readonly role: string; readonly leaderChanges: number } | null;
  /** Process memory; `Deno.memoryUsage` by default. */
  memory?: () => Deno.MemoryUsage;
}

const ROLES = ["single", "leader", "follower"];

/** Every metric of the server in the Prometheus text format 0.0.4. */
export function renderMetrics(sources: MetricSources): string {
  return metricRegistry(sources).render();
}

/** A registry whose families read `sources` at each render. */
export function metricRegistry(sources: MetricSources): MetricRegistry {
  const registry = new MetricRegistry();
  const byTransport = (pick: (counters: TransportCounters) => number | undefined) => () => {
    const samples: Sample[] = [];
    for (const [transport, counters] of sources.transports()) {
      const value = pick(counters);
      if (value !== undefined) samples.push({ labels: { transport }, value });
    }
    return samples;
  };
  const byKey =
    (pick: (c: TransportCounters) => Readonly<Record<string, number>>, key: string) => () => {
      const samples: Sample[] = [];
      for (const [transport, counters] of sources.transports()) {
        for (const [name, value] of Object.entries(pick(counters))) {
          samples.push({ labels: { [key]: name, transport }, value });
        }
      }
      return samples;
    };
  registry.collect(
    "crypto_connections_open",
    "Client connections open now, by transport.",
    "gauge",
    byTransport((c) => c.connectionsOpen),
  );
  registry.collect(
    "crypto_connections_served_total",
    "Client connections accepted since start, by transport.",
    "counter",
    byTransport((c) => c.connectionsServed),
  );
  registry.collect(
    "crypto_requests_total",
    "Requests answered, by command and transport.",
    "counter",
    byKey((c) => c.requests, "command"),
  );
  registry.collect(
    "crypto_errors_total",
    "Error replies and refusals, by protocol error code and transport.",
    "counter",
    byKey((c) => c.errors, "code"),
  );
  registry.collect(
    "crypto_watchers",
    "Connections watching at least one symbol.",
    "gauge",
    () => [{ value: sources.watchers() }],
  );
  registry.collect(
    "crypto_update_events_sent_total",
    "WATCH update events queued to connections, by transport.",
    "counter",
    byTransport((c) => c.eventsSent),
  );
  registry.collect(
    "crypto_sent_bytes_total",
    "Bytes written to client sockets, by transport.",
    "counter",
    byTransport((c) => c.bytesOut),
  );
  ingestionFamilies(registry, sources);
  return registry;
}

function ingestionFamilies(registry: MetricRegistry, sources: MetricSources): void {
  registry.collect(
    "crypto_ingestion_attempts_total",
    "Ingestion rounds each provider was asked in.",
    "counter",
    () =>
      sources.providers().map(({ name, attempts }) => ({
        labels: { provider: name },
        value: attempts,
      })),
  );
  registry.collect(
    "crypto_ingestion_failures_total",
    "Ingestion rounds each provider failed in.",
    "counter",
    () =>
      sources.providers().map(({ name, failures }) => ({
        labels: { provider: name },
        value: failures,
      })),
  );
  registry.collect(
    "crypto_upstream_requests_total",
    "Requests to price providers, by provider and status: ok, an HTTP status, or error.",
    "counter",
    () =>
      sources.providers().flatMap(({ name, calls }) =>
        [...calls].map(([status, value]) => ({ labels: { provider: name, status }, value }))
      ),
  );
  registry.collect(
    "crypto_last_ingestion_success_timestamp_seconds",
    "When the last ingestion succeeded, in seconds since the epoch; absent before the first.",
    "gauge",
    () => {
      const at = sources.lastSuccessAt();
      return at === null ? [] : [{ value: Date.parse(at) / 1000 }];
    },
  );
  registry.collect(
    "crypto_data_age_seconds",
    "Age of the snapshot being served; absent before the first.",
    "gauge",
    () => {
      const ageMs = sources.market.ageMs;
      return ageMs === null ? [] : [{ value: ageMs / 1000 }];
    },
  );
  registry.collect(
    "crypto_snapshot_coins",
    "Coins in the snapshot being served.",
    "gauge",
    () => [{ value: sources.market.snapshot?.coins.length ?? 0 }],
  );
  processFamilies(registry, sources);
}

function processFamilies(registry: MetricRegistry, sources: MetricSources): void {
  registry.collect(
    "crypto_cluster_role",
    "1 for this replica's role: single (no cluster), leader or follower.",
    "gauge",
    () => {
      const role = sources.cluster()?.role ?? "single";
      return ROLES.map((name) => ({ labels: { role: name }, value: name === role ? 1 : 0 }));
    },
  );
  registry.collect(
    "crypto_cluster_leader_changes_total",
    "Times this replica took or lost the cluster's leadership.",
    "counter",
    () => [{ value: sources.cluster()?.leaderChanges ?? 0 }],
  );
  const memory = sources.memory ?? (() => Deno.memoryUsage());
  registry.collect(
    "crypto_process_memory_bytes",
    "Process memory by kind: rss, heap_total, heap_used, external.",
    "gauge",
    () => {
      const { rss, heapTotal, heapUsed, external } = memory();
      return [
        { labels: { kind: "rss" }, value: rss },
        { labels: { kind: "heap_total" }, value: heapTotal },
        { labels: { kind: "heap_used" }, value: heapUsed },
        { labels: { kind: "external" }, value: external },
      ];
    },
  );
}
