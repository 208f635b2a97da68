/**
 * Closing a connection without destroying the last reply written to it.
 *
 * @module
 */

import type { Conn } from "./conn.ts";
import { writeAll } from "./write_all.ts";

/** How long a peer gets to take a last reply, or to stop sending, before the socket is closed. */
export const FAREWELL_MS = 1000;
/** Bytes read and dropped from a peer that goes on sending after our side closed, at most. */
const DRAIN_BYTES = 4 * 1024 * 1024;

/** Closes `conn`, which may already be closed. */
export function closeQuietly(conn: Pick<Conn, "close">): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * Closes our side, then reads and drops what the peer is still sending for a moment: closing
 * with unread bytes makes the kernel send a reset, which can destroy the reply just written.
 */
export async function lingeringClose(conn: Conn, timeoutMs = FAREWELL_MS): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    await conn.closeWrite();
    const sink = new Uint8Array(32 * 1024);
    let drained = 0;
    while (drained < DRAIN_BYTES) {
      const n = await conn.read(sink);
      if (n === null) break;
      drained += n;
    }
  } catch {
    // The peer reset or the timer closed the connection: either way, done.
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes a last reply if the peer takes it within `timeoutMs`, then closes: never waits on a
 * stuck peer. Nothing to write closes at once.
 */
export function writeThenClose(conn: Conn, bytes: Uint8Array, timeoutMs = FAREWELL_MS): void {
  if (bytes.length === 0) {
    closeQuietly(conn);
    return;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    closeQuietly(conn);
  };
  const timer = setTimeout(close, timeoutMs);
  writeAll(conn, bytes).then(close, close);
}
