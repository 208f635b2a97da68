/**
 * The part of `Deno.Conn` and `Deno.Listener` a server uses, so that a TLS connection of another
 * implementation (`tls_listener.ts`) or a test's fake is served the same way.
 *
 * @module
 */

/** A connection: the `Deno.Conn` methods a server uses, and the TLS handshake when there is one. */
export type Conn = Pick<Deno.Conn, "read" | "write" | "close" | "closeWrite" | "remoteAddr"> & {
  /** TLS only: resolves once the handshake is done. */
  handshake?(): Promise<unknown>;
  /**
   * TLS only: whether the server has answered the peer's ClientHello. Peers that have not (silent
   * or half a ClientHello) are the first dropped to make room for a newcomer.
   */
  helloAnswered?(): boolean;
  /** TCP only. */
  setNoDelay?(noDelay?: boolean): void;
};

/** The part of `Deno.Listener` a server uses. */
export interface Listener {
  accept(): Promise<Conn>;
  close(): void;
  readonly addr: Deno.Addr;
}
