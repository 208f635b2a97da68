/**
 * Admission: the connections open over every listener of a server, and the caps on them (in all,
 * and from one address).
 *
 * @module
 */

import { handshakeToDrop } from "../net/handshake_eviction.ts";

/** What admission needs to know of an open connection. */
export interface Admitted {
  /** The peer's address without the port: what the per-address cap counts. */
  readonly ip: string;
  /** Whether its TLS handshake is still under way. */
  readonly handshaking: boolean;
  /** Whether the server has decided to close it (it no longer counts as a candidate to drop). */
  readonly closing: boolean;
  /** TLS only: whether the server has answered its ClientHello. */
  helloAnswered(): boolean;
}

/** The caps admission keeps. */
export interface AdmissionCaps {
  /** Connections open at once. */
  readonly maxConnections: number;
  /** Connections open at once from one address; 0 = no cap. */
  readonly maxConnectionsPerAddress: number;
}

/** Admission's word on a newcomer. */
export type Admission = { readonly admitted: true } | {
  readonly admitted: false;
  /** Why, for the log and the client: "10 connections are open". */
  readonly reason: string;
};

const ADMITTED: Admission = Object.freeze({ admitted: true });

/** The open connections, oldest first, counted in all and by address, against the caps. */
export class Admissions<T extends Admitted> implements Iterable<T> {
  readonly #caps: AdmissionCaps;
  readonly #open = new Set<T>();
  readonly #perAddress = new Map<string, number>();

  constructor(caps: AdmissionCaps) {
    this.#caps = caps;
  }

  /** Connections open. */
  get size(): number {
    return this.#open.size;
  }

  /** Connections open from `ip`. */
  from(ip: string): number {
    return this.#perAddress.get(ip) ?? 0;
  }

  /**
   * When every place is taken, the unfinished TLS handshake to drop to make room for a TLS
   * newcomer (see {@linkcode handshakeToDrop}); undefined when there is room or none to drop.
   */
  toDropFor(tls: boolean): T | undefined {
    if (!tls || this.#open.size < this.#caps.maxConnections) return undefined;
    return handshakeToDrop(
      this.#open,
      (conn) => conn.handshaking && !conn.closing,
      (conn) => conn.helloAnswered(),
    );
  }

  /** Counts `conn` as open when the caps allow it; otherwise says why not. */
  admit(conn: T): Admission {
    const { maxConnections, maxConnectionsPerAddress } = this.#caps;
    if (this.#open.size >= maxConnections) {
      return { admitted: false, reason: `${maxConnections} connections are open` };
    }
    const fromAddress = this.from(conn.ip);
    if (maxConnectionsPerAddress > 0 && fromAddress >= maxConnectionsPerAddress) {
      return {
        admitted: false,
        reason: `${maxConnectionsPerAddress} connections are open from ${conn.ip}`,
      };
    }
    this.#open.add(conn);
    this.#perAddress.set(conn.ip, fromAddress + 1);
    return ADMITTED;
  }

  /** Stops counting `conn`; false when it was not counted. */
  remove(conn: T): boolean {
    if (!this.#open.delete(conn)) return false;
    const left = this.from(conn.ip) - 1;
    if (left <= 0) this.#perAddress.delete(conn.ip);
    else this.#perAddress.set(conn.ip, left);
    return true;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.#open[Symbol.iterator]();
  }
}
