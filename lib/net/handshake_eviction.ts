/**
 * Which unfinished TLS handshake makes room for a newcomer when there is none left.
 *
 * @module
 */

/**
 * The handshake to drop to make room, or undefined when none is pending: the oldest whose
 * ClientHello the server has not answered (a silent peer, or one that sent half a ClientHello),
 * else the oldest pending one. A real handshake takes milliseconds, so a flood of clients that
 * never finish theirs cannot lock out a proper client, and a silent flood never drops one.
 *
 * @param oldestFirst the connections, oldest first
 * @param pending whether a connection's handshake is neither done nor dropped
 * @param helloAnswered whether the server has answered a connection's ClientHello
 */
export function handshakeToDrop<T>(
  oldestFirst: Iterable<T>,
  pending: (conn: T) => boolean,
  helloAnswered: (conn: T) => boolean,
): T | undefined {
  let oldest: T | undefined;
  for (const conn of oldestFirst) {
    if (!pending(conn)) continue;
    if (!helloAnswered(conn)) return conn;
    oldest ??= conn;
  }
  return oldest;
}
