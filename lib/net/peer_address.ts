/**
 * Who is at the other end of a connection, for logs and for the per-address connection cap.
 *
 * @module
 */

import type { Conn } from "./conn.ts";

/** The peer's address for logs (`host:port`) and the part the per-address cap counts. */
function describeAddress(addr: Deno.Addr): { address: string; ip: string } {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return { address: `${host}:${addr.port}`, ip: addr.hostname };
  }
  return { address: addr.transport, ip: addr.transport };
}

/** The peer's address of `conn`, or "unknown" when the socket is already gone. */
export function describePeer(conn: Conn): { address: string; ip: string } {
  try {
    return describeAddress(conn.remoteAddr);
  } catch {
    return { address: "unknown", ip: "unknown" };
  }
}
