/**
 * The footer and the freshness line, from `/api/v1/info`: where the prices come from, when they
 * were fetched, how each provider is doing and the server's role in a cluster, in plain words.
 *
 * @module
 */

import { formatAge, formatTime } from "../../text/format_time.ts";
import { byId, html, upstream } from "./dom.js";

/**
 * Writes the footer from an INFO report.
 *
 * @param {any} info
 */
export function showInfo(info) {
  const data = info?.data ?? {};
  const now = new Date();
  const fetched = typeof data.fetched_at === "string"
    ? `, fetched ${formatTime(data.fetched_at)} (${formatAge(data.fetched_at, now)})`
    : ", nothing fetched yet";
  byId("source").textContent = `Data from ${upstream(data.source ?? "no provider yet")}${fetched}` +
    `; server ${upstream(info?.version)}.`;
  const providers = Array.isArray(info?.providers) ? info.providers : [];
  byId("providers").textContent = providers.length === 0
    ? ""
    : `Providers: ${
      providers.map((p) => `${upstream(p.name)} ${providerWords(p, now)}`).join("; ")
    }.`;
  byId("cluster").textContent = clusterWords(info?.cluster);
}

/**
 * A provider's state for a person: `working`, `failing (2 in a row): <error>`, `paused after
 * failures, next try at 02:40 UTC`.
 *
 * @param {any} provider
 * @param {Date} now
 * @returns {string}
 */
export function providerWords(provider, now) {
  const failures = Number(provider.consecutive_failures) || 0;
  const error = typeof provider.last_error === "string" ? `: ${upstream(provider.last_error)}` : "";
  const retry = provider.retry_at ?? provider.wait_until;
  const next = typeof retry === "string" && Date.parse(retry) > now.getTime()
    ? `, next try at ${formatTime(retry)}`
    : "";
  switch (provider.state) {
    case "open":
      return `paused after ${failures} failures${next}${error}`;
    case "half-open":
      return `being tried again after failures${error}`;
    default:
      return failures === 0 ? `working${next}` : `failing (${failures} in a row)${next}${error}`;
  }
}

/**
 * The cluster role in words, or nothing for a single server.
 *
 * @param {any} cluster
 * @returns {string}
 */
function clusterWords(cluster) {
  if (cluster?.role === "leader") return "Cluster leader: this server fetches the prices.";
  if (cluster?.role === "follower") return "Cluster follower: prices come from the leader.";
  return "";
}

/**
 * The line above the table: when the prices were last fetched, and whether they are stale.
 *
 * @param {any[]} coins
 * @param {any} info  the last INFO report, whose view is fresher than the coins' (or null)
 */
export function showFreshness(coins, info) {
  const line = byId("freshness");
  const times = [...coins.map((c) => c.fetched_at), info?.data?.fetched_at]
    .map((t) => Date.parse(t)).filter(Number.isFinite);
  if (times.length === 0) {
    line.textContent = "No prices yet.";
    return;
  }
  const newest = new Date(Math.max(...times)).toISOString();
  const stale = typeof info?.data?.stale === "boolean"
    ? info.data.stale
    : coins.some((c) => c.stale === true);
  line.replaceChildren(`Prices fetched ${formatAge(newest, new Date())}`);
  if (stale) line.append(" — ", html("span", "stale-tag", "stale: the server has no newer prices"));
}
