/**
 * The server's counters, kept per transport, with totals over every transport for the report.
 *
 * @module
 */

/** Counters of one transport ("tcp", "tls", "http", ...). */
export interface TransportStats {
  connectionsOpen: number;
  connectionsServed: number;
  /** Requests by command (`MARKET`, `CLOSE`, ...). */
  requests: Record<string, number>;
  /** Errors by code (`BAD_REQUEST`, `BUSY`, ...). */
  errors: Record<string, number>;
  /** WATCH update events queued, for the metrics. */
  eventsSent: number;
  /** Bytes queued to the sockets (replies, events, keep-alives), for the metrics. */
  bytesOut: number;
}

function addInto(total: Record<string, number>, counts: Record<string, number>): void {
  for (const key in counts) total[key] = (total[key] ?? 0) + counts[key];
}

/** Adds one to `counters[key]`. */
export function count(counters: Record<string, number>, key: string): void {
  counters[key] = (counters[key] ?? 0) + 1;
}

/**
 * Counters for the server report: each connection counts into its transport's
 * {@linkcode TransportStats}; the totals add them up when read.
 */
export class ServerStats {
  /** Counters by transport name, created on first use. */
  readonly byTransport: Record<string, TransportStats> = {};

  /** The counters of `transport`, created empty on first use. */
  of(transport: string): TransportStats {
    return this.byTransport[transport] ??= {
      connectionsOpen: 0,
      connectionsServed: 0,
      requests: {},
      errors: {},
      eventsSent: 0,
      bytesOut: 0,
    };
  }

  /** Connections open now, over every transport. */
  get connectionsOpen(): number {
    let n = 0;
    for (const name in this.byTransport) n += this.byTransport[name].connectionsOpen;
    return n;
  }

  /** Connections accepted since start, over every transport. */
  get connectionsServed(): number {
    let n = 0;
    for (const name in this.byTransport) n += this.byTransport[name].connectionsServed;
    return n;
  }

  /** Requests by command, over every transport (a new object each time). */
  get requests(): Record<string, number> {
    const total: Record<string, number> = {};
    for (const name in this.byTransport) addInto(total, this.byTransport[name].requests);
    return total;
  }

  /** Errors by code, over every transport (a new object each time). */
  get errors(): Record<string, number> {
    const total: Record<string, number> = {};
    for (const name in this.byTransport) addInto(total, this.byTransport[name].errors);
    return total;
  }
}
