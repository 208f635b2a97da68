/**
 * Three real replicas on one PostgreSQL and a fake upstream, serving, behind HAProxy's TCP and
 * HTTP fronts: what the HAProxy tests start before each asks its own question.
 *
 * @module
 */

import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { PostgresCluster } from "../postgres_cluster.ts";
import { Replicas } from "./_replicas.ts";
import { HaProxy } from "./_haproxy.ts";

/** The replicas, their proxy and the leader; disposing stops all of it, the proxy first. */
export interface ProxiedReplicas extends AsyncDisposable {
  replicas: Replicas;
  proxy: HaProxy;
  /** The leader's index once the replicas serve. */
  leader: number;
}

/** Starts the database, the upstream, three replicas (waiting until they serve) and HAProxy. */
export async function startProxiedReplicas(): Promise<ProxiedReplicas> {
  // Whatever started is stopped if a later step throws; on success the caller owns it all.
  await using started = new AsyncDisposableStack();
  const pg = started.use(await PostgresCluster.start());
  const upstream = started.use(await startFakeUpstream());
  const replicas = started.use(await Replicas.start(3, pg.url, upstream));
  const leader = await replicas.serving();
  const proxy = started.use(await HaProxy.start(replicas.ports, replicas.httpPorts));
  const owned = started.move();
  return { replicas, proxy, leader, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}
